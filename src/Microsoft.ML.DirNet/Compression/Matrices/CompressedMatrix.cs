using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// A weight matrix W [<see cref="Rows"/> × <see cref="Columns"/>], applied as y = W·x, in the stored form of one
/// compression method: dense, dictionary (DirNet), hybrid (HMD), low-rank or sparse (pruned). Reports, tests and the
/// exporter all go through this contract, so the sizes they print are the sizes of the factors written.
/// </summary>
/// <remarks>Instances are immutable after construction and safe to use from many threads at once.</remarks>
public abstract partial class CompressedMatrix
{
    private long _storageBytes = -1;

    /// <summary>Creates the base with the matrix's shape.</summary>
    protected CompressedMatrix(int rows, int columns)
    {
        if (rows <= 0 || columns <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"A matrix needs positive dimensions, got [{rows} × {columns}].");
        }

        Rows = rows;
        Columns = columns;
    }

    /// <summary>Outputs (rows of W).</summary>
    public int Rows { get; }

    /// <summary>Inputs (columns of W).</summary>
    public int Columns { get; }

    /// <summary>The method's short name as the command line spells it: dense, dirnet, odl, hmd, lowrank or prune.</summary>
    public abstract string Method { get; }

    /// <summary>Stored numbers that are weights (factor values), not indices or offsets.</summary>
    public abstract long Parameters { get; }

    /// <summary>The chosen structure in words, e.g. <c>rank 53</c> or <c>115 atoms, 98,004 codes</c>, for reports.</summary>
    public abstract string Structure { get; }

    /// <summary>
    /// The arrays this matrix is stored as, in a fixed order, each named for its role (e.g. <c>dictionary</c>,
    /// <c>code_values</c>). They are exactly what <see cref="WriteTo"/> writes and what the exporter stores: values as
    /// float32, as float16, or as int8 each followed by its row scales (<c>{name}_scale</c>, float32 [rows × 1]) as
    /// <see cref="Precision"/> says; indices and row starts as they are.
    /// </summary>
    /// <remarks>
    /// A low-bit value array (<see cref="FactorPrecision.Int4"/> and below) is stored as three arrays: its levels packed
    /// into bytes (uint8, one dimension; see <see cref="LevelPacking"/>), its group scales (<c>{name}_scale</c>, float16
    /// [rows × groups per row]) and, for the asymmetric grids, its zero points packed the same way (<c>{name}_zero</c>).
    /// Its rows are the first dimension of a 2-D factor; the values of sparse rows are one row, grouped in storage order.
    /// </remarks>
    public IReadOnlyList<MatrixFactor> Factors => Precision switch
    {
        FactorPrecision.Float16 => FloatFactors.Select(f => f.Tensor is Tensor<float> values ? f with { Tensor = ToHalf(values) } : f).ToArray(),
        FactorPrecision.Int8 => FloatFactors.SelectMany(f => f.Tensor is Tensor<float> values ? Int8Factors(f, values) : [f]).ToArray(),
        FactorPrecision.Float32 => FloatFactors,
        _ => FloatFactors.SelectMany(f => f.Tensor is Tensor<float> { Length: > 0 } values ? LowBitFactors(f, _lowBit![values.Data]) : [f]).ToArray(),
    };

    /// <summary>Values per group of the low-bit precisions (<see cref="FactorPrecision.Int4"/> and below); 0 otherwise.</summary>
    public int GroupSize => Grid?.GroupSize ?? 0;

    /// <summary>The grid of the low-bit precisions; null otherwise.</summary>
    internal LowBitGrid? Grid { get; private set; }

    /// <summary>For low-bit values, each non-empty value array's levels, scales and zero points.</summary>
    private IReadOnlyDictionary<float[], GroupQuantizedValues>? _lowBit;

    /// <summary>
    /// For low-bit values, the shape of each stored value array by factor name (its packed levels have one dimension,
    /// so the file records the shape beside them); empty otherwise.
    /// </summary>
    internal IReadOnlyDictionary<string, int[]> LowBitShapes => _lowBit is null
        ? new Dictionary<string, int[]>()
        : FloatFactors.Where(f => f.Tensor is Tensor<float> { Length: > 0 }).ToDictionary(f => f.Name, f => f.Tensor.Shape);

    /// <summary>
    /// The inputs' second moment of the value array named <paramref name="factor"/>, given the moment
    /// <paramref name="moment"/> [Columns × Columns] of the matrix's inputs x, when that array multiplies something
    /// whose moment follows from it (GPTQ quantizes such an array in ‖(A − Â)·X‖); null for the others.
    /// </summary>
    internal virtual double[]? InputMomentOf(string factor, double[] moment) => null;

    /// <summary>
    /// Whether the values are stored in half precision (float16): they were rounded to it, so products, the dense
    /// matrix and the stored factors all use the same numbers.
    /// </summary>
    public bool HalfPrecision => Precision == FactorPrecision.Float16;

    /// <summary>
    /// How the values are stored. Below float32 they were rounded to that precision when it was chosen, so products,
    /// the dense matrix and the stored factors all use the same numbers.
    /// </summary>
    public FactorPrecision Precision { get; private set; }

    /// <summary>For int8 values, each value array's row scales.</summary>
    private IReadOnlyDictionary<float[], float[]>? _int8Scales;

    /// <summary>
    /// The row scales of one of this matrix's value arrays (a factor's float32 values, by reference) when the matrix is
    /// stored as int8, else null: the native operators run such arrays through int8 kernels.
    /// </summary>
    internal float[]? Int8ScalesOf(float[] values) =>
        _int8Scales is { } scales && scales.TryGetValue(values, out var rowScales) ? rowScales : null;

    /// <summary>
    /// The levels of one of this matrix's value arrays (a factor's float32 values, by reference) when the matrix is
    /// stored on a low-bit grid, else null: the native operators run such arrays from their levels.
    /// </summary>
    internal GroupQuantizedValues? LowBitOf(float[] values) => _lowBit is { } stored && stored.TryGetValue(values, out var levels) ? levels : null;

    /// <summary>The factors in <see cref="Factors"/>' order with values as float32.</summary>
    protected abstract IReadOnlyList<MatrixFactor> FloatFactors { get; }

    /// <summary>Exact storage in bytes: the sum of the factors' bytes.</summary>
    public long StorageBytes
    {
        get
        {
            if (_storageBytes < 0)
            {
                _storageBytes = Factors.Sum(f => f.Tensor.ByteCount);
            }

            return _storageBytes;
        }
    }

    /// <summary>The dense matrix this stored form represents, row-major [Rows × Columns].</summary>
    public abstract float[] ToDense();

    /// <summary>Writes the factors' little-endian bytes in order; exactly <see cref="StorageBytes"/> bytes.</summary>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        foreach (var factor in Factors)
        {
            stream.Write(factor.Tensor.AsBytes());
        }
    }

    /// <summary>Checks that a vector pair fits this matrix.</summary>
    protected void CheckVector(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length < Columns || y.Length < Rows)
        {
            throw new ArgumentException($"A [{Rows} × {Columns}] matrix needs an input of {Columns} and an output of {Rows}, got {x.Length} and {y.Length}.");
        }
    }

    /// <summary>Checks that a batch fits this matrix.</summary>
    protected void CheckBatch(ReadOnlySpan<float> a, int m, Span<float> c)
    {
        if (m < 0 || a.Length < (long)m * Columns || c.Length < (long)m * Rows)
        {
            throw new ArgumentException($"A batch of {m} rows for a [{Rows} × {Columns}] matrix needs inputs of {(long)m * Columns} and outputs of {(long)m * Rows}, got {a.Length} and {c.Length}.");
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Method} [{Rows} × {Columns}], {StorageBytes} bytes";

    /// <summary>
    /// The same structure with every value rounded to float16 and stored so. Matrices sharing a dictionary round it
    /// once through <paramref name="shared"/> and keep sharing it. Rounding twice changes nothing.
    /// </summary>
    internal CompressedMatrix ToHalfPrecision(Dictionary<float[], float[]> shared)
    {
        var rounded = MapValues(values =>
        {
            if (!shared.TryGetValue(values, out var result))
            {
                result = shared[values] = Array.ConvertAll(values, v => (float)(Half)v);
            }

            return result;
        });
        rounded.Precision = FactorPrecision.Float16;
        return rounded;
    }

    /// <summary>
    /// The same structure with every value quantized to int8 with one scale per row (<see cref="Int8Rows"/>).
    /// Matrices sharing a dictionary quantize it once through <paramref name="shared"/> and keep sharing it.
    /// </summary>
    internal CompressedMatrix ToInt8Precision(Dictionary<float[], (float[] Values, float[] Scales)> shared)
    {
        var factors = QuantizedFactors.ToArray();
        var rowStarts = factors.Where(f => f.Tensor is Tensor<float>)
            .ToDictionary(f => ((Tensor<float>)f.Tensor).Data, f => Int8Rows.RowStarts(f, factors)); // arrays compare by reference
        var scales = new Dictionary<float[], float[]>();
        var quantized = MapValues(values =>
        {
            if (!shared.TryGetValue(values, out var result))
            {
                result = shared[values] = Int8Rows.Quantize(values, rowStarts[values]);
            }

            scales[result.Values] = result.Scales;
            return result.Values;
        });
        return quantized.WithInt8Scales(scales);
    }

    /// <summary>
    /// The same structure with every non-empty value array on a low-bit grid, quantized by <paramref name="quantize"/>
    /// (given the factor and, when <paramref name="moment"/> is known, its inputs' moment, <see cref="InputMomentOf"/>).
    /// Matrices sharing a dictionary quantize it once through <paramref name="shared"/> and keep sharing it.
    /// </summary>
    internal CompressedMatrix ToLowBitPrecision(LowBitGrid grid, Func<MatrixFactor, double[]?, GroupQuantizedValues> quantize, double[]? moment,
        Dictionary<float[], (float[] Values, GroupQuantizedValues Stored)> shared)
    {
        var factors = QuantizedFactors.Where(f => f.Tensor is Tensor<float>).ToDictionary(f => ((Tensor<float>)f.Tensor).Data); // by reference
        var stored = new Dictionary<float[], GroupQuantizedValues>();
        var quantized = MapValues(values =>
        {
            if (values.Length == 0)
            {
                return values;
            }

            if (!shared.TryGetValue(values, out var result))
            {
                var factor = factors[values];
                var levels = quantize(factor, moment is null ? null : InputMomentOf(factor.Name, moment));
                result = shared[values] = (levels.Dequantize(), levels);
            }

            stored[result.Values] = result.Stored;
            return result.Values;
        });
        return quantized.WithLowBit(grid, stored);
    }

    /// <summary>
    /// Marks this matrix, whose non-empty value arrays are already the dequantized values of <paramref name="stored"/>
    /// (by array), as stored on <paramref name="grid"/>.
    /// </summary>
    internal CompressedMatrix WithLowBit(LowBitGrid grid, IReadOnlyDictionary<float[], GroupQuantizedValues> stored)
    {
        Precision = LowBitPrecision.Of(grid);
        Grid = grid;
        _lowBit = stored;
        return this;
    }

    /// <summary>How a value array of <paramref name="shape"/> is grouped: a 2-D array by its rows, any other as one row.</summary>
    internal static (int Rows, int Columns) LowBitLayout(int[] shape) => shape.Length == 2 ? (shape[0], shape[1]) : (1, shape.Aggregate(1, (a, b) => a * b));

    /// <summary>The name of a low-bit factor's packed zero points.</summary>
    internal static string ZeroPointName(string factor) => factor + "_zero";

    private static IEnumerable<MatrixFactor> LowBitFactors(MatrixFactor factor, GroupQuantizedValues stored)
    {
        var levels = stored.PackedLevels();
        yield return new MatrixFactor(factor.Name, new Tensor<byte>([levels.Length], levels));
        yield return new MatrixFactor(Int8Rows.ScaleName(factor.Name), new Tensor<Half>([stored.Rows, stored.Grid.GroupsPerRow(stored.Columns)], stored.Scales));
        if (stored.Grid.HasZeroPoints)
        {
            var zeros = stored.PackedZeroPoints();
            yield return new MatrixFactor(ZeroPointName(factor.Name), new Tensor<byte>([zeros.Length], zeros));
        }
    }

    /// <summary>Marks this matrix, whose value arrays are already on the int8 grid, as stored in int8 with these row scales.</summary>
    internal CompressedMatrix WithInt8Scales(IReadOnlyDictionary<float[], float[]> scales)
    {
        Precision = FactorPrecision.Int8;
        _int8Scales = scales;
        return this;
    }

    /// <summary>
    /// The factors with float32 values, plus any value array the matrix uses but another matrix stores (a shared
    /// dictionary), so that every array <see cref="MapValues"/> maps can be given its rows.
    /// </summary>
    private protected virtual IEnumerable<MatrixFactor> QuantizedFactors => FloatFactors;

    private IEnumerable<MatrixFactor> Int8Factors(MatrixFactor factor, Tensor<float> values)
    {
        var rowStarts = Int8Rows.RowStarts(factor, FloatFactors);
        // An empty factor (HMD with no dense rows) is not stored, so a matrix read back has no scales for it.
        var scales = values.Length == 0 ? new float[rowStarts.Length - 1] : _int8Scales![values.Data];
        yield return new MatrixFactor(factor.Name, new Tensor<sbyte>(values.Shape, Int8Rows.Levels(values.Data, scales, rowStarts)));
        yield return new MatrixFactor(Int8Rows.ScaleName(factor.Name), new Tensor<float>([scales.Length, 1], scales));
    }

    /// <summary>The same structure with each value array replaced by <paramref name="map"/>'s result.</summary>
    internal abstract CompressedMatrix MapValues(Func<float[], float[]> map);

    private static Tensor<Half> ToHalf(Tensor<float> values) => new(values.Shape, Array.ConvertAll(values.Data, v => (Half)v));

    /// <summary>
    /// The same structure fitted to W·T, mapped back to W's inputs (input side multiplied by T⁻¹). Matrices sharing
    /// a dictionary map it once through <paramref name="shared"/> and keep sharing it.
    /// </summary>
    internal abstract CompressedMatrix UndoInputTransform(InputTransform transform, Dictionary<float[], float[]> shared);
}

/// <summary>One stored array of a <see cref="CompressedMatrix"/>.</summary>
/// <param name="Name">Its role, e.g. <c>dictionary</c>, <c>code_values</c>, <c>code_columns</c>, <c>row_starts</c>.</param>
/// <param name="Tensor">The array with its shape and element type.</param>
public sealed record MatrixFactor(string Name, Tensor Tensor);
