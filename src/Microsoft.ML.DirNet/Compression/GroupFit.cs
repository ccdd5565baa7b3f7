namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// One method's analysis of one <see cref="MatrixGroup"/>: the size/error trade-off it can reach (a ladder of measured
/// points, used by the planner) and the compressed matrices for a byte budget.
/// </summary>
internal abstract class GroupFit(MatrixGroup group)
{
    public MatrixGroup Group => group;

    /// <summary>(bytes, ‖W − Ŵ‖²_F) points the method reaches, bytes ascending, error non-increasing.</summary>
    public abstract IReadOnlyList<FitPoint> Ladder { get; }

    /// <summary>The members' compressed matrices using at most <paramref name="budgetBytes"/> in all (at least the ladder's first point).</summary>
    public abstract IReadOnlyList<CompressedMatrix> Build(long budgetBytes);

    /// <summary>The smallest size the method can produce.</summary>
    public long MinimumBytes => Ladder[0].Bytes;

    /// <summary>The largest useful size (where error stops falling).</summary>
    public long MaximumBytes => Ladder[^1].Bytes;

    /// <summary>Squared error at a budget, interpolated linearly between ladder points.</summary>
    public double SquaredErrorAt(long bytes)
    {
        var ladder = Ladder;
        if (bytes <= ladder[0].Bytes)
        {
            return ladder[0].SquaredError;
        }

        for (var i = 1; i < ladder.Count; i++)
        {
            if (bytes <= ladder[i].Bytes)
            {
                var t = (double)(bytes - ladder[i - 1].Bytes) / Math.Max(1, ladder[i].Bytes - ladder[i - 1].Bytes);
                return ladder[i - 1].SquaredError + t * (ladder[i].SquaredError - ladder[i - 1].SquaredError);
            }
        }

        return ladder[^1].SquaredError;
    }

    /// <summary>Keeps the points that lower the error as bytes grow (a monotone ladder).</summary>
    protected static IReadOnlyList<FitPoint> Monotone(IEnumerable<FitPoint> points)
    {
        var result = new List<FitPoint>();
        foreach (var p in points.OrderBy(p => p.Bytes).ThenBy(p => p.SquaredError))
        {
            if (result.Count == 0 || p.SquaredError < result[^1].SquaredError)
            {
                if (result.Count > 0 && result[^1].Bytes == p.Bytes)
                {
                    result[^1] = p;
                }
                else
                {
                    result.Add(p);
                }
            }
        }

        return result;
    }
}

/// <summary>A size a method reaches on a group, and the squared Frobenius error there.</summary>
internal readonly record struct FitPoint(long Bytes, double SquaredError);
