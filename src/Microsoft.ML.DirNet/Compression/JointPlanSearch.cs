namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Refines the auto method's plan on the model's output with every matrix changed at once. The planner adds up
/// one-matrix-at-a-time scores, and errors in several matrices do not add up so simply. So this class scores whole
/// plans: the planner's own, every single configuration that fits the budget (the same kind on every matrix: each
/// whole-matrix precision and group, and each low-rank factor precision with the budget split by dense size), and then
/// local moves from the best of them. A move takes one matrix one step up or down its ladder and, where the budget needs
/// it, moves one other matrix the other way. The best plan so scored is kept (or, given a final divergence, the best
/// of the few best on it), so the result is never worse on the probe sets than the planner's plan or any single
/// configuration within the budget (on the final sets: than any finalist, the best single configurations among them).
/// </summary>
/// <remarks>
/// Moves are tried in the order the per-matrix scores predict to be best, and the first one that lowers the joint
/// divergence is taken; the search stops when no move does, or after <see cref="MaxEvaluations"/> plans. With a final
/// divergence on more inputs, the <see cref="Finalists"/> best plans and the <see cref="SingleFinalists"/> best single
/// configurations are scored again by it and the best of them kept: the best of 40 plans on a few inputs is partly the
/// best for those inputs' noise. Deterministic: ties are broken by
/// matrix and candidate order, then by the order plans were scored.
/// </remarks>
internal static class JointPlanSearch
{
    /// <summary>Most whole plans the search scores (each one runs the model on every probe set).</summary>
    internal const int MaxEvaluations = 40;

    /// <summary>How many of the best plans the final divergence compares again.</summary>
    internal const int Finalists = 4;

    /// <summary>
    /// How many of the best single configurations the final divergence compares too, among the best plans or not: they
    /// are the peers auto is judged against, and a few inputs' noise must not keep them from the final choice.
    /// </summary>
    internal const int SingleFinalists = 2;

