using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// HMD's hybrid matrix: the first <see cref="DenseRows"/> rows are stored dense; the remaining rows form a grid of
/// <see cref="BlockRows"/> × <see cref="BlockColumns"/> blocks, each a rank-1 matrix u·vᵀ. Block boundaries split the
/// lower rows and the columns as evenly as integers allow (block i of n items of g starts at ⌊i·n/g⌋). Stored as the
/// dense top [DenseRows × columns], U [BlockColumns × lower rows] (row j holds the u of every block in block column j,
/// stacked down the block rows) and V [BlockRows × columns] (row i holds the v of every block in block row i): exactly
/// g_c·(rows − r) + g_r·columns parameters below the dense rows.
/// </summary>
public sealed partial class HybridMatrix : CompressedMatrix
{
    private readonly float[] _top;
    private readonly float[] _u;
    private readonly float[] _v;

    internal HybridMatrix(int rows, int columns, int denseRows, int blockRows, int blockColumns, float[] top, float[] u, float[] v)
        : base(rows, columns)
    {
        var lower = rows - denseRows;
        if (denseRows < 0 || denseRows > rows || top.Length != (long)denseRows * columns
            || (lower > 0 && (blockRows < 1 || blockRows > lower || blockColumns < 1 || blockColumns > columns))
            || u.Length != (long)(lower > 0 ? blockColumns : 0) * lower || v.Length != (long)(lower > 0 ? blockRows : 0) * columns)
        {
            throw new ArgumentException($"Inconsistent hybrid factors for [{rows} × {columns}] with {denseRows} dense rows and a {blockRows} × {blockColumns} grid.");
        }

        DenseRows = denseRows;
        BlockRows = lower > 0 ? blockRows : 0;
        BlockColumns = lower > 0 ? blockColumns : 0;
        _top = top;
        _u = u;
        _v = v;
    }

    /// <summary>Rows stored dense (the upper part).</summary>
    public int DenseRows { get; }

    /// <summary>Block rows over the lower rows (g_r).</summary>
    public int BlockRows { get; }

    /// <summary>Block columns (g_c).</summary>
    public int BlockColumns { get; }

    /// <inheritdoc/>
    public override string Method => "hmd";

    /// <inheritdoc/>
    public override long Parameters => _top.Length + (long)_u.Length + _v.Length;

    /// <inheritdoc/>
    public override string Structure => $"{DenseRows} dense rows (α = {(double)DenseRows / Rows:0.00}), {BlockRows} × {BlockColumns} rank-1 blocks";

    /// <inheritdoc/>
    protected override IReadOnlyList<MatrixFactor> FloatFactors =>
    [
        new("dense_rows", new Tensor<float>([DenseRows, Columns], _top)),
        new("block_u", new Tensor<float>([BlockColumns, Rows - DenseRows], _u)),
        new("block_v", new Tensor<float>([BlockRows, Columns], _v)),
    ];

    /// <inheritdoc/>
    /// <remarks>The dense rows multiply x itself; a block vector multiplies a slice of x scaled by its partner.</remarks>
    internal override double[]? InputMomentOf(string factor, double[] moment) => factor == "dense_rows" ? moment : null;

    /// <summary>Start of block <paramref name="index"/> of <paramref name="blocks"/> over <paramref name="length"/> items.</summary>
    internal static int BlockStart(int index, int length, int blocks) => (int)((long)index * length / blocks);

    /// <inheritdoc/>
    public override float[] ToDense()
    {
        var dense = new float[(long)Rows * Columns];
        _top.CopyTo(dense, 0);
        var lower = Rows - DenseRows;
        for (var i = 0; i < BlockRows; i++)
        {
            int r0 = BlockStart(i, lower, BlockRows), r1 = BlockStart(i + 1, lower, BlockRows);
            for (var j = 0; j < BlockColumns; j++)
            {
                int c0 = BlockStart(j, Columns, BlockColumns), c1 = BlockStart(j + 1, Columns, BlockColumns);
                for (var r = r0; r < r1; r++)
                {
                    TensorPrimitives.Multiply(_v.AsSpan(i * Columns + c0, c1 - c0), _u[j * lower + r],
                        dense.AsSpan((DenseRows + r) * Columns + c0, c1 - c0));
                }
            }
        }

        return dense;
    }

    internal override CompressedMatrix MapValues(Func<float[], float[]> map) =>
        new HybridMatrix(Rows, Columns, DenseRows, BlockRows, BlockColumns, map(_top), map(_u), map(_v));

    internal override CompressedMatrix UndoInputTransform(InputTransform transform, Dictionary<float[], float[]> shared)
    {
        // A diagonal change scales the dense rows' and every block's v columns; u is untouched, blocks stay rank-1.
        _ = transform.InverseScales();
        return new HybridMatrix(Rows, Columns, DenseRows, BlockRows, BlockColumns, transform.Undo(_top, DenseRows), _u, transform.Undo(_v, BlockRows));
    }
}
