using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// A dense weight matrix W [rows, columns] stored row-major at <c>offset</c> in an array, applied as C = A·Wᵀ through
/// its panel-packed form (<see cref="PackedMatrix"/>), or through the row-major kernel where the machine lacks the
/// SIMD width the packed kernels need. Values stored as int8 (<paramref name="rowScales"/> given: the array holds the
/// levels times these per-row scales) run single inputs through <see cref="PackedInt8Matrix"/>, which reads a quarter
/// of the bytes; batches stay on the float32 blocks, which reuse each loaded weight across four inputs.
/// </summary>
internal sealed class DenseWeight(float[] data, int offset, int rows, int columns, float[]? rowScales = null) : WeightOperator
{
    // Looked up once per instance (an instance serves one direction for one run), not at every step; each packed form
    // is made on first use, so a recurrent R (single inputs) never packs a float32 copy and an input W never an int8 one.
    private PackedMatrix? _packed;
    private PackedInt8Matrix? _packedInt8;

    /// <inheritdoc/>
    public override int Rows => rows;

    /// <inheritdoc/>
    public override int Columns => columns;

    /// <inheritdoc/>
    public override string Form => "dense";

    /// <inheritdoc/>
    internal override bool RunsInt8 => rowScales is not null && PackedInt8Matrix.IsSupported;

    /// <inheritdoc/>
    protected override WeightOperator CreateRowRange(int start, int count) => new DenseWeight(data, offset + start * columns, count, columns, rowScales);

    /// <inheritdoc/>
    public override void ReadRow(int row, Span<float> destination) => data.AsSpan(offset + row * columns, columns).CopyTo(destination);

    /// <inheritdoc/>
    public override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        if (rowScales is not null && m < PackedMatrix.BlockRows && PackedInt8Matrix.IsSupported)
        {
            _packedInt8 ??= PackedInt8Matrix.For(data, rowScales, offset, rows, columns);
            _packedInt8.Multiply(a, m, c, accumulate);
        }
        else if (PackedMatrix.IsSupported)
        {
            _packed ??= PackedMatrix.For(data, offset, rows, columns);
            _packed.Multiply(a, m, c, accumulate);
        }
        else
        {
            MatrixMultiply.MultiplyByTransposed(a, m, columns, data.AsSpan(offset, rows * columns), rows, c, accumulate);
        }
    }
}
