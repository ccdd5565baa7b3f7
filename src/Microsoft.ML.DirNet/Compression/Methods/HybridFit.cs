namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// HMD: the upper rows dense, the lower rows a grid of rank-1 blocks of about b × b. For each block size b in
/// {4, 8, …, 256} the ladder measures bands of b rows counted from the bottom (so each additional band turns b dense
/// rows into rank-1 blocks); a budget then picks, for every b, the most dense rows that fit, estimates the error from
/// the bands, and fits the best b exactly (block grid ⌈L/b⌉ × ⌈columns/b⌉ over the L lower rows).
/// </summary>
internal sealed class HybridFit : GroupFit
{
    private static readonly int[] BlockSizes = [4, 8, 16, 32, 64, 128, 256];
    private readonly Dictionary<int, double[]> _bandErrors = [];
    private readonly IReadOnlyList<FitPoint> _ladder;

    public HybridFit(MatrixGroup group)
        : base(group)
    {
        var points = new List<FitPoint> { new(group.DenseBytes, 0) };
        foreach (var b in BlockSizes.Where(b => b <= group.Rows && b <= group.Columns))
        {
            var bands = group.Rows / b;
            var errors = new double[bands + 1];
            var gc = CeilDiv(group.Columns, b);
            var u = new float[b];
            var v = new float[group.Columns];
            for (var k = 0; k < bands; k++)
            {
                int r1 = group.Rows - k * b, r0 = r1 - b;
                double error = 0;
                for (var j = 0; j < gc; j++)
                {
                    error += RankOneBlock.Fit(group.Values, group.Columns, r0, r1,
                        HybridMatrix.BlockStart(j, group.Columns, gc), HybridMatrix.BlockStart(j + 1, group.Columns, gc), u, v);
                }

                errors[k + 1] = errors[k] + error;
                points.Add(new FitPoint(BytesAt(group.Rows - (k + 1) * b, b), errors[k + 1]));
            }

            _bandErrors[b] = errors;
        }

        _ladder = Monotone(points);
    }

    public override IReadOnlyList<FitPoint> Ladder => _ladder;

    private static int CeilDiv(int a, int b) => (a + b - 1) / b;

    /// <summary>Bytes with <paramref name="denseRows"/> dense rows and blocks of about b × b below.</summary>
    private long BytesAt(int denseRows, int b)
    {
        var lower = Group.Rows - denseRows;
        var parameters = (long)denseRows * Group.Columns;
        if (lower > 0)
        {
            parameters += (long)CeilDiv(Group.Columns, b) * lower + (long)CeilDiv(lower, b) * Group.Columns;
        }

        return parameters * sizeof(float);
    }

    public override IReadOnlyList<CompressedMatrix> Build(long budgetBytes)
    {
        if (_bandErrors.Count == 0)
        {
            // Fewer than 4 rows or columns: no block size fits, and the ladder's one point is every row dense.
            return [Fit(Group.Values, Group.Rows, Group.Columns, Group.Rows, 1)];
        }

        var best = (B: 0, DenseRows: Group.Rows, Error: double.MaxValue);
        foreach (var (b, errors) in _bandErrors)
        {
            var denseRows = Group.Rows;
            while (denseRows > 0 && BytesAt(denseRows, b) > budgetBytes)
            {
                denseRows--;
            }

            var bands = (double)(Group.Rows - denseRows) / b;
            var whole = Math.Min((int)bands, errors.Length - 2);
            var estimate = errors[whole] + (bands - whole) * (errors[Math.Min(whole + 1, errors.Length - 1)] - errors[whole]);
            if (BytesAt(denseRows, b) <= budgetBytes && estimate < best.Error)
            {
                best = (b, denseRows, estimate);
            }
        }

        if (best.B == 0)
        {
            // Even all rank-1 with the largest blocks exceeds the budget: the smallest form there is.
            best = (_bandErrors.Keys.Max(), 0, 0);
        }

        return [Fit(Group.Values, Group.Rows, Group.Columns, best.DenseRows, best.B)];
    }

    /// <summary>Fits the hybrid matrix with <paramref name="denseRows"/> dense rows and blocks of about b × b.</summary>
    public static HybridMatrix Fit(float[] w, int rows, int columns, int denseRows, int b)
    {
        var lower = rows - denseRows;
        int gr = lower > 0 ? CeilDiv(lower, b) : 0, gc = lower > 0 ? CeilDiv(columns, b) : 0;
        var top = w.AsSpan(0, denseRows * columns).ToArray();
        var u = new float[gc * lower];
        var v = new float[gr * columns];
        var uBlock = new float[b];
        for (var i = 0; i < gr; i++)
        {
            int r0 = HybridMatrix.BlockStart(i, lower, gr), r1 = HybridMatrix.BlockStart(i + 1, lower, gr);
            for (var j = 0; j < gc; j++)
            {
                int c0 = HybridMatrix.BlockStart(j, columns, gc), c1 = HybridMatrix.BlockStart(j + 1, columns, gc);
                RankOneBlock.Fit(w, columns, denseRows + r0, denseRows + r1, c0, c1, uBlock, v.AsSpan(i * columns + c0, c1 - c0));
                uBlock.AsSpan(0, r1 - r0).CopyTo(u.AsSpan(j * lower + r0));
            }
        }

        return new HybridMatrix(rows, columns, denseRows, gr, gc, top, u, v);
    }
}
