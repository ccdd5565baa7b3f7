using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>An uncompressed matrix: every weight stored as float32, row-major.</summary>
public sealed class DenseMatrix : CompressedMatrix
{
    private readonly float[] _data;

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
    }

    /// <inheritdoc/>
    public override string Method => "dense";

    /// <inheritdoc/>
    public override long Parameters => _data.Length;

    /// <inheritdoc/>
    public override string Structure => "dense";

    /// <inheritdoc/>
    protected override IReadOnlyList<MatrixFactor> FloatFactors => [new("weight", new Tensor<float>([Rows, Columns], _data))];

    /// <inheritdoc/>
    internal override double[]? InputMomentOf(string factor, double[] moment) => moment;

    /// <summary>The row-major values.</summary>
    public ReadOnlySpan<float> Values => _data;

    /// <inheritdoc/>
    public override void Multiply(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckVector(x, y);
        for (var r = 0; r < Rows; r++)
        {
            y[r] = TensorPrimitives.Dot(_data.AsSpan(r * Columns, Columns), x[..Columns]);
        }
    }

    /// <inheritdoc/>
    public override float[] ToDense() => (float[])_data.Clone();

    internal override CompressedMatrix MapValues(Func<float[], float[]> map) => new DenseMatrix(map(_data), Rows, Columns);

    internal override CompressedMatrix UndoInputTransform(InputTransform transform, Dictionary<float[], float[]> shared) =>
        new DenseMatrix(transform.Undo(_data, Rows), Rows, Columns);
}
