namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// DirNet on one group: SCC on the unit-norm rows starting from min(rows, columns) atoms; after warm-up, atom mining
/// drops dead atoms and the <see cref="DictionaryOptions.DropFraction"/> with least code energy, one refit epoch per
/// stage, keeping a snapshot of the dictionary each time the count falls by √2. For every snapshot, a path of λ values
/// gives Lasso codes (<see cref="SparseCoder"/>), their exact bytes and their error: the ladder. A byte budget picks
/// the snapshot whose path has the least error at that budget, runs <see cref="DictionaryOptions.FinalEpochs"/> SCC
/// epochs at the λ that fills it, keeps the largest codes (|z|·scale) that fit the budget exactly, and debiases.
/// </summary>
internal sealed class DictionaryFit : GroupFit
{
    private const int PathLength = 24;
    private const float PathStep = 0.75f;
    private readonly DictionaryOptions _options;
    private readonly NormalizedRows _rows;
    private readonly int _seed;
    private readonly List<Snapshot> _snapshots = [];
    private readonly IReadOnlyList<FitPoint> _ladder;
    private readonly long _largestUsefulBytes;
    private readonly CancellationToken _cancellationToken;

    /// <param name="group">The matrices.</param>
    /// <param name="options">Learner settings.</param>
    /// <param name="seed">Seed of the initialisation and visiting orders.</param>
    /// <param name="largestUsefulBytes">Where the ladder may stop: sizes above it are not measured (the planner can
    /// still give more, up to dense). Long λ paths into dense codes are the costliest part of the analysis.</param>
    /// <param name="cancellationToken">Checked at every learning epoch (a group's analysis can take many seconds).</param>
    public DictionaryFit(MatrixGroup group, DictionaryOptions options, int seed, long largestUsefulBytes = long.MaxValue,
        CancellationToken cancellationToken = default)
        : base(group)
    {
        _cancellationToken = cancellationToken;
        _options = options;
        _largestUsefulBytes = Math.Min(largestUsefulBytes, group.DenseBytes);
        _seed = seed;
        _rows = new NormalizedRows(group.Values, group.Rows, group.Columns);
        var random = new Random(seed);
        var atoms = Math.Min(group.Rows, group.Columns);
        var initial = options.Initialization == DictionaryInitialization.SingularVectors
            ? _rows.SingularVectorAtoms(atoms)
            : _rows.RandomRowAtoms(atoms, random);
        var learner = new SccDictionaryLearner(_rows.Signals, group.Rows, group.Columns, initial, atoms, random);
        for (var e = 0; e < options.WarmupEpochs; e++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            learner.Epoch(options.MiningLambda);
        }

        AddSnapshot(learner);
        var next = learner.Atoms / Math.Sqrt(2);
        while (learner.Atoms > options.MinimumAtoms)
        {
            var drop = Math.Max(learner.Energy.Count(e => e == 0), (int)Math.Ceiling(options.DropFraction * learner.Atoms));
            var keepCount = Math.Max(options.MinimumAtoms, learner.Atoms - drop);
            var keep = Enumerable.Range(0, learner.Atoms).OrderByDescending(a => learner.Energy[a]).ThenBy(a => a)
                .Take(keepCount).Order().ToArray();
            learner.KeepAtoms(keep);
            cancellationToken.ThrowIfCancellationRequested();
            learner.Epoch(options.MiningLambda);
            if (learner.Atoms <= next || learner.Atoms <= options.MinimumAtoms)
            {
                AddSnapshot(learner);
                next = learner.Atoms / Math.Sqrt(2);
            }
        }

        _ladder = Monotone(_snapshots.SelectMany(s => s.Path.Select(p => new FitPoint(p.Bytes, p.SquaredError))));
    }

    public override IReadOnlyList<FitPoint> Ladder => _ladder;

    private int IndexBytes(int atoms) => SparseRows.NarrowIndices([], atoms).ElementSize;

