using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.DirNet.Numerics.Simd;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// Single-threaded float32 matrix products on row-major spans: A·B for MatMul-layout weights [inputs, outputs]
/// (register-blocked, on the SIMD ladder) and the portable A·Bᵀ fallback behind <c>DenseMatrix</c>'s product.
/// The register-blocked kernel is JIT-compiled fully optimized at first call, like the other hot kernels: under tiered
/// compilation a short run otherwise spends much of its time in tier-0 or on-stack-replaced loops.
/// </summary>
internal static class MatrixMultiply
{
    /// <summary>
    /// C[m×n] = A[m×k] · B[n×k]ᵀ, or C += when <paramref name="accumulate"/>: one dot product of contiguous rows per
    /// output. The path for machines without vector hardware; elsewhere <see cref="PackedMatrix"/> is used.
    /// </summary>
    public static void MultiplyByTransposed(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n,
        Span<float> c, bool accumulate)
    {
        if (a.Length < (long)m * k || b.Length < (long)n * k || c.Length < (long)m * n)
        {
            throw new ArgumentException("Matrix spans are smaller than their dimensions.");
        }

        for (var i = 0; i < m; i++)
        {
            var row = a.Slice(i * k, k);
            for (var j = 0; j < n; j++)
            {
                var dot = TensorPrimitives.Dot(row, b.Slice(j * k, k));
                c[i * n + j] = accumulate ? c[i * n + j] + dot : dot;
            }
        }
    }

    /// <summary>
    /// C[m×n] = A[m×k] · B[k×n] (C += when <paramref name="accumulate"/>), B row-major as stored by MatMul
    /// initializers. Each output row is built as a sum of scaled rows of B, four rows of A at a time so each loaded
    /// vector of B feeds four FMAs, written once over the SIMD ladder (two vectors of columns at a time, then one, then
    /// the narrower rungs' vectors and single columns).
    /// </summary>
    public static void Multiply(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n, Span<float> c,
        bool accumulate) => Multiply(a, m, k, b, n, c, accumulate, LaneLadder.Widest);

    /// <summary>As <see cref="Multiply(ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, Span{float}, bool)"/> from a given rung down (the tests run each).</summary>
    internal static void Multiply(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n, Span<float> c,
        bool accumulate, LaneWidth rung)
    {
        if (a.Length < (long)m * k || b.Length < (long)k * n || c.Length < (long)m * n)
        {
            throw new ArgumentException("Matrix spans are smaller than their dimensions.");
        }

        if (!accumulate)
        {
            c[..(m * n)].Clear();
        }

        // Columns in tiles whose rows of B stay in L2 while every block of four rows of A passes over them: a wide B
        // (a 512 × 2048 MatMul weight is 4 MB) read whole for each block came from L3 every time.
        var tile = System.Math.Max(64, TileFloats / System.Math.Max(k, 1) / 64 * 64);
        var whole = m - m % 4;
        for (var first = 0; first < n; first += tile)
        {
            var columns = System.Math.Min(tile, n - first);
            for (var i = 0; i < whole; i += 4)
            {
                var block = new FourRows(a.Slice(i * k, 4 * k), k, b[first..], c.Slice(i * n + first), columns, n);
                LaneKernel.Run(ref block, rung);
            }
        }

        for (var i = whole; i < m; i++)
        {
            var ci = c.Slice(i * n, n);
            for (var p = 0; p < k; p++)
            {
                TensorPrimitives.MultiplyAdd(b.Slice(p * n, n), a[i * k + p], ci, ci);
            }
        }
    }

    /// <summary>Floats of B per column tile (256 KB).</summary>
    private const int TileFloats = 1 << 16;

