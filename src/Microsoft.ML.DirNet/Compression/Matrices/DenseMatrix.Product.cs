using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Compression;

// The dense product C = A·Wᵀ through the panel-packed form (PackedMatrix), or through the row-major
// kernel where the machine lacks the SIMD width the packed kernels need. Values stored as int8 (row scales known: the
// array holds the levels times these per-row scales) run single inputs through PackedInt8Matrix, which
// reads a quarter of the bytes; batches stay on the float32 blocks, which reuse each loaded weight across four inputs.
public sealed partial class DenseMatrix
{
    /// <summary>Row scales given to an engine view (indexed by the array's rows, as <see cref="PackedInt8Matrix.For"/> reads them).</summary>
    private readonly float[]? _viewScales;

    private Packing? _packing;

    /// <summary>
    /// The [rows × columns] matrix stored row-major at <paramref name="offset"/> in <paramref name="data"/>, read in
    /// place (the engine's view of one direction of an ONNX weight tensor, or a factor of a compressed form).
    /// <paramref name="rowScales"/>, when the values are on the int8 grid, holds a scale per row of the whole array.
    /// </summary>
    internal DenseMatrix(float[] data, int offset, int rows, int columns, float[]? rowScales = null)
        : base(rows, columns, allowEmpty: true)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (offset < 0 || offset + (long)rows * columns > data.Length)
        {
            throw new ArgumentException($"A [{rows} × {columns}] matrix at {offset} needs {offset + (long)rows * columns} values, got {data.Length}.", nameof(data));
        }

        _data = data;
        _offset = offset;
        _viewScales = rowScales;
        _stored = offset == 0 && data.Length == (long)rows * columns ? data : null;
    }

    /// <inheritdoc/>
    internal override string Form => "dense";

    /// <inheritdoc/>
    internal override bool RunsInt8 => Packed.RowScales is not null && PackedInt8Matrix.IsSupported;

    // Looked up once per instance, not at every step: the scales (set with the precision, before any product runs)
    // and each packed form, made on first use, so a recurrent R (single inputs) never packs a float32 copy and an
    // input W never an int8 one.
    private Packing Packed => _packing ?? Interlocked.CompareExchange(ref _packing, new Packing(_viewScales ?? Int8ScalesOf(_data)), null) ?? _packing;

    /// <inheritdoc/>
    private protected override CompressedMatrix CreateRowRange(int start, int count) =>
        new DenseMatrix(_data, _offset + start * Columns, count, Columns, Packed.RowScales);

    /// <inheritdoc/>
    internal override void ReadRow(int row, Span<float> destination) => _data.AsSpan(_offset + row * Columns, Columns).CopyTo(destination);

    /// <inheritdoc/>
    internal override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        var packed = Packed;
        if (packed.RowScales is { } rowScales && m < PackedMatrix.BlockRows && PackedInt8Matrix.IsSupported)
        {
            packed.Int8 ??= PackedInt8Matrix.For(_data, rowScales, _offset, Rows, Columns);
            packed.Int8.Multiply(a, m, c, accumulate);
        }
        else if (PackedMatrix.IsSupported)
        {
            packed.Float ??= PackedMatrix.For(_data, _offset, Rows, Columns);
            packed.Float.Multiply(a, m, c, accumulate);
        }
        else
        {
            MatrixMultiply.MultiplyByTransposed(a, m, Columns, _data.AsSpan(_offset, Rows * Columns), Rows, c, accumulate);
        }
    }

    /// <summary>
    /// The row scales and the packed forms, made on first use. Packing is idempotent (the packed forms are cached per
    /// array and range), so threads racing on <c>??=</c> get equal objects.
    /// </summary>
    private sealed class Packing(float[]? rowScales)
    {
        public float[]? RowScales { get; } = rowScales;

        public PackedMatrix? Float;

        public PackedInt8Matrix? Int8;
    }
}
