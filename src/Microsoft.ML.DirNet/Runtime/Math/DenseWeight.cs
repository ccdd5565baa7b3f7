namespace Microsoft.ML.DirNet.Runtime.Math;

/// <summary>
/// A dense weight matrix W [rows, columns] stored row-major at <c>offset</c> in an array, applied as C = A·Wᵀ through
/// its panel-packed form (<see cref="PackedMatrix"/>), or through the row-major kernel where the machine lacks the
/// SIMD width the packed kernels need.
/// </summary>
internal sealed class DenseWeight(float[] data, int offset, int rows, int columns)
{
    // Looked up once per instance (an instance serves one direction for one run), not at every step.
    private PackedMatrix? _packed;

    /// <summary>Outputs.</summary>
    public int Rows => rows;

    /// <summary>Inputs.</summary>
    public int Columns => columns;

    /// <summary>The matrix made of rows [<paramref name="start"/>, start + <paramref name="count"/>).</summary>
    public DenseWeight RowRange(int start, int count) => new(data, offset + start * columns, count, columns);

    /// <summary>C[m×rows] = A[m×columns]·Wᵀ, or C += when <paramref name="accumulate"/>.</summary>
    public void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
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