    /// <summary>
    /// C[4 × columns] += A[4×k]·B[k × columns] for four rows of A and a tile of columns (rows of B and C
    /// <paramref name="stride"/> apart), over the columns a rung's vectors cover.
    /// </summary>
    private readonly ref struct FourRows(ReadOnlySpan<float> a, int k, ReadOnlySpan<float> b, Span<float> c, int columns, int stride) : ILaneKernel
    {
        private readonly ReadOnlySpan<float> _a = a;
        private readonly ReadOnlySpan<float> _b = b;
        private readonly Span<float> _c = c;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public int Run<TLanes, TFloat, TUInt>(int start)
            where TLanes : struct, ILanes<TFloat, TUInt>
        {
            // Locals, not fields, in the loops: the JIT reloads a field of this after every store.
            var (depth, width, count) = (k, columns, TLanes.Count);
            var step = (nuint)stride;
            ref var b0 = ref MemoryMarshal.GetReference(_b);
            ref var x0 = ref MemoryMarshal.GetReference(_a);
            ref var x1 = ref Unsafe.Add(ref x0, depth);
            ref var x2 = ref Unsafe.Add(ref x1, depth);
            ref var x3 = ref Unsafe.Add(ref x2, depth);
            ref var c0 = ref MemoryMarshal.GetReference(_c);
            ref var c1 = ref Unsafe.Add(ref c0, step);
            ref var c2 = ref Unsafe.Add(ref c1, step);
            ref var c3 = ref Unsafe.Add(ref c2, step);
            var j = start;
            for (; j <= width - 2 * count; j += 2 * count)
            {
                // Two vectors of columns: eight independent FMA chains (one vector's four ran at half the FMA rate).
                var (u, v) = ((nuint)j, (nuint)(j + count));
                TFloat s0 = TLanes.Load(ref Unsafe.Add(ref c0, u)), t0 = TLanes.Load(ref Unsafe.Add(ref c0, v));
                TFloat s1 = TLanes.Load(ref Unsafe.Add(ref c1, u)), t1 = TLanes.Load(ref Unsafe.Add(ref c1, v));
                TFloat s2 = TLanes.Load(ref Unsafe.Add(ref c2, u)), t2 = TLanes.Load(ref Unsafe.Add(ref c2, v));
                TFloat s3 = TLanes.Load(ref Unsafe.Add(ref c3, u)), t3 = TLanes.Load(ref Unsafe.Add(ref c3, v));
                for (var p = 0; p < depth; p++)
                {
                    ref var row = ref Unsafe.Add(ref b0, (nuint)p * step);
                    var first = TLanes.Load(ref Unsafe.Add(ref row, u));
                    var second = TLanes.Load(ref Unsafe.Add(ref row, v));
                    var a0 = TLanes.Broadcast(Unsafe.Add(ref x0, p));
                    var a1 = TLanes.Broadcast(Unsafe.Add(ref x1, p));
                    var a2 = TLanes.Broadcast(Unsafe.Add(ref x2, p));
                    var a3 = TLanes.Broadcast(Unsafe.Add(ref x3, p));
                    s0 = TLanes.MultiplyAdd(first, a0, s0);
                    t0 = TLanes.MultiplyAdd(second, a0, t0);
                    s1 = TLanes.MultiplyAdd(first, a1, s1);
                    t1 = TLanes.MultiplyAdd(second, a1, t1);
                    s2 = TLanes.MultiplyAdd(first, a2, s2);
                    t2 = TLanes.MultiplyAdd(second, a2, t2);
                    s3 = TLanes.MultiplyAdd(first, a3, s3);
                    t3 = TLanes.MultiplyAdd(second, a3, t3);
                }

                TLanes.Store(s0, ref Unsafe.Add(ref c0, u));
                TLanes.Store(t0, ref Unsafe.Add(ref c0, v));
                TLanes.Store(s1, ref Unsafe.Add(ref c1, u));
                TLanes.Store(t1, ref Unsafe.Add(ref c1, v));
                TLanes.Store(s2, ref Unsafe.Add(ref c2, u));
                TLanes.Store(t2, ref Unsafe.Add(ref c2, v));
                TLanes.Store(s3, ref Unsafe.Add(ref c3, u));
                TLanes.Store(t3, ref Unsafe.Add(ref c3, v));
            }

            for (; j <= width - count; j += count)
            {
                var u = (nuint)j;
                TFloat s0 = TLanes.Load(ref Unsafe.Add(ref c0, u)), s1 = TLanes.Load(ref Unsafe.Add(ref c1, u));
                TFloat s2 = TLanes.Load(ref Unsafe.Add(ref c2, u)), s3 = TLanes.Load(ref Unsafe.Add(ref c3, u));
                for (var p = 0; p < depth; p++)
                {
                    var column = TLanes.Load(ref Unsafe.Add(ref b0, (nuint)p * step + u));
                    s0 = TLanes.MultiplyAdd(column, TLanes.Broadcast(Unsafe.Add(ref x0, p)), s0);
                    s1 = TLanes.MultiplyAdd(column, TLanes.Broadcast(Unsafe.Add(ref x1, p)), s1);
                    s2 = TLanes.MultiplyAdd(column, TLanes.Broadcast(Unsafe.Add(ref x2, p)), s2);
                    s3 = TLanes.MultiplyAdd(column, TLanes.Broadcast(Unsafe.Add(ref x3, p)), s3);
                }

                TLanes.Store(s0, ref Unsafe.Add(ref c0, u));
                TLanes.Store(s1, ref Unsafe.Add(ref c1, u));
                TLanes.Store(s2, ref Unsafe.Add(ref c2, u));
                TLanes.Store(s3, ref Unsafe.Add(ref c3, u));
            }

            return j;
        }
    }
}
