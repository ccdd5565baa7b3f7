using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// HMD's hybrid matrix applied directly: the dense top rows as a packed dense product, then for each rank-1 block one
/// dot of its v with the block's columns of x and one scaled add of its u into the block's rows of y.
/// </summary>
internal sealed class HybridWeight : WeightOperator
{
    private readonly HybridMatrix _matrix;
    private readonly DenseWeight? _top;
    private readonly float[] _u;
    private readonly float[] _v;
    private readonly int[] _rowStarts;
    private readonly int[] _columnStarts;

    public HybridWeight(HybridMatrix matrix)
    {
        _matrix = matrix;
        var factors = matrix.Factors;
        _top = matrix.DenseRows > 0 ? new DenseWeight(factors[0].Tensor.As<float>().Data, 0, matrix.DenseRows, matrix.Columns) : null;
        _u = factors[1].Tensor.As<float>().Data;
        _v = factors[2].Tensor.As<float>().Data;
        var lower = matrix.Rows - matrix.DenseRows;
        _rowStarts = Enumerable.Range(0, matrix.BlockRows + 1).Select(i => HybridMatrix.BlockStart(i, lower, matrix.BlockRows)).ToArray();
        _columnStarts = Enumerable.Range(0, matrix.BlockColumns + 1).Select(j => HybridMatrix.BlockStart(j, matrix.Columns, matrix.BlockColumns)).ToArray();
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
            if (m == 1)
            {
                _top.Multiply(a, 1, c, accumulate);
            }
            else
            {
                using var top = new ScratchBuffer(m * denseRows);
                _top.Multiply(a, m, top.Span, accumulate: false);
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
        }

        var lower = Rows - denseRows;
        for (var i = 0; i < m; i++)
        {
            var x = a.Slice(i * Columns, Columns);
            var y = c.Slice(i * Rows + denseRows, lower);
            if (!accumulate)
            {
                y.Clear();
            }

            for (var br = 0; br + 1 < _rowStarts.Length; br++)
            {
                int r0 = _rowStarts[br], r1 = _rowStarts[br + 1];
                var segment = y[r0..r1];
                var v = _v.AsSpan(br * Columns, Columns);
                for (var bc = 0; bc + 1 < _columnStarts.Length; bc++)
                {
                    int c0 = _columnStarts[bc], c1 = _columnStarts[bc + 1];
                    var s = TensorPrimitives.Dot(v[c0..c1], x[c0..c1]);
                    TensorPrimitives.MultiplyAdd(_u.AsSpan(bc * lower + r0, r1 - r0), s, segment, segment);
                }
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

        var r = row - _matrix.DenseRows;
        var lower = Rows - _matrix.DenseRows;
        var br = Array.FindLastIndex(_rowStarts, s => s <= r);
        for (var bc = 0; bc + 1 < _columnStarts.Length; bc++)
        {
            int c0 = _columnStarts[bc], c1 = _columnStarts[bc + 1];
            TensorPrimitives.Multiply(_v.AsSpan(br * Columns + c0, c1 - c0), _u[bc * lower + r], target[c0..c1]);
        }
    }
}
