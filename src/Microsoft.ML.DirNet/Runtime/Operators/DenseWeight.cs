using Microsoft.ML.DirNet.Runtime.Math;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// A dense weight matrix W [rows, columns] stored row-major at <c>offset</c> in an array, applied as C = A·Wᵀ through
/// its panel-packed form (<see cref="PackedMatrix"/>), or through the row-major kernel where the machine lacks the
/// SIMD width the packed kernels need.
/// </summary>
internal sealed class DenseWeight(float[] data, int offset, int rows, int columns) : WeightOperator
{
    // Looked up once per instance (an instance serves one direction for one run), not at every step.
    private PackedMatrix? _packed;

    /// <inheritdoc/>
    public override int Rows => rows;

    /// <inheritdoc/>
    public override int Columns => columns;

    /// <inheritdoc/>
    public override string Form => "dense";

    /// <inheritdoc/>
    protected override WeightOperator CreateRowRange(int start, int count) => new DenseWeight(data, offset + start * columns, count, columns);

    /// <inheritdoc/>
    public override void ReadRow(int row, Span<float> destination) => data.AsSpan(offset + row * columns, columns).CopyTo(destination);

    /// <inheritdoc/>
    public override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        if (PackedMatrix.IsSupported)
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
