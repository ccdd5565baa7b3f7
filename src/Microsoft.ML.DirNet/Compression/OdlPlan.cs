namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// The LSTM-ODL baseline's plan: one atom count k and one λ for every matrix (no mining, no per-layer sparsity, no
/// shared projection). For each candidate k, dictionaries are learned by <see cref="OnlineDictionaryLearner"/> at a
/// starting λ, the common λ meeting the byte budget is found by bisection, the dictionaries are learned again at that
/// λ and λ is refined; the k with the least size-weighted relative squared error wins.
/// </summary>
internal static class OdlPlan
{
    private const int Epochs = 2;
    private const int BatchSize = 128;
    private const float StartLambda = 0.1f;

    /// <summary>The matrices of every group at a common k and λ within <paramref name="budget"/> bytes.</summary>
    /// <param name="groups">The groups, each fitted on its own dictionary.</param>
    /// <param name="budget">Bytes all groups may take together.</param>
    /// <param name="seed">Seed of the dictionary learner.</param>
    /// <param name="cancellationToken">Checked between candidate atom counts.</param>
    /// <param name="target">The target in words (e.g. "Ratio 8 over the model"), for the errors that say it is out of reach.</param>
    public static IReadOnlyList<IReadOnlyList<CompressedMatrix>> Build(IReadOnlyList<MatrixGroup> groups, long budget, int seed,
        CancellationToken cancellationToken, string target = "The target")
    {
        var rows = groups.Select(g => new NormalizedRows(g.Values, g.Rows, g.Columns)).ToArray();
        // One k for every matrix: up to the largest matrix's rank (smaller matrices then get an overcomplete dictionary).
        var largest = groups.Max(g => Math.Min(g.Rows, g.Columns));
        var candidates = new[] { 16, 32, 64, 128, 256 }.Where(k => k <= largest).DefaultIfEmpty(largest).ToArray();
        (double Error, int Atoms, float Lambda, float[][] Dictionaries, Coding[] Codings)? best = null;
        foreach (var atoms in candidates)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (groups.Sum(g => FixedBytes(g, atoms)) >= budget)
            {
                continue;
            }

            var dictionaries = Learn(rows, atoms, StartLambda, seed);
            var lambda = LambdaForBudget(groups, Prepare(rows, dictionaries, atoms), atoms, budget);
            dictionaries = Learn(rows, atoms, lambda, seed);
            var codings = Prepare(rows, dictionaries, atoms);
            lambda = LambdaForBudget(groups, codings, atoms, budget);
            var error = groups.Select((g, i) => WeightedError(g, rows[i], dictionaries[i], atoms, codings[i].Encode(lambda))).Sum();
            if (best is null || error < best.Value.Error)
            {
                best = (error, atoms, lambda, dictionaries, codings);
            }
        }

        if (best is not { } chosen)
        {
            throw new DirNetException(
                $"{target} is out of reach for LSTM-ODL: its budget of {budget:N0} bytes is exceeded even by {candidates[0]} atoms per matrix with no codes; ask for a lower ratio.");
        }

        // Dense codes on the largest dictionary may still fall short of a mild target: say so rather than miss it.
        var codes = chosen.Codings.Select(c => c.Encode(chosen.Lambda)).ToArray();
        var used = groups.Select((g, i) => Bytes(g, chosen.Atoms, codes[i].Count(v => v != 0))).Sum();
        if (used < budget * 0.98)
        {
            throw new DirNetException(
                $"{target} is too mild for LSTM-ODL, which cannot use the budget of {budget:N0} bytes: with one atom count (at most {candidates[^1]}) and one λ for every matrix its largest form takes {used:N0} bytes; ask for a higher ratio.");
        }

        return groups.Select((g, i) => DictionaryFit.ToMatrices(g, "odl", chosen.Dictionaries[i], chosen.Atoms, codes[i], rows[i].Scales)).ToArray();
    }

    /// <summary>A group's coder for one dictionary, with its rows' correlations computed once for every λ tried.</summary>
    private sealed record Coding(SparseCoder Coder, float[] Correlations, int Rows)
    {
        public float[] Encode(float lambda) => Coder.EncodeRows(Correlations, Rows, lambda);
    }

    private static Coding[] Prepare(NormalizedRows[] rows, float[][] dictionaries, int atoms) => rows.Select((r, i) =>
    {
        var coder = new SparseCoder(dictionaries[i], atoms, r.Columns);
        return new Coding(coder, coder.CorrelateRows(r), r.Rows);
    }).ToArray();

    private static float[][] Learn(NormalizedRows[] rows, int atoms, float lambda, int seed) =>
        rows.Select((r, i) => OnlineDictionaryLearner.Learn(r, atoms, lambda, Epochs, BatchSize, new Random(unchecked(seed * 7919 + i)))).ToArray();

    private static long FixedBytes(MatrixGroup group, int atoms) => ((long)atoms * group.Columns + group.Rows + 1) * sizeof(float);

    private static long Bytes(MatrixGroup group, int atoms, long nonZeros) =>
        FixedBytes(group, atoms) + nonZeros * (sizeof(float) + SparseRows.NarrowIndices([], atoms).ElementSize);

    /// <summary>The smallest common λ (bisection on log λ) whose codes fit the budget.</summary>
    private static float LambdaForBudget(IReadOnlyList<MatrixGroup> groups, Coding[] codings, int atoms, long budget)
    {
        long BytesAt(float lambda) => groups.Select((g, i) =>
            Bytes(g, atoms, codings[i].Encode(lambda).Count(v => v != 0))).Sum();
        double low = Math.Log(1e-4), high = Math.Log(2.0);
        for (var i = 0; i < 20; i++)
        {
            var mid = (low + high) / 2;
            if (BytesAt((float)Math.Exp(mid)) <= budget)
            {
                high = mid;
            }
            else
            {
                low = mid;
            }
        }

        return (float)Math.Exp(high);
    }

    /// <summary>Relative squared error × parameters, the planner's weighting.</summary>
    private static double WeightedError(MatrixGroup group, NormalizedRows rows, float[] dictionary, int atoms, float[] codes)
    {
        var matrix = DictionaryFit.ToMatrices(group, "odl", dictionary, atoms, codes, rows.Scales)[0];
        var dense = matrix.ToDense();
        double error = 0;
        for (var i = 0; i < dense.Length; i++)
        {
            double e = group.Values[i] - dense[i];
            error += e * e;
        }

        return group.Energy > 0 ? error / group.Energy * group.Rows * group.Columns : 0;
    }
}
