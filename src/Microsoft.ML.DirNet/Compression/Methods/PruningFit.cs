namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Magnitude pruning: keep the weights of largest |w| (ties: lower index first), stored as CSR with index bytes
/// counted; the kept count follows from the byte budget.
/// </summary>
internal sealed class PruningFit : GroupFit
{
    private readonly int[] _order;
    private readonly double[] _keptEnergy;
    private readonly IReadOnlyList<FitPoint> _ladder;

    public PruningFit(MatrixGroup group)
        : base(group)
    {
        var w = group.Values;
        _order = Enumerable.Range(0, w.Length).OrderByDescending(i => Math.Abs(w[i])).ThenBy(i => i).ToArray();
        _keptEnergy = new double[w.Length + 1];
        for (var i = 0; i < w.Length; i++)
        {
            _keptEnergy[i + 1] = _keptEnergy[i] + (double)w[_order[i]] * w[_order[i]];
        }

        // About 200 points, geometric in the kept count, are plenty to interpolate the error curve.
        var counts = new SortedSet<int> { 1, w.Length };
        for (var n = 1.0; n < w.Length; n *= 1.05)
        {
            counts.Add((int)n);
        }

        _ladder = Monotone(counts.Select(n => new FitPoint(BytesAt(n), Math.Max(0, group.Energy - _keptEnergy[n]))));
    }

    public override IReadOnlyList<FitPoint> Ladder => _ladder;

    private int IndexBytes => SparseRows.NarrowIndices([], Group.Columns).ElementSize;

    private long BytesAt(int kept) => (long)kept * (sizeof(float) + IndexBytes) + (Group.Rows + 1L) * sizeof(int);

    public override IReadOnlyList<CompressedMatrix> Build(long budgetBytes)
    {
        var kept = (int)Math.Clamp((budgetBytes - (Group.Rows + 1L) * sizeof(int)) / (sizeof(float) + IndexBytes), 1, _order.Length);
        var keep = new bool[_order.Length];
        for (var i = 0; i < kept; i++)
        {
            keep[_order[i]] = true;
        }

        var columns = Group.Columns;
        return [new SparseMatrix(SparseRows.FromDense(Group.Values, Group.Rows, columns, (r, c) => keep[r * columns + c]))];
    }
}
