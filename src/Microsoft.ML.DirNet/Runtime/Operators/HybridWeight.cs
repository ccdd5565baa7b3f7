using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// HMD's hybrid matrix applied directly: the dense top rows as a packed dense product, then the rank-1 blocks in two
/// passes with long vectors instead of one short dot and one short add per block (blocks are often 8 × 8, where call
/// overhead would dominate). Pass 1 forms every block's dot sᵢⱼ = vᵢⱼ·x_j as Sᵀ[j, :] += x[c]·Vᵀ[c, :] over the
/// columns c of block column j. Pass 2 gives each block row i its outputs y[rows of i] = Uᵢᵀ·Sᵀ[:, i], one small dense
/// product per block row with Uᵢᵀ [block height × g_c] packed once at load.
/// </summary>
internal sealed class HybridWeight : WeightOperator
{
    private readonly HybridMatrix _matrix;
    private readonly DenseWeight? _top;
    private readonly float[] _vTransposed;
    private readonly DenseWeight[] _blockRows;
    private readonly int[] _rowStarts;
    private readonly int[] _columnStarts;

    public HybridWeight(HybridMatrix matrix)
    {
        _matrix = matrix;
        var factors = matrix.Factors;
        int columns = matrix.Columns, lower = matrix.Rows - matrix.DenseRows, blockRows = matrix.BlockRows, blockColumns = matrix.BlockColumns;
        _top = matrix.DenseRows > 0 ? new DenseWeight(factors[0].Tensor.As<float>().Data, 0, matrix.DenseRows, columns) : null;
        var u = factors[1].Tensor.As<float>().Data;
        var v = factors[2].Tensor.As<float>().Data;
        _rowStarts = Enumerable.Range(0, blockRows + 1).Select(i => HybridMatrix.BlockStart(i, lower, blockRows)).ToArray();
        _columnStarts = Enumerable.Range(0, blockColumns + 1).Select(j => HybridMatrix.BlockStart(j, columns, blockColumns)).ToArray();

        _vTransposed = new float[v.Length];
        for (var i = 0; i < blockRows; i++)
        {
            for (var c = 0; c < columns; c++)
            {
                _vTransposed[c * blockRows + i] = v[i * columns + c];
            }
        }

        var uTransposed = new float[u.Length];
        for (var j = 0; j < blockColumns; j++)
        {
            for (var r = 0; r < lower; r++)
            {
                uTransposed[r * blockColumns + j] = u[j * lower + r];
            }
        }

        _blockRows = Enumerable.Range(0, blockRows)
            .Select(i => new DenseWeight(uTransposed, _rowStarts[i] * blockColumns, _rowStarts[i + 1] - _rowStarts[i], blockColumns)).ToArray();
    }

    public override int Rows => _matrix.Rows;

    public override int Columns => _matrix.Columns;

    public override string Form => "hybrid";

    public override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        CheckSpans(a, m, c);
        var denseRows = _matrix.DenseRows;
        if (_top is not null)
        {
            MultiplyTop(a, m, c, accumulate);
        }

        int lower = Rows - denseRows, blockRows = _matrix.BlockRows, blockColumns = _matrix.BlockColumns;
        if (lower == 0)
        {
            return;
        }

        using var dots = new ScratchBuffer(blockColumns * blockRows);
        using var column = new ScratchBuffer(blockColumns);
        var sT = dots.Span;
        var s = column.Span;
        for (var row = 0; row < m; row++)
        {
            var x = a.Slice(row * Columns, Columns);
            sT.Clear();
            for (var j = 0; j < blockColumns; j++)
            {
                var target = sT.Slice(j * blockRows, blockRows);
                for (var k = _columnStarts[j]; k < _columnStarts[j + 1]; k++)
                {
                    TensorPrimitives.MultiplyAdd(_vTransposed.AsSpan(k * blockRows, blockRows), x[k], target, target);
                }
            }

            var y = c.Slice(row * Rows + denseRows, lower);
            for (var i = 0; i < blockRows; i++)
            {
                for (var j = 0; j < blockColumns; j++)
                {
                    s[j] = sT[j * blockRows + i];
                }

                _blockRows[i].Multiply(s, 1, y[_rowStarts[i].._rowStarts[i + 1]], accumulate);
            }
        }
    }

    private void MultiplyTop(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        var denseRows = _matrix.DenseRows;
        if (m == 1)
        {
            _top!.Multiply(a, 1, c, accumulate);
            return;
        }

        using var top = new ScratchBuffer(m * denseRows);
        _top!.Multiply(a, m, top.Span, accumulate: false);
        for (var i = 0; i < m; i++)
        {
            var target = c.Slice(i * Rows, denseRows);
            var source = top.Span.Slice(i * denseRows, denseRows);
            if (accumulate)
            {
                TensorPrimitives.Add(target, source, target);
            }
            else
            {
                source.CopyTo(target);
            }
        }
    }

    public override void ReadRow(int row, Span<float> destination)
    {
        var target = destination[..Columns];
        if (row < _matrix.DenseRows)
        {
            _top!.ReadRow(row, target);
            return;
        }

        // Row r of the lower part: for each block column j, u[j, r] times block row i's v over that block's columns.
        var r = row - _matrix.DenseRows;
        int blockRows = _matrix.BlockRows, blockColumns = _matrix.BlockColumns;
        var i = Array.FindLastIndex(_rowStarts, start => start <= r);
        using var scratch = new ScratchBuffer(blockColumns);
        var u = scratch.Span;
        _blockRows[i].ReadRow(r - _rowStarts[i], u);
        for (var j = 0; j < blockColumns; j++)
        {
            for (var k = _columnStarts[j]; k < _columnStarts[j + 1]; k++)
            {
                target[k] = u[j] * _vTransposed[k * blockRows + i];
            }
        }
    }
}
