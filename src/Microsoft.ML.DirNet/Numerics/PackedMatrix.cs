using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Microsoft.ML.DirNet.Numerics.Simd;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// A weight matrix W [rows, columns] rearranged for y = W·x: rows are grouped into panels as wide as one SIMD vector
/// of the widest rung of the ladder (16 floats with AVX-512, 8 with AVX2, 4 with SSE or ARM64), and each panel is stored column by column. A product then reads the matrix as one
/// contiguous stream, does one load per FMA and writes whole vectors of outputs with no horizontal sums; on the 2048×512
/// recurrent matrix of a 512-unit LSTM this measured 1.6x faster than dot products over plain rows.
/// </summary>
internal sealed class PackedMatrix
{
    /// <summary>
    /// How far ahead of the FMAs (in floats) the panel stream is prefetched: 4 KB. The hardware prefetcher alone left
    /// the product at 49 µs for a 4 MB matrix; with this it measured 41 µs (~100 GB/s from L3), on par with ONNX Runtime.
    /// </summary>
    private const int PrefetchDistance = 1024;

    private static readonly ConditionalWeakTable<float[], System.Collections.Concurrent.ConcurrentDictionary<(int Offset, int Rows, int Columns, int Width), PackedMatrix>> Cache = new();

    private static readonly ConditionalWeakTable<float[], System.Collections.Concurrent.ConcurrentDictionary<(int Inner, int Outer, int Width), PackedMatrix>> TransposedCache = new();

    private readonly float[] _panels;
    private readonly int _width;

    private PackedMatrix(float[] panels, int rows, int columns, int width)
    {
        (_panels, Rows, Columns, _width) = (panels, rows, columns, width);
    }

    private PackedMatrix(ReadOnlySpan<float> w, int rows, int columns, int width)
    {
        Rows = rows;
        Columns = columns;
        _width = width;
        var panelCount = (rows + width - 1) / width;
        _panels = new float[panelCount * columns * width];
        for (var r = 0; r < rows; r++)
        {
            var panel = r / width;
            var lane = r % width;
            var source = w.Slice(r * columns, columns);
            for (var k = 0; k < columns; k++)
            {
                _panels[(panel * columns + k) * width + lane] = source[k];
            }
        }
    }

    /// <summary>
    /// True where this machine accelerates vectors (any rung of the ladder: AVX-512, AVX2, SSE or ARM64's Advanced SIMD);
    /// else products use <see cref="MatrixMultiply"/>.
    /// </summary>
    public static bool IsSupported => LaneLadder.Widest != LaneWidth.Scalar;

    /// <summary>Outputs.</summary>
    public int Rows { get; }

    /// <summary>Inputs.</summary>
    public int Columns { get; }

    /// <summary>
    /// The packed form of the [rows, columns] matrix starting at <paramref name="offset"/> in <paramref name="data"/>.
    /// A model's constant (<see cref="ConstantArrays"/>) is packed once per array and range, on first use, and reused by
    /// every later run and thread; any other array is packed anew, since it may hold other values by the next call.
    /// </summary>
    public static PackedMatrix For(float[] data, int offset, int rows, int columns) => For(data, offset, rows, columns, LaneLadder.Widest);

    /// <summary>As <see cref="For(float[], int, int, int)"/>, in panels as wide as <paramref name="rung"/> (the tests run each).</summary>
    internal static PackedMatrix For(float[] data, int offset, int rows, int columns, LaneWidth rung) =>
        !ConstantArrays.Contains(data)
            ? new PackedMatrix(data.AsSpan(offset, rows * columns), rows, columns, (int)rung)
            : Cache.GetValue(data, static _ => new()).GetOrAdd((offset, rows, columns, (int)rung), static (key, source) => new PackedMatrix(
                source.AsSpan(key.Offset, key.Rows * key.Columns), key.Rows, key.Columns, key.Width), data);

    /// <summary>
    /// The packed form of W = Bᵀ for the row-major B [<paramref name="inner"/>, <paramref name="outer"/>] that
    /// <paramref name="b"/> holds (a MatMul's weight), kept per array as <see cref="For(float[], int, int, int)"/> keeps
    /// it: W has <paramref name="outer"/> rows of <paramref name="inner"/> columns, and each panel's column k is a run of
    /// B's row k, so it is copied, not gathered.
    /// </summary>
    public static PackedMatrix ForTransposed(float[] b, int inner, int outer) => ForTransposed(b, inner, outer, LaneLadder.Widest);

