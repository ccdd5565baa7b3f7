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

    /// <summary>
    /// The factor the budget planner multiplies this group's squared errors by to compare them with other groups'.
    /// Default rows × columns / ‖W‖²_F: relative squared error weighted by size, so a matrix's scale does not matter.
    /// </summary>
    public virtual double ErrorWeight => Group.Energy > 0 ? (double)Group.Rows * Group.Columns / Group.Energy : 0;

    /// <summary>The members' matrices at a budget in their own input basis (what <see cref="Build"/> fits, mapped back).</summary>
    internal virtual IReadOnlyList<CompressedMatrix> BuildMapped(long budgetBytes) => Group.MapBack(Build(budgetBytes));

    /// <summary>The smallest size the method can produce.</summary>
    public long MinimumBytes => Ladder[0].Bytes;

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
