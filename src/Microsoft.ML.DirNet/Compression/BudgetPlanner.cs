namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Splits a byte budget over matrix groups from each group's measured size/error ladder. Every ladder ends at the
/// group's dense size with zero error (a group may stay dense). The result never exceeds the budget.
/// </summary>
internal static class BudgetPlanner
{
    /// <summary>A group's ladder with its dense fallback, bytes ascending.</summary>
    public static IReadOnlyList<FitPoint> EffectiveLadder(GroupFit fit) =>
        fit.Ladder.Where(p => p.Bytes < fit.Group.DenseBytes).Append(new FitPoint(fit.Group.DenseBytes, 0)).ToArray();

    public static long[] Allocate(IReadOnlyList<GroupFit> fits, long budget, BudgetAllocation allocation) => allocation switch
    {
        BudgetAllocation.Uniform => Uniform(fits, budget),
        BudgetAllocation.EqualError => EqualError(fits, budget),
        _ => ErrorPerByte(fits, budget),
    };

    private static long[] Uniform(IReadOnlyList<GroupFit> fits, long budget)
    {
        var dense = fits.Sum(f => (double)f.Group.DenseBytes);
        return fits.Select(f => (long)Math.Clamp(f.Group.DenseBytes * budget / dense, f.MinimumBytes, f.Group.DenseBytes)).ToArray();
    }

    /// <summary>Bisection on a common relative error ε: each group takes the fewest bytes reaching ε.</summary>
    private static long[] EqualError(IReadOnlyList<GroupFit> fits, long budget)
    {
        var ladders = fits.Select(EffectiveLadder).ToArray();
        long[] At(double epsilon) => fits.Select((f, g) => BytesFor(ladders[g], epsilon * epsilon * f.Group.Energy)).ToArray();
        double low = 0, high = 1;
        var best = At(high);
        for (var i = 0; i < 60; i++)
        {
            var mid = (low + high) / 2;
            var bytes = At(mid);
            if (bytes.Sum() <= budget)
            {
                (best, high) = (bytes, mid);
            }
            else
            {
                low = mid;
            }
        }

        return best;
    }

    /// <summary>The fewest bytes on the ladder whose squared error is at most <paramref name="target"/> (interpolated).</summary>
    private static long BytesFor(IReadOnlyList<FitPoint> ladder, double target)
    {
        if (ladder[0].SquaredError <= target)
        {
            return ladder[0].Bytes;
        }

        for (var i = 1; i < ladder.Count; i++)
        {
            if (ladder[i].SquaredError <= target)
            {
                var (a, b) = (ladder[i - 1], ladder[i]);
                var t = (a.SquaredError - target) / Math.Max(1e-300, a.SquaredError - b.SquaredError);
                return (long)Math.Ceiling(a.Bytes + t * (b.Bytes - a.Bytes));
            }
        }

        return ladder[^1].Bytes;
    }

    /// <summary>
    /// Greedy on the lower convex hulls of the ladders, with error weighted by <see cref="GroupFit.ErrorWeight"/> (by
    /// default relative squared error × parameters):
    /// repeatedly buy the hull segment with the largest error drop per byte; the last one partly if it does not fit.
    /// </summary>
    private static long[] ErrorPerByte(IReadOnlyList<GroupFit> fits, long budget)
    {
        var hulls = fits.Select(f => LowerHull(EffectiveLadder(f).Select(p => (p.Bytes, p.SquaredError * f.ErrorWeight)).ToArray())).ToArray();
        var position = new int[fits.Count];
        var bytes = hulls.Select(h => (double)h[0].Bytes).ToArray();
        var left = budget - bytes.Sum();
        while (left > 0)
        {
            int bestGroup = -1;
            var bestSlope = 0.0;
            for (var g = 0; g < fits.Count; g++)
            {
                var h = hulls[g];
                if (position[g] + 1 >= h.Length)
                {
                    continue;
                }

                var (a, b) = (h[position[g]], h[position[g] + 1]);
                var slope = (a.Error - b.Error) / Math.Max(1, b.Bytes - a.Bytes);
                if (slope > bestSlope || (bestGroup < 0 && slope >= 0))
                {
                    (bestGroup, bestSlope) = (g, slope);
                }
            }

            if (bestGroup < 0)
            {
                break;
            }

            var next = hulls[bestGroup][position[bestGroup] + 1].Bytes;
            var cost = next - bytes[bestGroup];
            if (cost <= left)
            {
                bytes[bestGroup] = next;
                position[bestGroup]++;
                left -= (long)cost;
            }
            else
            {
                bytes[bestGroup] += left;
                left = 0;
            }
        }

        return bytes.Select(b => (long)b).ToArray();
    }

    private static (long Bytes, double Error)[] LowerHull((long Bytes, double Error)[] points)
    {
        var hull = new List<(long Bytes, double Error)>();
        foreach (var p in points)
        {
            while (hull.Count >= 2)
            {
                var (a, b) = (hull[^2], hull[^1]);
                // Drop b if it lies on or above the segment a–p (its slope from a is not steeper).
                var cross = (b.Bytes - a.Bytes) * (p.Error - a.Error) - (b.Error - a.Error) * (double)(p.Bytes - a.Bytes);
                if (cross <= 0)
                {
                    hull.RemoveAt(hull.Count - 1);
                }
                else
                {
                    break;
                }
            }

            hull.Add(p);
        }

        return hull.ToArray();
    }
}
