using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>W ≈ U·V with U [rows × rank] and V [rank × columns] (truncated SVD): y = U·(V·x), two thin products.</summary>
public sealed partial class LowRankMatrix : CompressedMatrix
{
    private readonly float[] _left;
    private readonly float[] _right;

    /// <summary>Wraps the factors, row-major (not copied).</summary>
    public LowRankMatrix(float[] left, float[] right, int rows, int columns, int rank)
        : base(rows, columns)
    {
        if (rank <= 0 || left.Length != (long)rows * rank || right.Length != (long)rank * columns)
        {
            throw new ArgumentException($"Low-rank factors for [{rows} × {columns}] at rank {rank} need {(long)rows * rank} and {(long)rank * columns} values, got {left.Length} and {right.Length}.");
        }

        _left = left;
        _right = right;
        Rank = rank;
    }

    /// <summary>The inner dimension.</summary>
    public int Rank { get; }

    /// <summary>U [rows × rank], row-major, as the products use it (dequantized when stored below float32).</summary>
    internal float[] LeftValues => _left;

    /// <summary>V [rank × columns], row-major, as the products use it (dequantized when stored below float32).</summary>
    internal float[] RightValues => _right;

    /// <inheritdoc/>
    public override string Method => "lowrank";

    /// <inheritdoc/>
    public override long Parameters => _left.Length + (long)_right.Length;

    /// <inheritdoc/>
    public override string Structure => $"rank {Rank}";

    /// <inheritdoc/>
    protected override IReadOnlyList<MatrixFactor> FloatFactors =>
        [new("left", new Tensor<float>([Rows, Rank], _left)), new("right", new Tensor<float>([Rank, Columns], _right))];

    /// <inheritdoc/>
    /// <remarks>V multiplies x; U multiplies t = V·x, whose moment is V·C·Vᵀ.</remarks>
    internal override double[]? InputMomentOf(string factor, double[] moment) => factor switch
    {
        "right" => moment,
        "left" => InputMoments.Through(_right, Rank, Columns, moment),
        _ => null,
    };

    /// <inheritdoc/>
    public override float[] ToDense()
    {
        var dense = new float[(long)Rows * Columns];
        for (var r = 0; r < Rows; r++)
        {
            var row = dense.AsSpan(r * Columns, Columns);
            for (var k = 0; k < Rank; k++)
            {
                TensorPrimitives.MultiplyAdd(_right.AsSpan(k * Columns, Columns), _left[r * Rank + k], row, row);
            }
        }

        return dense;
    }

    internal override CompressedMatrix MapValues(Func<float[], float[]> map) => new LowRankMatrix(map(_left), map(_right), Rows, Columns, Rank);

    internal override CompressedMatrix UndoInputTransform(InputTransform transform, Dictionary<float[], float[]> shared) =>
        new LowRankMatrix(_left, transform.Undo(_right, Rank), Rows, Columns, Rank);
}
