using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Compression;

// The dense product C = A·Wᵀ through the panel-packed form (PackedMatrix, on every rung of the SIMD ladder), or through
// the row-major kernel where the machine has no vector hardware. Values stored as int8 (row scales known: the
// array holds the levels times these per-row scales) run single inputs through PackedInt8Matrix, which reads a
// quarter of the bytes; batches stay on the float32 blocks, which reuse each loaded weight across four inputs.
// Values stored on a low-bit grid (int4 and below) run single inputs through PackedLowBitMatrix, from their levels,
// where it is the faster (256-bit SIMD and wider). Where the run quantizes inputs (NativeModel.QuantizeInt8Activations)
// and the processor has integer dot products, int8 and low-bit values run every product, batches included, that way.
public sealed partial class DenseMatrix
{
    /// <summary>Row scales given to an engine view (indexed by the array's rows, as <see cref="PackedInt8Matrix.For"/> reads them).</summary>
    private readonly float[]? _viewScales;

    /// <summary>Low-bit levels given to an engine view: the whole array's, of which this matrix is the rows from <see cref="_offset"/> on.</summary>
    private readonly GroupQuantizedValues? _viewLowBit;

    private Packing? _packing;

    /// <summary>
    /// The [rows × columns] matrix stored row-major at <paramref name="offset"/> in <paramref name="data"/>, read in
    /// place (the engine's view of one direction of an ONNX weight tensor, or a factor of a compressed form).
    /// <paramref name="rowScales"/>, when the values are on the int8 grid, holds a scale per row of the whole array;
    /// <paramref name="lowBit"/>, when they are on a low-bit grid, the whole array's levels.
    /// </summary>
    internal DenseMatrix(float[] data, int offset, int rows, int columns, float[]? rowScales = null, GroupQuantizedValues? lowBit = null)
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
        _viewLowBit = lowBit;
        _stored = offset == 0 && data.Length == (long)rows * columns ? data : null;
    }

    /// <inheritdoc/>
    internal override string Form => "dense";

    /// <inheritdoc/>
    internal override bool RunsInt8 => Packed.RowScales is not null && PackedInt8Matrix.IsPreferred;

    /// <inheritdoc/>
    internal override bool RunsLowBit => Packed.LowBit is not null && PackedLowBitMatrix.IsPreferred;

    // Looked up once per instance, not at every step: the scales (set with the precision, before any product runs)
    // and each packed form, made on first use, so a recurrent R (single inputs) never packs a float32 copy and an
    // input W never an int8 one.
    private Packing Packed => _packing ?? Interlocked.CompareExchange(ref _packing, new Packing(_viewScales ?? Int8ScalesOf(_data), LowBitLevels()), null) ?? _packing;

    /// <inheritdoc/>
    private protected override CompressedMatrix CreateRowRange(int start, int count) =>
        new DenseMatrix(_data, _offset + start * Columns, count, Columns, Packed.RowScales, Packed.LowBit);

    /// <inheritdoc/>
    internal override void ReadRow(int row, Span<float> destination) => _data.AsSpan(_offset + row * Columns, Columns).CopyTo(destination);

    /// <inheritdoc/>
    internal override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        var packed = Packed;
        var quantizeInputs = ActivationQuantization.IsOn && PackedInt8Matrix.HasIntegerDotProducts && Columns <= PackedInt8Matrix.MaxQuantizedColumns;
        if (packed.LowBit is { } quantizedLevels && quantizeInputs)
        {
            // Inputs quantized too (NativeModel.QuantizeInt8Activations): integer dot products, batches included.
            packed.LowBitPanels ??= PackedLowBitMatrix.For(quantizedLevels, _offset / Columns, Rows);
            packed.LowBitPanels.MultiplyQuantized(a, m, c, accumulate);
        }
        else if (packed.LowBit is { } lowBit && m < PackedMatrix.BlockRows && PackedLowBitMatrix.IsPreferred)
        {
            packed.LowBitPanels ??= PackedLowBitMatrix.For(lowBit, _offset / Columns, Rows);
            packed.LowBitPanels.Multiply(a, m, c, accumulate);
        }
        else if (packed.RowScales is { } quantizedScales && quantizeInputs)
        {
            // Inputs quantized too (NativeModel.QuantizeInt8Activations): integer dot products, batches included.
            packed.Int8 ??= PackedInt8Matrix.For(_data, quantizedScales, _offset, Rows, Columns);
            packed.Int8.MultiplyQuantized(a, m, c, accumulate);
        }
        else if (packed.RowScales is { } rowScales && m < PackedMatrix.BlockRows && PackedInt8Matrix.IsPreferred)
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
    /// The low-bit levels of the whole array this matrix reads, when they hold its rows (the array's row length is
    /// <see cref="CompressedMatrix.Columns"/> and the matrix starts at a row), else null.
    /// </summary>
    private GroupQuantizedValues? LowBitLevels() =>
        (_viewLowBit ?? LowBitOf(_data)) is { } levels && Columns > 0 && levels.Columns == Columns && _offset % Columns == 0
            && levels.Levels.LongLength == _data.LongLength ? levels : null;

    /// <summary>
    /// The row scales and the packed forms, made on first use. Packing is idempotent (the packed forms are cached per
    /// array and range), so threads racing on <c>??=</c> get equal objects.
    /// </summary>
    private sealed class Packing(float[]? rowScales, GroupQuantizedValues? lowBit)
    {
        public float[]? RowScales { get; } = rowScales;

        public GroupQuantizedValues? LowBit { get; } = lowBit;

        public PackedLowBitMatrix? LowBitPanels;

        public PackedMatrix? Float;

        public PackedInt8Matrix? Int8;
    }
}
