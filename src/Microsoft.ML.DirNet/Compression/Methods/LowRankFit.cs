namespace Microsoft.ML.DirNet.Compression;

/// <summary>Low-rank factorisation W ≈ U·V by truncated SVD; the rank follows from the byte budget.</summary>
internal sealed class LowRankFit : GroupFit
{
    private readonly PrincipalSubspace _subspace;
    private readonly IReadOnlyList<FitPoint> _ladder;

    public LowRankFit(MatrixGroup group)
        : base(group)
    {
        _subspace = new PrincipalSubspace(group.Values, group.Rows, group.Columns);
        var full = Math.Min(group.Rows, group.Columns);
        _ladder = Monotone(Enumerable.Range(1, full).Select(r => new FitPoint(BytesAt(r), _subspace.SquaredError(r))));
    }

    public override IReadOnlyList<FitPoint> Ladder => _ladder;

    private long BytesAt(int rank) => (long)rank * (Group.Rows + Group.Columns) * sizeof(float);

    public override IReadOnlyList<CompressedMatrix> Build(long budgetBytes)
    {
        var rank = (int)Math.Clamp(budgetBytes / ((long)(Group.Rows + Group.Columns) * sizeof(float)), 1, Math.Min(Group.Rows, Group.Columns));
        var (left, right) = _subspace.Truncate(rank);
        return [new LowRankMatrix(left, right, Group.Rows, Group.Columns, rank)];
    }
}
