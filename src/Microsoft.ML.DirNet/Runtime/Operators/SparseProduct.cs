using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// y = S·x for compressed sparse rows S (pruned weights, DirNet's codes): per row, a short sum of value × x[column].
/// Column indices are widened to int32 once at load; the sums use two accumulators so consecutive entries overlap.
/// </summary>
internal sealed class SparseProduct
{
    private readonly int[] _starts;
    private readonly int[] _columns;
    private readonly float[] _values;

    public SparseProduct(SparseRows rows)
    {
        // SparseRows has checked every column index against its column count and that the row starts ascend.
        _starts = rows.RowStarts;
        _columns = rows.ColumnIndices;
        _values = rows.Values;
        Rows = rows.Rows;
        Columns = rows.Columns;
        Source = rows;
    }

    public int Rows { get; }

    public int Columns { get; }

    public SparseRows Source { get; }

    /// <summary>y (+)= S·x for one input vector (<paramref name="x"/> at least <see cref="Columns"/> long).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Multiply(ReadOnlySpan<float> x, Span<float> y, bool accumulate)
    {
        if (x.Length < Columns || y.Length < Rows)
        {
            throw new ArgumentException($"A sparse [{Rows} × {Columns}] product needs {Columns} inputs and {Rows} outputs, got {x.Length} and {y.Length}.");
        }

        ref var input = ref MemoryMarshal.GetReference(x);
        ref var values = ref MemoryArrayReference(_values);
        ref var columns = ref MemoryArrayReference(_columns);
        for (var r = 0; r < Rows; r++)
        {
            int i = _starts[r], end = _starts[r + 1];
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

    /// <summary>Row <paramref name="row"/> of S·D for a dense row-major D [Columns × width] (S's row as a mix of D's rows).</summary>
    public void CombineRows(int row, ReadOnlySpan<float> dense, int width, Span<float> destination)
    {
        var target = destination[..width];
        target.Clear();
        for (var i = _starts[row]; i < _starts[row + 1]; i++)
        {
            TensorPrimitives.MultiplyAdd(dense.Slice(_columns[i] * width, width), _values[i], target, target);
        }
    }

    private static ref T MemoryArrayReference<T>(T[] array) => ref MemoryMarshal.GetArrayDataReference(array);
}