    /// <summary>As <see cref="ForTransposed(float[], int, int)"/>, in panels as wide as <paramref name="rung"/> (the tests run each).</summary>
    internal static PackedMatrix ForTransposed(float[] b, int inner, int outer, LaneWidth rung) =>
        !ConstantArrays.Contains(b)
            ? Transposed(b, (inner, outer, (int)rung))
            : TransposedCache.GetValue(b, static _ => new()).GetOrAdd((inner, outer, (int)rung), static (key, source) => Transposed(source, key), b);

    private static PackedMatrix Transposed(float[] b, (int Inner, int Outer, int Width) key)
    {
        var width = key.Width;
        var panels = new float[(key.Outer + width - 1) / width * key.Inner * width];
        for (var first = 0; first < key.Outer; first += width)
        {
            var lanes = Math.Min(width, key.Outer - first);
            for (var k = 0; k < key.Inner; k++)
            {
                b.AsSpan(k * key.Outer + first, lanes).CopyTo(panels.AsSpan((first / width * key.Inner + k) * width));
            }
        }

        return new PackedMatrix(panels, key.Outer, key.Inner, width);
    }

    /// <summary>C[m×Rows] = A[m×Columns]·Wᵀ, or C += when <paramref name="accumulate"/>, on the rung it was packed for.</summary>
    public void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        if (a.Length < (long)m * Columns || c.Length < (long)m * Rows)
        {
            throw new ArgumentException("Matrix spans are smaller than their dimensions.");
        }

