using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// HMD's hybrid matrix applied directly: the dense top rows as a packed dense product, then the rank-1 blocks in two
/// vectorised passes rather than one short dot and one short add per block (the planner's blocks are often 8 × 8,
/// where per-call overhead would dominate). Pass 1 forms every block's dot sᵢⱼ = vᵢⱼ·x_j, all block rows at once:
/// Sᵀ[j, :] = Σ over the columns c of block column j of x[c]·Vᵀ[c, :]. Pass 2 gives each lower row r its output
/// y[r] = Σⱼ U[j, r]·S[i(r), j], one dot of length g_c per row against its block row's dots.
/// </summary>
internal sealed class HybridWeight : WeightOperator
{
    private readonly HybridMatrix _matrix;
    private readonly DenseWeight? _top;
    private readonly float[] _vTransposed;
    private readonly float[] _uTransposed;
    private readonly int[] _blockRowOf;
    private readonly int[] _rowStarts;
    private readonly int[] _columnStarts;

    public HybridWeight(HybridMatrix matrix)
    {
        _matrix = matrix;
        var factors = matrix.FullPrecisionFactors;
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

        _uTransposed = new float[u.Length];
        for (var j = 0; j < blockColumns; j++)
        {
            for (var r = 0; r < lower; r++)
            {
                _uTransposed[r * blockColumns + j] = u[j * lower + r];
            }
        }

        _blockRowOf = new int[lower];
        for (var i = 0; i < blockRows; i++)
        {
            _blockRowOf.AsSpan(_rowStarts[i], _rowStarts[i + 1] - _rowStarts[i]).Fill(i);
        }
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

        using var transposedDots = new ScratchBuffer(blockColumns * blockRows);
        using var dotsBuffer = new ScratchBuffer(blockRows * blockColumns);
        var sT = transposedDots.Span;
        var dots = dotsBuffer.Span;
        for (var row = 0; row < m; row++)
        {
            var x = a.Slice(row * Columns, Columns);
            for (var j = 0; j < blockColumns; j++)
            {
                BlockColumnDots(x, _columnStarts[j], _columnStarts[j + 1], sT.Slice(j * blockRows, blockRows));
            }

            for (var j = 0; j < blockColumns; j++)
            {
                for (var i = 0; i < blockRows; i++)
                {
                    dots[i * blockColumns + j] = sT[j * blockRows + i];
                }
            }

            var y = c.Slice(row * Rows + denseRows, lower);
            for (var r = 0; r < lower; r++)
            {
                var value = Dot(_uTransposed.AsSpan(r * blockColumns, blockColumns), dots.Slice(_blockRowOf[r] * blockColumns, blockColumns));
                y[r] = accumulate ? y[r] + value : value;
            }
        }
    }

    /// <summary>sᵀ[i] = Σ_{c0 ≤ c &lt; c1} x[c]·Vᵀ[c, i] for every block row i, eight block rows per vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BlockColumnDots(ReadOnlySpan<float> x, int c0, int c1, Span<float> target)
    {
        var blockRows = target.Length;
        ref var v = ref MemoryMarshal.GetArrayDataReference(_vTransposed);
        var i = 0;
        for (; i + Vector256<float>.Count <= blockRows; i += Vector256<float>.Count)
        {
            var sum = Vector256<float>.Zero;
            for (var k = c0; k < c1; k++)
            {
                sum = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref v, (nuint)(k * blockRows + i)), Vector256.Create(x[k]), sum);
            }

            sum.CopyTo(target[i..]);
        }

        for (; i < blockRows; i++)
        {
            var sum = 0f;
            for (var k = c0; k < c1; k++)
            {
                sum += x[k] * _vTransposed[k * blockRows + i];
            }

            target[i] = sum;
        }
    }

    /// <summary>A dot product of short spans without a call's overhead (g_c is often 16-64).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        ref var x = ref MemoryMarshal.GetReference(a);
        ref var y = ref MemoryMarshal.GetReference(b);
        var sum = Vector256<float>.Zero;
        var k = 0;
        for (; k + Vector256<float>.Count <= a.Length; k += Vector256<float>.Count)
        {
            sum = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)k), Vector256.LoadUnsafe(ref y, (nuint)k), sum);
        }

        var total = Vector256.Sum(sum);
        for (; k < a.Length; k++)
        {
            total += a[k] * b[k];
        }

        return total;
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
        CopyRows(top.Span, denseRows, c, Rows, m, denseRows, accumulate);
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
        var i = _blockRowOf[r];
        var u = _uTransposed.AsSpan(r * blockColumns, blockColumns);
        for (var j = 0; j < blockColumns; j++)
        {
            for (var k = _columnStarts[j]; k < _columnStarts[j + 1]; k++)
            {
                target[k] = u[j] * _vTransposed[k * blockRows + i];
            }
        }
    }
}
