using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>An uncompressed matrix: every weight stored as float32, row-major.</summary>
public sealed partial class DenseMatrix : CompressedMatrix
{
    /// <summary>The values, from <see cref="_offset"/> on (a whole array, or a slice of an ONNX tensor the engine reads in place).</summary>
    private readonly float[] _data;
    private readonly int _offset;

    /// <summary>The values as one array of exactly Rows × Columns: <see cref="_data"/> itself, or a copy of its slice made on first use.</summary>
    private float[]? _stored;

    /// <summary>Wraps row-major data [rows × columns] (not copied; do not change it afterwards).</summary>
    public DenseMatrix(float[] data, int rows, int columns)
        : base(rows, columns)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length != (long)rows * columns)
        {
            throw new ArgumentException($"A [{rows} × {columns}] matrix needs {(long)rows * columns} values, got {data.Length}.", nameof(data));
        }

        _data = data;
        _stored = data;
    }

    /// <inheritdoc/>
    public override string Method => "dense";

    /// <inheritdoc/>
    public override long Parameters => (long)Rows * Columns;

    /// <inheritdoc/>
    public override string Structure => "dense";

    /// <inheritdoc/>
    protected override IReadOnlyList<MatrixFactor> FloatFactors => [new("weight", new Tensor<float>([Rows, Columns], Stored))];

    /// <inheritdoc/>
    internal override double[]? InputMomentOf(string factor, double[] moment) => moment;

    /// <summary>The row-major values.</summary>
    public ReadOnlySpan<float> Values => _data.AsSpan(_offset, Rows * Columns);

    /// <summary>The values as one array; a slice is copied once, so every caller sees the same array (value maps key on it).</summary>
    private float[] Stored => _stored ?? Interlocked.CompareExchange(ref _stored, Values.ToArray(), null) ?? _stored;

    /// <inheritdoc/>
    public override float[] ToDense() => Values.ToArray();

    internal override CompressedMatrix MapValues(Func<float[], float[]> map) => new DenseMatrix(map(Stored), Rows, Columns);

    internal override CompressedMatrix UndoInputTransform(InputTransform transform, Dictionary<float[], float[]> shared) =>
        new DenseMatrix(transform.Undo(Stored, Rows), Rows, Columns);
}
