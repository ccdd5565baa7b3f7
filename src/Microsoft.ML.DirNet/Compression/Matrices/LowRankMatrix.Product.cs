using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Compression;

// The low-rank product W = U·V as two thin dense products: t = V·x (rank outputs), then y = U·t.
public sealed partial class LowRankMatrix
{
    private ThinProducts? _factors;

    /// <inheritdoc/>
    internal override string Form => "lowrank";

    /// <inheritdoc/>
    internal override bool RunsInt8 => Product.Left.RunsInt8 && Product.Right.RunsInt8;

    /// <inheritdoc/>
    internal override bool RunsLowBit => Product.Left.RunsLowBit && Product.Right.RunsLowBit;

    /// <summary>
    /// U and V as dense products over the stored arrays, with their int8 row scales or low-bit levels (set with the precision, before
    /// any product runs); made on first use, and idempotent, so threads racing here build equal factors.
    /// </summary>
    private ThinProducts Product => _factors ?? Interlocked.CompareExchange(ref _factors,
        new ThinProducts(new DenseMatrix(_left, 0, Rows, Rank, Int8ScalesOf(_left), LowBitOf(_left)),
            new DenseMatrix(_right, 0, Rank, Columns, Int8ScalesOf(_right), LowBitOf(_right))), null) ?? _factors;

    /// <inheritdoc/>
    internal override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        CheckBatch(a, m, c);
        var product = Product;
        using var inner = new ScratchBuffer((long)m * Rank);
        product.Right.Multiply(a, m, inner.Span, accumulate: false);
        product.Left.Multiply(inner.Span, m, c, accumulate);
    }

    /// <inheritdoc/>
    internal override void ReadRow(int row, Span<float> destination)
    {
        // Row r of U·V is Σ_k U[r, k]·V[k, :].
        var product = Product;
        using var left = new ScratchBuffer(Rank);
        using var factor = new ScratchBuffer(Columns);
        product.Left.ReadRow(row, left.Span);
        var target = destination[..Columns];
        target.Clear();
        for (var k = 0; k < Rank; k++)
        {
            product.Right.ReadRow(k, factor.Span);
            TensorPrimitives.MultiplyAdd(factor.Span, left.Span[k], target, target);
        }
    }

    /// <summary>The rows of U as a view of its array, with V (and V's packed form) shared.</summary>
    private protected override CompressedMatrix CreateRowRange(int start, int count)
    {
        var product = Product;
        return new LowRankMatrix(_left[(start * Rank)..((start + count) * Rank)], _right, count, Columns, Rank)
        {
            _factors = new ThinProducts((DenseMatrix)product.Left.RowRange(start, count), product.Right),
        };
    }

    private sealed record ThinProducts(DenseMatrix Left, DenseMatrix Right);
}