    // The dictionary, and one row-start array per member (rows + 1 entries each).
    private long FixedBytes(int atoms) => ((long)atoms * Group.Columns + Group.Rows + Group.Members.Count) * sizeof(float);

    private long BytesAt(int atoms, long nonZeros) => FixedBytes(atoms) + nonZeros * (sizeof(float) + IndexBytes(atoms));

    public override IReadOnlyList<CompressedMatrix> Build(long budgetBytes)
    {
        // The snapshot with the least estimated error at this budget; the smallest one if none fits.
        Snapshot? best = null;
        var bestError = double.MaxValue;
        foreach (var s in _snapshots)
        {
            var nonZeros = (budgetBytes - FixedBytes(s.Atoms)) / (sizeof(float) + IndexBytes(s.Atoms));
            if (nonZeros < 1)
            {
                continue;
            }

            var error = s.ErrorAt(nonZeros);
            if (error < bestError)
            {
                (best, bestError) = (s, error);
            }
        }

        best ??= _snapshots[^1];
        var limit = Math.Max(1, (budgetBytes - FixedBytes(best.Atoms)) / (sizeof(float) + IndexBytes(best.Atoms)));
        var lambda = best.LambdaFor(limit);

        var random = new Random(unchecked(_seed * 31 + best.Atoms));
        var learner = new SccDictionaryLearner(_rows.Signals, Group.Rows, Group.Columns, (float[])best.Dictionary.Clone(), best.Atoms, random);
        for (var e = 0; e < _options.FinalEpochs; e++)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            learner.Epoch(lambda);
        }

        // After the final epochs the codes at λ may number fewer than the budget allows: lower λ until they fill it.
        var coder = new SparseCoder(learner.Dictionary, learner.Atoms, Group.Columns);
        var correlations = coder.CorrelateRows(_rows);
        var codes = coder.EncodeRows(correlations, Group.Rows, lambda);
        for (var tries = 0; tries < 8 && codes.Count(v => v != 0) < limit; tries++)
        {
            lambda *= PathStep;
            codes = coder.EncodeRows(correlations, Group.Rows, lambda);
        }

        KeepLargest(codes, learner.Atoms, limit);
        if (_options.Debias)
        {
            for (var j = 0; j < Group.Rows; j++)
            {
                coder.Debias(codes.AsSpan(j * learner.Atoms, learner.Atoms), correlations.AsSpan(j * learner.Atoms, learner.Atoms));
            }
        }