    /// <summary>The plan (one index into each fit's <see cref="AutoFit.Choices"/>) of least joint divergence found.</summary>
    /// <param name="fits">The matrices' fits, their candidates scored.</param>
    /// <param name="budget">The bytes all the matrices may take.</param>
    /// <param name="planned">The planner's plan.</param>
    /// <param name="divergence">The model's output divergence with every matrix at its choice of a plan.</param>
    /// <param name="final">The same divergence on more inputs, for the choice among the <see cref="Finalists"/> best plans and <see cref="SingleFinalists"/> best single configurations; null: the best by <paramref name="divergence"/>.</param>
    /// <param name="progress">Called with (plans scored, <see cref="MaxEvaluations"/>).</param>
    /// <param name="cancellationToken">Stops the search between plans.</param>
    public static int[] Search(IReadOnlyList<AutoFit> fits, long budget, int[] planned, Func<int[], double> divergence,
        Func<int[], double>? final = null, Action<int, int>? progress = null, CancellationToken cancellationToken = default)
    {
        var (best, scored) = Explore(fits, budget, planned, divergence, progress, cancellationToken);
        if (final is null)
        {
            return best;
        }

        // Scores are compared with the order they were found in as the tie-break, so the search's own best wins ties.
        var ranked = scored.Select((p, order) => (p.Plan, p.Score, p.Single, order)).OrderBy(p => p.Score).ThenBy(p => p.order).ToArray();
        var singles = ranked.Where(p => p.Single).Take(SingleFinalists).Select(p => p.order).ToHashSet();
        var finalists = ranked.Where((p, rank) => rank < Finalists || singles.Contains(p.order));
        return finalists.Select(f =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            return (f.Plan, Score: final(f.Plan));
        }).MinBy(f => f.Score).Plan;
    }

    /// <summary>The search itself: the best plan by <paramref name="divergence"/>, and every plan scored with its score, in the order scored.</summary>
    private static (int[] Best, List<(int[] Plan, double Score, bool Single)> Scored) Explore(IReadOnlyList<AutoFit> fits, long budget, int[] planned,
        Func<int[], double> divergence, Action<int, int>? progress, CancellationToken cancellationToken)
    {
        var choices = fits.Select(f => f.Choices).ToArray();
        var scored = new Dictionary<string, double>();
        var order = new List<(int[] Plan, double Score, bool Single)>();
        long Bytes(int[] plan) => plan.Select((c, g) => choices[g][c].Bytes).Sum();
        double Predicted(int[] plan) => plan.Select((c, g) => choices[g][c].Error).Sum();
        bool Full() => scored.Count >= MaxEvaluations;
        double Score(int[] plan, bool single = false)
        {
            var key = string.Join(",", plan);
            if (!scored.TryGetValue(key, out var value))
            {
                cancellationToken.ThrowIfCancellationRequested();
                value = divergence(plan);
                scored[key] = value;
                order.Add((plan, value, single));
                progress?.Invoke(scored.Count, MaxEvaluations);
            }

            return value;
        }

        var best = planned;
        var bestScore = Score(planned);
        foreach (var start in SingleConfigurations(fits, budget).Where(p => Bytes(p) <= budget))
        {
            if (Full())
            {
                break;
            }

            var score = Score(start, single: true);
            if (score < bestScore)
            {
                (best, bestScore) = (start, score);
            }
        }

        var ladders = fits.Select(f => Pareto(f.Choices)).ToArray();
        var improved = true;
        while (improved && !Full())
        {
            improved = false;
            foreach (var move in Moves(best, ladders, choices, budget).OrderBy(Predicted))
            {
                if (Full())
                {
                    break;
                }

                if (scored.ContainsKey(string.Join(",", move)))
                {
                    continue;
                }

                var score = Score(move);
                if (score < bestScore)
                {
                    (best, bestScore, improved) = (move, score, true);
                    break;
                }
            }
        }

        progress?.Invoke(MaxEvaluations, MaxEvaluations);
        return (best, order);
    }

    /// <summary>
    /// Every kind of candidate on every matrix: a whole-matrix kind as it is; a low-rank kind at the largest rank within
    /// each matrix's share of the budget (its share of the dense bytes).
    /// </summary>
    internal static IEnumerable<int[]> SingleConfigurations(IReadOnlyList<AutoFit> fits, long budget)
    {
        var dense = fits.Sum(f => (double)f.Group.DenseBytes);
        var kinds = fits.Select(f => f.Choices.Select(c => c.Kind).ToHashSet()).Aggregate((a, b) => [.. a.Intersect(b)]);
        foreach (var kind in fits[0].Choices.Select(c => c.Kind).Distinct().Where(kinds.Contains))
        {
            var plan = new int[fits.Count];
            for (var g = 0; g < fits.Count && plan is not null; g++)
            {
                var share = budget * fits[g].Group.DenseBytes / dense;
                var options = fits[g].Choices.Select((c, i) => (c, i)).Where(p => p.c.Kind == kind).ToArray();
                var within = options.Where(p => p.c.Bytes <= share).ToArray();
                // A kind with one candidate per matrix (a whole-matrix precision) is taken as it is; the plan's bytes decide.
                var pick = options.Length == 1 ? options[0] : within.Length > 0 ? within.MaxBy(p => p.c.Bytes) : ((AutoChoice, int)?)null;
                if (pick is { } p)
                {
                    plan[g] = p.Item2;
                }
                else
                {
                    plan = null;
                }
            }

            if (plan is not null)
            {
                yield return plan;
            }
        }
    }

    /// <summary>The choices on a matrix's ladder: none smaller with less or equal error (indices, bytes ascending).</summary>
    private static int[] Pareto(IReadOnlyList<AutoChoice> choices)
    {
        var ladder = new List<int>();
        for (var i = 0; i < choices.Count; i++)
        {
            if (ladder.Count == 0 || choices[i].Error < choices[ladder[^1]].Error)
            {
                if (ladder.Count > 0 && choices[ladder[^1]].Bytes == choices[i].Bytes)
                {
                    ladder[^1] = i;
                }
                else
                {
                    ladder.Add(i);
                }
            }
        }

        return [.. ladder];
    }

    /// <summary>
    /// The plans one move from <paramref name="plan"/> within the budget: a matrix one step up its ladder (alone when
    /// the budget allows, else with another matrix down as far as needed), or one step down with another up as far as
    /// the bytes freed allow.
    /// </summary>
    private static IEnumerable<int[]> Moves(int[] plan, int[][] ladders, IReadOnlyList<AutoChoice>[] choices, long budget)
    {
        long Bytes(int g, int c) => choices[g][c].Bytes;
        var total = plan.Select((c, g) => Bytes(g, c)).Sum();
        for (var i = 0; i < plan.Length; i++)
        {
            var up = ladders[i].Where(c => Bytes(i, c) > Bytes(i, plan[i]) && choices[i][c].Error < choices[i][plan[i]].Error).Cast<int?>().FirstOrDefault();
            var down = ladders[i].Where(c => Bytes(i, c) < Bytes(i, plan[i])).Cast<int?>().LastOrDefault();
            if (up is { } u)
            {
                var over = total - Bytes(i, plan[i]) + Bytes(i, u) - budget;
                if (over <= 0)
                {
                    yield return With(plan, (i, u));
                }
                else
                {
                    for (var j = 0; j < plan.Length; j++)
                    {
                        if (j != i && ladders[j].Where(c => Bytes(j, c) <= Bytes(j, plan[j]) - over).Cast<int?>().LastOrDefault() is { } d)
                        {
                            yield return With(plan, (i, u), (j, d));
                        }
                    }
                }
            }

            if (down is { } w)
            {
                var left = budget - (total - Bytes(i, plan[i]) + Bytes(i, w));
                for (var j = 0; j < plan.Length; j++)
                {
                    if (j != i && ladders[j].Where(c => Bytes(j, c) > Bytes(j, plan[j]) && Bytes(j, c) - Bytes(j, plan[j]) <= left && choices[j][c].Error < choices[j][plan[j]].Error)
                        .Cast<int?>().LastOrDefault() is { } u2)
                    {
                        yield return With(plan, (i, w), (j, u2));
                    }
                }
            }
        }
    }

    private static int[] With(int[] plan, params (int Group, int Choice)[] changes)
    {
        var copy = (int[])plan.Clone();
        foreach (var (g, c) in changes)
        {
            copy[g] = c;
        }

        return copy;
    }
}
