using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>Low-rank W = U·V applied as two thin products: t = V·x (rank outputs), then y = U·t.</summary>
internal sealed class LowRankWeight : WeightOperator
{
    private readonly DenseWeight _left;
    private readonly DenseWeight _right;

    public LowRankWeight(LowRankMatrix matrix)
    {
        var factors = matrix.FullPrecisionFactors;
        var left = factors[0].Tensor.As<float>().Data;
        var right = factors[1].Tensor.As<float>().Data;
        _left = new DenseWeight(left, 0, matrix.Rows, matrix.Rank, matrix.Int8ScalesOf(left));
        _right = new DenseWeight(right, 0, matrix.Rank, matrix.Columns, matrix.Int8ScalesOf(right));
    }

    private LowRankWeight(DenseWeight left, DenseWeight right)
    {
        _left = left;
        _right = right;
    }

    public override int Rows => _left.Rows;

    public override int Columns => _right.Columns;

    public override string Form => "lowrank";

    internal override bool RunsInt8 => _left.RunsInt8 && _right.RunsInt8;

    public override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        CheckSpans(a, m, c);
        using var inner = new ScratchBuffer((long)m * _right.Rows);
        _right.Multiply(a, m, inner.Span, accumulate: false);
        _left.Multiply(inner.Span, m, c, accumulate);
    }

    public override void ReadRow(int row, Span<float> destination)
    {
        // Row r of U·V is Σ_k U[r, k]·V[k, :].
        using var left = new ScratchBuffer(_left.Columns);
        using var factor = new ScratchBuffer(Columns);
        _left.ReadRow(row, left.Span);
        var target = destination[..Columns];
        target.Clear();
        for (var k = 0; k < _left.Columns; k++)
        {
            _right.ReadRow(k, factor.Span);
            TensorPrimitives.MultiplyAdd(factor.Span, left.Span[k], target, target);
        }
    }

    protected override WeightOperator CreateRowRange(int start, int count) => new LowRankWeight((DenseWeight)_left.RowRange(start, count), _right);
}
