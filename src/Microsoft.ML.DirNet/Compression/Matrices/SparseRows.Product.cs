using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Numerics.Simd;

namespace Microsoft.ML.DirNet.Compression;

// y = S·x over the rows (pruned weights, DirNet's codes): per row, a short sum of value × x[column], with two
// accumulators so consecutive entries overlap; a batch runs vectorised over its inputs instead. The constructor has
// checked every column index against the column count and that the row starts ascend, so the loops read unchecked.
internal sealed partial class SparseRows
{
    /// <summary>Inputs from which a product runs the rows vectorised over the batch (<see cref="MultiplyBatch(ReadOnlySpan{float}, int, Span{float}, bool)"/>).</summary>
    internal const int BatchRows = 8;

    /// <summary>y (+)= S·x for one input vector (<paramref name="x"/> at least <see cref="Columns"/> long).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Multiply(ReadOnlySpan<float> x, Span<float> y, bool accumulate)
    {
        if (x.Length < Columns || y.Length < Rows)
        {
            throw new ArgumentException($"A sparse [{Rows} × {Columns}] product needs {Columns} inputs and {Rows} outputs, got {x.Length} and {y.Length}.");
        }

        ref var input = ref MemoryMarshal.GetReference(x);
        ref var values = ref MemoryMarshal.GetArrayDataReference(Values);
        ref var columns = ref MemoryMarshal.GetArrayDataReference(ColumnIndices);
        for (var r = 0; r < Rows; r++)
        {
            int i = RowStarts[r], end = RowStarts[r + 1];
            float s0 = 0, s1 = 0;
            for (; i + 1 < end; i += 2)
            {
                s0 += Unsafe.Add(ref values, i) * Unsafe.Add(ref input, Unsafe.Add(ref columns, i));
                s1 += Unsafe.Add(ref values, i + 1) * Unsafe.Add(ref input, Unsafe.Add(ref columns, i + 1));
            }

            if (i < end)
            {
                s0 += Unsafe.Add(ref values, i) * Unsafe.Add(ref input, Unsafe.Add(ref columns, i));
            }

            y[r] = accumulate ? y[r] + (s0 + s1) : s0 + s1;
        }
    }

    /// <summary>
    /// C[m × Rows] (+)= A[m × Columns]·Sᵀ for a batch of inputs (a whole sequence's input projection), vectorised over
    /// the batch: A is transposed once so each entry of S multiplies a contiguous run of the batch's values, and a
    /// vector of batch rows (the widest rung of the SIMD ladder: 16 with AVX-512, 4 on ARM64) advances per multiply-add.
    /// Per entry this costs one vector operation per vector of inputs instead of one gather per input.
    /// </summary>
    public void MultiplyBatch(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate) => MultiplyBatch(a, m, c, accumulate, LaneLadder.Widest);

    /// <summary>As <see cref="MultiplyBatch(ReadOnlySpan{float}, int, Span{float}, bool)"/> on a given rung (the tests run each).</summary>
    internal void MultiplyBatch(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate, LaneWidth rung)
    {
        switch (rung)
        {
            case LaneWidth.Vector512: MultiplyBatch<Lanes512, Vector512<float>, Vector512<uint>>(a, m, c, accumulate); break;
            case LaneWidth.Vector256: MultiplyBatch<Lanes256, Vector256<float>, Vector256<uint>>(a, m, c, accumulate); break;
            case LaneWidth.Vector128: MultiplyBatch<Lanes128, Vector128<float>, Vector128<uint>>(a, m, c, accumulate); break;
            default: MultiplyBatch<LanesScalar, float, uint>(a, m, c, accumulate); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MultiplyBatch<TLanes, TFloat, TUInt>(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
        where TLanes : struct, ILanes<TFloat, TUInt>
    {
        var width = TLanes.Count;
        var chunks = (m + width - 1) / width;
        var padded = chunks * width;
        using var transposedBuffer = new ScratchBuffer((long)Columns * padded);
        var transposed = transposedBuffer.Span;
        transposed.Clear();
        for (var i = 0; i < m; i++)
        {
            for (var k = 0; k < Columns; k++)
            {
                transposed[k * padded + i] = a[i * Columns + k];
            }
        }

        // Results are kept transposed too ([Rows × padded], one vector store per row and chunk) and written back in
        // blocks of rows, so C is written in contiguous runs rather than one float per row.
        using var resultBuffer = new ScratchBuffer((long)Rows * padded);
        var result = resultBuffer.Span;
        ref var values = ref MemoryMarshal.GetArrayDataReference(Values);
        ref var columns = ref MemoryMarshal.GetArrayDataReference(ColumnIndices);
        ref var input = ref MemoryMarshal.GetReference(transposed);
        ref var output = ref MemoryMarshal.GetReference(result);
        for (var r = 0; r < Rows; r++)
        {
            for (var first = 0; first < padded; first += width)
            {
                var sum = TLanes.Zero;
                for (var i = RowStarts[r]; i < RowStarts[r + 1]; i++)
                {
                    var row = TLanes.Load(ref Unsafe.Add(ref input, (nuint)(Unsafe.Add(ref columns, i) * padded + first)));
                    sum = TLanes.MultiplyAdd(row, TLanes.Broadcast(Unsafe.Add(ref values, i)), sum);
                }

                TLanes.Store(sum, ref Unsafe.Add(ref output, (nuint)(r * padded + first)));
            }
        }

        const int block = 64;
        for (var r0 = 0; r0 < Rows; r0 += block)
        {
            var r1 = System.Math.Min(Rows, r0 + block);
            for (var b = 0; b < m; b++)
            {
                var target = c.Slice(b * Rows + r0, r1 - r0);
                for (var r = r0; r < r1; r++)
                {
                    var value = result[r * padded + b];
                    target[r - r0] = accumulate ? target[r - r0] + value : value;
                }
            }
        }
    }

    /// <summary>Row <paramref name="row"/> of S·D for a dense row-major D [Columns × width] (S's row as a mix of D's rows).</summary>
    public void CombineRows(int row, ReadOnlySpan<float> dense, int width, Span<float> destination)
    {
        var target = destination[..width];
        target.Clear();
        for (var i = RowStarts[row]; i < RowStarts[row + 1]; i++)
        {
            TensorPrimitives.MultiplyAdd(dense.Slice(ColumnIndices[i] * width, width), Values[i], target, target);
        }
    }
}