        switch ((LaneWidth)_width)
        {
            case LaneWidth.Vector512: Multiply<Lanes512, Vector512<float>, Vector512<uint>>(a, m, c, accumulate); break;
            case LaneWidth.Vector256: Multiply<Lanes256, Vector256<float>, Vector256<uint>>(a, m, c, accumulate); break;
            case LaneWidth.Vector128: Multiply<Lanes128, Vector128<float>, Vector128<uint>>(a, m, c, accumulate); break;
            default: Multiply<LanesScalar, float, uint>(a, m, c, accumulate); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Multiply<TLanes, TFloat, TUInt>(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
        where TLanes : struct, ILanes<TFloat, TUInt>
    {
        var panelCount = (Rows + _width - 1) / _width;
        var panel = 0;
        Span<float> blockBuffer = stackalloc float[BlockRows * 2 * _width];
        if (m >= BlockRows)
        {
            // Many rows (a whole sequence's input projection): two panels at a time stay in L2 while every block of
            // four rows of A passes, so W is read from memory once. Two or three rows left over run as one more
            // block padded with zero rows: at the block kernel's rate that costs less than matrix-vector products
            // (the 3 rows left of 35 took a fifth of the language model's decoder).
            var whole = m - m % BlockRows;
            var padded = m - whole >= 2;
            using var paddedA = new ScratchBuffer(padded ? (long)BlockRows * Columns : 0);
            using var paddedC = new ScratchBuffer(padded ? (long)BlockRows * Rows : 0);
            if (padded)
            {
                a.Slice(whole * Columns, (m - whole) * Columns).CopyTo(paddedA.Span);
                paddedA.Span[((m - whole) * Columns)..].Clear();
                if (accumulate)
                {
                    c.Slice(whole * Rows, (m - whole) * Rows).CopyTo(paddedC.Span);
                }
            }

            for (; panel + 1 < panelCount; panel += 2)
            {
                for (var i = 0; i < whole; i += BlockRows)
                {
                    Block4x2<TLanes, TFloat, TUInt>(a, i, panel, c, accumulate, blockBuffer);
                }

                if (padded)
                {
                    Block4x2<TLanes, TFloat, TUInt>(paddedA.Span, 0, panel, paddedC.Span, accumulate, blockBuffer);
                    continue;
                }

                for (var i = whole; i < m; i++)
                {
                    RowPanel<TLanes, TFloat, TUInt>(a, i, panel, c, accumulate);
                    RowPanel<TLanes, TFloat, TUInt>(a, i, panel + 1, c, accumulate);
                }
            }

            if (padded)
            {
                var done = System.Math.Min(panel * _width, Rows);
                for (var i = whole; i < m; i++)
                {
                    paddedC.Span.Slice((i - whole) * Rows, done).CopyTo(c.Slice(i * Rows, done));
                }
            }
        }

        if (_width < GroupedBelowWidth && panel + PanelsPerGroup <= Rows / _width)
        {
            // The remaining rows of A (all of them for one input) against groups of four full panels.
            var groups = (Rows / _width - panel) / PanelsPerGroup;
            for (var i = 0; i < m; i++)
            {
                for (var g = 0; g < groups; g++)
                {
                    RowPanelGroup<TLanes, TFloat, TUInt>(a, i, panel + g * PanelsPerGroup, c, accumulate);
                }
            }

            panel += groups * PanelsPerGroup;
        }

        for (; panel < panelCount; panel++)
        {
            for (var i = 0; i < m; i++)
            {
                RowPanel<TLanes, TFloat, TUInt>(a, i, panel, c, accumulate);
            }
        }
    }

    /// <summary>Full panels per group of the grouped matrix-vector kernel.</summary>
    private const int PanelsPerGroup = 4;

    /// <summary>
    /// Panels narrower than this (8 floats or fewer) run matrix-vector products in groups of four: a single such panel
    /// per call left too little work per call and too few FMA chains (on the [768 × 39] codes of a speech GRU it ran at
    /// half the grouped rate); a 16-float panel has enough of both on its own.
    /// </summary>
    private const int GroupedBelowWidth = 16;

    /// <summary>
    /// One row of A against four full panels: two accumulators per panel (even and odd columns), so eight independent
    /// FMA chains cover the FMA latency, and each broadcast of x feeds four FMAs.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RowPanelGroup<TLanes, TFloat, TUInt>(ReadOnlySpan<float> a, int i, int panel, Span<float> c, bool accumulate)
        where TLanes : struct, ILanes<TFloat, TUInt>
    {
        var width = TLanes.Count;
        var step = (nuint)width;
        var stride = Columns * width;
        ref var w0 = ref _panels[panel * stride];
        ref var w1 = ref Unsafe.Add(ref w0, stride);
        ref var w2 = ref Unsafe.Add(ref w1, stride);
        ref var w3 = ref Unsafe.Add(ref w2, stride);
        ref var x = ref Unsafe.Add(ref MemoryMarshal.GetReference(a), i * Columns);
        TFloat s00 = TLanes.Zero, s01 = TLanes.Zero, s10 = TLanes.Zero, s11 = TLanes.Zero;
        TFloat s20 = TLanes.Zero, s21 = TLanes.Zero, s30 = TLanes.Zero, s31 = TLanes.Zero;
        var k = 0;
        for (; k + 2 <= Columns; k += 2)
        {
            var o = (nuint)k * step;
            // Each stream advances two columns per iteration (a cache line at 8 floats): one prefetch per stream.
            Prefetch(ref Unsafe.Add(ref w0, (nint)o + PrefetchDistance));
            Prefetch(ref Unsafe.Add(ref w1, (nint)o + PrefetchDistance));
            Prefetch(ref Unsafe.Add(ref w2, (nint)o + PrefetchDistance));
            Prefetch(ref Unsafe.Add(ref w3, (nint)o + PrefetchDistance));
            var even = TLanes.Broadcast(Unsafe.Add(ref x, k));
            var odd = TLanes.Broadcast(Unsafe.Add(ref x, k + 1));
            s00 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w0, o)), even, s00);
            s01 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w0, o + step)), odd, s01);
            s10 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w1, o)), even, s10);
            s11 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w1, o + step)), odd, s11);
            s20 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w2, o)), even, s20);
            s21 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w2, o + step)), odd, s21);
            s30 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w3, o)), even, s30);
            s31 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w3, o + step)), odd, s31);
        }

        if (k < Columns)
        {
            var o = (nuint)k * step;
            var last = TLanes.Broadcast(Unsafe.Add(ref x, k));
            s00 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w0, o)), last, s00);
            s10 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w1, o)), last, s10);
            s20 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w2, o)), last, s20);
            s30 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w3, o)), last, s30);
        }

        ref var y = ref Unsafe.Add(ref MemoryMarshal.GetReference(c), i * Rows + panel * width);
        StorePair<TLanes, TFloat, TUInt>(ref y, TLanes.Add(s00, s01), TLanes.Add(s10, s11), accumulate);
        StorePair<TLanes, TFloat, TUInt>(ref Unsafe.Add(ref y, 2 * width), TLanes.Add(s20, s21), TLanes.Add(s30, s31), accumulate);
    }

    /// <summary>Rows of A per register block of the many-row kernel (fewer run as matrix-vector products).</summary>
    internal const int BlockRows = 4;

    /// <summary>
    /// One row of A against one panel: the matrix-vector kernel (four accumulators over k, each consuming one column of
    /// the panel, so they hide the FMA latency; prefetching).
    /// </summary>
    private void RowPanel<TLanes, TFloat, TUInt>(ReadOnlySpan<float> a, int i, int panel, Span<float> c, bool accumulate)
        where TLanes : struct, ILanes<TFloat, TUInt>
    {
        var width = TLanes.Count;
        var step = (nuint)width;
        ref var w = ref _panels[panel * Columns * width];
        ref var x = ref Unsafe.Add(ref MemoryMarshal.GetReference(a), i * Columns);
        TFloat a0 = TLanes.Zero, a1 = TLanes.Zero, a2 = TLanes.Zero, a3 = TLanes.Zero;
        var k = 0;
        for (; k <= Columns - 4; k += 4)
        {
            var o = (nuint)k * step;
            Prefetch(ref Unsafe.Add(ref w, (nint)o + PrefetchDistance));
            a0 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w, o)), TLanes.Broadcast(Unsafe.Add(ref x, k)), a0);
            a1 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w, o + step)), TLanes.Broadcast(Unsafe.Add(ref x, k + 1)), a1);
            a2 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w, o + 2 * step)), TLanes.Broadcast(Unsafe.Add(ref x, k + 2)), a2);
            a3 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w, o + 3 * step)), TLanes.Broadcast(Unsafe.Add(ref x, k + 3)), a3);
        }

        for (; k < Columns; k++)
        {
            a0 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref w, k * width)), TLanes.Broadcast(Unsafe.Add(ref x, k)), a0);
        }

        var sum = TLanes.Add(TLanes.Add(a0, a1), TLanes.Add(a2, a3));
        var first = panel * width;
        ref var y = ref Unsafe.Add(ref MemoryMarshal.GetReference(c), i * Rows + first);
        if (first + width <= Rows)
        {
            // A full panel: one vector store (the common case, kept free of calls).
            TLanes.Store(accumulate ? TLanes.Add(sum, TLanes.Load(ref y)) : sum, ref y);
            return;
        }

        Span<float> lanes = stackalloc float[width];
        TLanes.Store(sum, ref MemoryMarshal.GetReference(lanes));
        Store(lanes, c, i, panel, accumulate);
    }

    /// <summary>
    /// Four rows of A against two panels: eight accumulators, and per column of the panels two loads and four broadcasts
    /// feed eight FMAs, so the FMA units rather than the loads set the pace (14 vector registers in all: AVX2 has 16).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Block4x2<TLanes, TFloat, TUInt>(ReadOnlySpan<float> a, int i, int panel, Span<float> c, bool accumulate, Span<float> blockBuffer)
        where TLanes : struct, ILanes<TFloat, TUInt>
    {
        var width = TLanes.Count;
        ref var w0 = ref _panels[panel * Columns * width];
        ref var w1 = ref Unsafe.Add(ref w0, Columns * width);
        ref var x0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(a), i * Columns);
        ref var x1 = ref Unsafe.Add(ref x0, Columns);
        ref var x2 = ref Unsafe.Add(ref x1, Columns);
        ref var x3 = ref Unsafe.Add(ref x2, Columns);
        TFloat s00 = TLanes.Zero, s01 = TLanes.Zero, s10 = TLanes.Zero, s11 = TLanes.Zero;
        TFloat s20 = TLanes.Zero, s21 = TLanes.Zero, s30 = TLanes.Zero, s31 = TLanes.Zero;
        var step = (nuint)width;
        for (var k = 0; k < Columns; k++)
        {
            var o = (nuint)k * step;
            var p0 = TLanes.Load(ref Unsafe.Add(ref w0, o));
            var p1 = TLanes.Load(ref Unsafe.Add(ref w1, o));
            var b0 = TLanes.Broadcast(Unsafe.Add(ref x0, k));
            var b1 = TLanes.Broadcast(Unsafe.Add(ref x1, k));
            var b2 = TLanes.Broadcast(Unsafe.Add(ref x2, k));
            var b3 = TLanes.Broadcast(Unsafe.Add(ref x3, k));
            s00 = TLanes.MultiplyAdd(p0, b0, s00);
            s01 = TLanes.MultiplyAdd(p1, b0, s01);
            s10 = TLanes.MultiplyAdd(p0, b1, s10);
            s11 = TLanes.MultiplyAdd(p1, b1, s11);
            s20 = TLanes.MultiplyAdd(p0, b2, s20);
            s21 = TLanes.MultiplyAdd(p1, b2, s21);
            s30 = TLanes.MultiplyAdd(p0, b3, s30);
            s31 = TLanes.MultiplyAdd(p1, b3, s31);
        }

        if ((panel + 2) * width <= Rows)
        {
            // Both panels full (the common case): whole-vector stores, no calls.
            ref var y = ref Unsafe.Add(ref MemoryMarshal.GetReference(c), i * Rows + panel * width);
            StorePair<TLanes, TFloat, TUInt>(ref y, s00, s01, accumulate);
            StorePair<TLanes, TFloat, TUInt>(ref Unsafe.Add(ref y, Rows), s10, s11, accumulate);
            StorePair<TLanes, TFloat, TUInt>(ref Unsafe.Add(ref y, 2 * Rows), s20, s21, accumulate);
            StorePair<TLanes, TFloat, TUInt>(ref Unsafe.Add(ref y, 3 * Rows), s30, s31, accumulate);
            return;
        }

        // All accumulators go to the stack before any call: vector registers do not survive calls, and a value
        // live across one made the JIT spill six accumulators inside the loop, which ran 1.6x slower.
        ref var block = ref MemoryMarshal.GetReference(blockBuffer);
        TLanes.Store(s00, ref block);
        TLanes.Store(s01, ref Unsafe.Add(ref block, width));
        TLanes.Store(s10, ref Unsafe.Add(ref block, 2 * width));
        TLanes.Store(s11, ref Unsafe.Add(ref block, 3 * width));
        TLanes.Store(s20, ref Unsafe.Add(ref block, 4 * width));
        TLanes.Store(s21, ref Unsafe.Add(ref block, 5 * width));
        TLanes.Store(s30, ref Unsafe.Add(ref block, 6 * width));
        TLanes.Store(s31, ref Unsafe.Add(ref block, 7 * width));
        for (var row = 0; row < BlockRows; row++)
        {
            Store(blockBuffer.Slice(row * 2 * width, width), c, i + row, panel, accumulate);
            Store(blockBuffer.Slice(row * 2 * width + width, width), c, i + row, panel + 1, accumulate);
        }
    }

    /// <summary>Writes (or adds) two adjacent full panels' outputs for one row of A at <paramref name="y"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePair<TLanes, TFloat, TUInt>(ref float y, TFloat first, TFloat second, bool accumulate)
        where TLanes : struct, ILanes<TFloat, TUInt>
    {
        ref var next = ref Unsafe.Add(ref y, TLanes.Count);
        TLanes.Store(accumulate ? TLanes.Add(first, TLanes.Load(ref y)) : first, ref y);
        TLanes.Store(accumulate ? TLanes.Add(second, TLanes.Load(ref next)) : second, ref next);
    }

    /// <summary>Writes (or adds) one panel's outputs for row <paramref name="i"/>, dropping the padding of a last partial panel.</summary>
    private void Store(ReadOnlySpan<float> lanes, Span<float> c, int i, int panel, bool accumulate)
    {
        var first = panel * _width;
        var valid = System.Math.Min(_width, Rows - first);
        var y = c.Slice(i * Rows + first, valid);
        if (accumulate)
        {
            TensorPrimitives.Add(y, lanes[..valid], y);
        }
        else
        {
            lanes[..valid].CopyTo(y);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch(ref float address)
    {
        if (Sse.IsSupported)
        {
            // A prefetch never faults, so running past the end of the panels is harmless.
            Sse.Prefetch0(Unsafe.AsPointer(ref address));
        }
    }
}