        return ToMatrices(Group, "dirnet", learner.Dictionary, learner.Atoms, codes, _rows.Scales);
    }

    /// <summary>Builds the dictionary matrix from unit-row codes (scales folded back) and splits it by members.</summary>
    internal static IReadOnlyList<CompressedMatrix> ToMatrices(MatrixGroup group, string method, float[] dictionary, int atoms,
        float[] codes, float[] scales)
    {
        var sparse = SparseRows.FromDense(codes, group.Rows, atoms, (r, a) => codes[r * atoms + a] != 0 && scales[r] != 0);
        for (var r = 0; r < group.Rows; r++)
        {
            for (var i = sparse.RowStarts[r]; i < sparse.RowStarts[r + 1]; i++)
            {
                sparse.Values[i] *= scales[r];
            }
        }

        var matrix = new DictionaryMatrix(method, dictionary, atoms, sparse, ownsDictionary: true);
        return group.Members.Count == 1 ? [matrix] : matrix.SplitRows(group.Members.Select(m => m.Weight.Rows).ToArray());
    }

    /// <summary>Zeroes all but the <paramref name="limit"/> codes of largest |z|·scale (ties: lower position first).</summary>
    private void KeepLargest(float[] codes, int atoms, long limit)
    {
        var nonZero = Enumerable.Range(0, codes.Length).Where(i => codes[i] != 0 && _rows.Scales[i / atoms] != 0).ToArray();
        if (nonZero.Length <= limit)
        {
            return;
        }

        var dropped = nonZero.OrderByDescending(i => Math.Abs(codes[i]) * _rows.Scales[i / atoms]).ThenBy(i => i).Skip((int)limit);
        foreach (var i in dropped)
        {
            codes[i] = 0;
        }
    }

    private void AddSnapshot(SccDictionaryLearner learner)
    {
        var atoms = learner.Atoms;
        var dictionary = (float[])learner.Dictionary.Clone();
        var coder = new SparseCoder(dictionary, atoms, Group.Columns);
        var b = coder.CorrelateRows(_rows);
        var lambdaMax = b.Length == 0 ? 0 : MathF.Abs(TensorPrimitives.MaxMagnitude(b));
        var codes = new float[Group.Rows * atoms];
        var residuals = new double[Group.Rows];
        var counts = new int[Group.Rows];
        var path = new List<PathPoint>();
        var lambda = lambdaMax;
        for (var step = 0; step < PathLength && lambdaMax > 0; step++)
        {
            lambda *= PathStep;
            var l = lambda;
            Parallel.For(0, Group.Rows, j =>
            {
                var z = codes.AsSpan(j * atoms, atoms);
                var bj = b.AsSpan(j * atoms, atoms);
                coder.Encode(bj, z, l, maxRounds: 2, supportSweeps: 1);
                residuals[j] = (double)_rows.Scales[j] * _rows.Scales[j] * coder.SquaredResidual(z, bj, _rows.SignalEnergy(j));
                counts[j] = CountNonZero(z);
            });
            long nonZeros = counts.Sum(x => (long)x);
            var bytes = BytesAt(atoms, nonZeros);
            path.Add(new PathPoint(l, nonZeros, bytes, residuals.Sum()));
            if (bytes >= _largestUsefulBytes)
            {
                break;
            }
        }

        if (path.Count == 0)
        {
            // No row correlates with any atom (every row is zero): no λ yields a code, so the one size this snapshot
            // has is its dictionary with no codes, and its error is what the rows hold.
            var energy = Enumerable.Range(0, Group.Rows).Sum(j => (double)_rows.Scales[j] * _rows.Scales[j] * _rows.SignalEnergy(j));
            path.Add(new PathPoint(0, 0, BytesAt(atoms, 0), energy));
        }

        _snapshots.Add(new Snapshot(atoms, dictionary, path));
    }

    private static int CountNonZero(ReadOnlySpan<float> z)
    {
        var n = 0;
        foreach (var v in z)
        {
            n += v != 0 ? 1 : 0;
        }

        return n;
    }

    private sealed record PathPoint(float Lambda, long NonZeros, long Bytes, double SquaredError);

    private sealed record Snapshot(int Atoms, float[] Dictionary, List<PathPoint> Path)
    {
        /// <summary>Error at <paramref name="nonZeros"/> codes, interpolated along the path (nnz grows as λ falls).</summary>
        public double ErrorAt(long nonZeros)
        {
            if (Path.Count == 0)
            {
                return double.MaxValue;
            }

            for (var i = 1; i < Path.Count; i++)
            {
                if (nonZeros <= Path[i].NonZeros)
                {
                    var (a, b) = (Path[i - 1], Path[i]);
                    var t = Math.Clamp((double)(nonZeros - a.NonZeros) / Math.Max(1, b.NonZeros - a.NonZeros), 0, 1);
                    return a.SquaredError + t * (b.SquaredError - a.SquaredError);
                }
            }

            return Path[^1].SquaredError;
        }

        /// <summary>The largest λ on the path whose codes number at least <paramref name="nonZeros"/> (the last if none).</summary>
        public float LambdaFor(long nonZeros) =>
            Path.FirstOrDefault(p => p.NonZeros >= nonZeros)?.Lambda ?? (Path.Count > 0 ? Path[^1].Lambda : 0.01f);
    }
}
