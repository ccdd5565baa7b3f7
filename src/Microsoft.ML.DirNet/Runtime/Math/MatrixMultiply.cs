using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Microsoft.ML.DirNet.Runtime.Math;

/// <summary>
/// Single-threaded float32 matrix products for the engine's hot paths, register-blocked with 256-bit vectors and a
/// <see cref="TensorPrimitives"/> fallback where 256-bit SIMD is not accelerated. Matrices are row-major spans.
/// Entry points are JIT-compiled fully optimized at first call: under tiered compilation a short run otherwise spends
/// most of its time in unoptimized or on-stack-replaced loops (measured 4x slower on the input projection).
/// </summary>
internal static class MatrixMultiply
{
    /// <summary>
    /// C[m×n] = A[m×k] · B[n×k]ᵀ, or C += when <paramref name="accumulate"/>. B is a weight matrix stored as
    /// [outputs, inputs] (the ONNX LSTM/GRU/RNN and Gemm-transB layout), so every output is one dot product of
    /// contiguous rows. Four rows of B are processed against two rows of A at a time, so each B load feeds two FMAs
    /// and B stays in L1 while the rows of A pass by.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyByTransposed(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n,
        Span<float> c, bool accumulate)
    {
        if (a.Length < m * k || b.Length < n * k || c.Length < m * n)
        {
            throw new ArgumentException("Matrix spans are smaller than their dimensions.");
        }

        var wide = Vector512.IsHardwareAccelerated && k >= Vector512<float>.Count;
        if (!wide && (!Vector256.IsHardwareAccelerated || k < Vector256<float>.Count))
        {
            for (var i = 0; i < m; i++)
            {
                var row = a.Slice(i * k, k);
                for (var j = 0; j < n; j++)
                {
                    var dot = TensorPrimitives.Dot(row, b.Slice(j * k, k));
                    c[i * n + j] = accumulate ? c[i * n + j] + dot : dot;
                }
            }

            return;
        }

        ref var a0 = ref MemoryMarshal.GetReference(a);
        ref var b0 = ref MemoryMarshal.GetReference(b);
        ref var c0 = ref MemoryMarshal.GetReference(c);
        var j4 = n - n % 4;
        for (var j = 0; j < j4; j += 4)
        {
            ref var bj = ref Unsafe.Add(ref b0, j * k);
            var i = 0;
            for (; i + 1 < m; i += 2)
            {
                ref var y0 = ref Unsafe.Add(ref c0, i * n + j);
                ref var y1 = ref Unsafe.Add(ref c0, (i + 1) * n + j);
                if (wide)
                {
                    Dot4x2Wide(ref Unsafe.Add(ref a0, i * k), ref Unsafe.Add(ref a0, (i + 1) * k), ref bj, k, ref y0, ref y1, accumulate);
                }
                else
                {
                    Dot4x2(ref Unsafe.Add(ref a0, i * k), ref Unsafe.Add(ref a0, (i + 1) * k), ref bj, k, ref y0, ref y1, accumulate);
                }
            }

            if (i < m)
            {
                if (wide)
                {
                    Dot4x1Wide(ref Unsafe.Add(ref a0, i * k), ref bj, k, ref Unsafe.Add(ref c0, i * n + j), accumulate);
                }
                else
                {
                    Dot4x1(ref Unsafe.Add(ref a0, i * k), ref bj, k, ref Unsafe.Add(ref c0, i * n + j), accumulate);
                }
            }
        }

        for (var j = j4; j < n; j++)
        {
            var row = b.Slice(j * k, k);
            for (var i = 0; i < m; i++)
            {
                var dot = TensorPrimitives.Dot(a.Slice(i * k, k), row);
                c[i * n + j] = accumulate ? c[i * n + j] + dot : dot;
            }
        }
    }

    /// <summary>
    /// C[m×n] = A[m×k] · B[k×n] (C += when <paramref name="accumulate"/>), B row-major as stored by MatMul
    /// initializers. Each output row is built as a sum of scaled rows of B, four rows of A at a time so each loaded
    /// vector of B feeds four FMAs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n, Span<float> c,
        bool accumulate)
    {
        if (a.Length < m * k || b.Length < k * n || c.Length < m * n)
        {
            throw new ArgumentException("Matrix spans are smaller than their dimensions.");
        }

        if (!accumulate)
        {
            c[..(m * n)].Clear();
        }

        var i = 0;
        if (Vector256.IsHardwareAccelerated && n >= Vector256<float>.Count)
        {
            for (; i + 3 < m; i += 4)
            {
                AxpyRows4(a, i, k, b, n, c);
            }
        }

        for (; i < m; i++)
        {
            var ci = c.Slice(i * n, n);
            for (var p = 0; p < k; p++)
            {
                TensorPrimitives.MultiplyAdd(b.Slice(p * n, n), a[i * k + p], ci, ci);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyRows4(ReadOnlySpan<float> a, int i, int k, ReadOnlySpan<float> b, int n, Span<float> c)
    {
        ref var b0 = ref MemoryMarshal.GetReference(b);
        ref var c0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(c), i * n);
        ref var c1 = ref Unsafe.Add(ref c0, n);
        ref var c2 = ref Unsafe.Add(ref c1, n);
        ref var c3 = ref Unsafe.Add(ref c2, n);
        var ai = a.Slice(i * k, 4 * k);
        var width = Vector256<float>.Count;
        var j = 0;
        for (; j <= n - width; j += width)
        {
            var u = (nuint)j;
            var s0 = Vector256.LoadUnsafe(ref c0, u);
            var s1 = Vector256.LoadUnsafe(ref c1, u);
            var s2 = Vector256.LoadUnsafe(ref c2, u);
            var s3 = Vector256.LoadUnsafe(ref c3, u);
            for (var p = 0; p < k; p++)
            {
                var bv = Vector256.LoadUnsafe(ref b0, (nuint)(p * n + j));
                s0 = Vector256.FusedMultiplyAdd(bv, Vector256.Create(ai[p]), s0);
                s1 = Vector256.FusedMultiplyAdd(bv, Vector256.Create(ai[k + p]), s1);
                s2 = Vector256.FusedMultiplyAdd(bv, Vector256.Create(ai[2 * k + p]), s2);
                s3 = Vector256.FusedMultiplyAdd(bv, Vector256.Create(ai[3 * k + p]), s3);
            }

            s0.StoreUnsafe(ref c0, u);
            s1.StoreUnsafe(ref c1, u);
            s2.StoreUnsafe(ref c2, u);
            s3.StoreUnsafe(ref c3, u);
        }

        for (; j < n; j++)
        {
            for (var p = 0; p < k; p++)
            {
                var bv = Unsafe.Add(ref b0, p * n + j);
                Unsafe.Add(ref c0, j) += ai[p] * bv;
                Unsafe.Add(ref c1, j) += ai[k + p] * bv;
                Unsafe.Add(ref c2, j) += ai[2 * k + p] * bv;
                Unsafe.Add(ref c3, j) += ai[3 * k + p] * bv;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot4x2(ref float x0, ref float x1, ref float w, int k, ref float y0, ref float y1, bool accumulate)
    {
        ref var w1 = ref Unsafe.Add(ref w, k);
        ref var w2 = ref Unsafe.Add(ref w1, k);
        ref var w3 = ref Unsafe.Add(ref w2, k);
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        var width = Vector256<float>.Count;
        var p = 0;
        for (; p <= k - width; p += width)
        {
            var u = (nuint)p;
            var v0 = Vector256.LoadUnsafe(ref x0, u);
            var v1 = Vector256.LoadUnsafe(ref x1, u);
            var r0 = Vector256.LoadUnsafe(ref w, u);
            var r1 = Vector256.LoadUnsafe(ref w1, u);
            var r2 = Vector256.LoadUnsafe(ref w2, u);
            var r3 = Vector256.LoadUnsafe(ref w3, u);
            a00 = Vector256.FusedMultiplyAdd(r0, v0, a00);
            a01 = Vector256.FusedMultiplyAdd(r1, v0, a01);
            a02 = Vector256.FusedMultiplyAdd(r2, v0, a02);
            a03 = Vector256.FusedMultiplyAdd(r3, v0, a03);
            a10 = Vector256.FusedMultiplyAdd(r0, v1, a10);
            a11 = Vector256.FusedMultiplyAdd(r1, v1, a11);
            a12 = Vector256.FusedMultiplyAdd(r2, v1, a12);
            a13 = Vector256.FusedMultiplyAdd(r3, v1, a13);
        }

        if (p < k)
        {
            // Tail: mask the last partial vector to the elements not yet summed.
            var mask = TailMask(k - p);
            var u = (nuint)(k - width);
            var v0 = Vector256.LoadUnsafe(ref x0, u) & mask;
            var v1 = Vector256.LoadUnsafe(ref x1, u) & mask;
            var r0 = Vector256.LoadUnsafe(ref w, u);
            var r1 = Vector256.LoadUnsafe(ref w1, u);
            var r2 = Vector256.LoadUnsafe(ref w2, u);
            var r3 = Vector256.LoadUnsafe(ref w3, u);
            a00 = Vector256.FusedMultiplyAdd(r0, v0, a00);
            a01 = Vector256.FusedMultiplyAdd(r1, v0, a01);
            a02 = Vector256.FusedMultiplyAdd(r2, v0, a02);
            a03 = Vector256.FusedMultiplyAdd(r3, v0, a03);
            a10 = Vector256.FusedMultiplyAdd(r0, v1, a10);
            a11 = Vector256.FusedMultiplyAdd(r1, v1, a11);
            a12 = Vector256.FusedMultiplyAdd(r2, v1, a12);
            a13 = Vector256.FusedMultiplyAdd(r3, v1, a13);
        }

        Store4(ref y0, Vector256.Sum(a00), Vector256.Sum(a01), Vector256.Sum(a02), Vector256.Sum(a03), accumulate);
        Store4(ref y1, Vector256.Sum(a10), Vector256.Sum(a11), Vector256.Sum(a12), Vector256.Sum(a13), accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot4x1(ref float x0, ref float w, int k, ref float y0, bool accumulate)
    {
        ref var w1 = ref Unsafe.Add(ref w, k);
        ref var w2 = ref Unsafe.Add(ref w1, k);
        ref var w3 = ref Unsafe.Add(ref w2, k);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        var width = Vector256<float>.Count;
        var p = 0;
        for (; p <= k - width; p += width)
        {
            var u = (nuint)p;
            var v = Vector256.LoadUnsafe(ref x0, u);
            a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w, u), v, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w1, u), v, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w2, u), v, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w3, u), v, a3);
        }

        if (p < k)
        {
            var u = (nuint)(k - width);
            var v = Vector256.LoadUnsafe(ref x0, u) & TailMask(k - p);
            a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w, u), v, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w1, u), v, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w2, u), v, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref w3, u), v, a3);
        }

        Store4(ref y0, Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3), accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4(ref float y, float s0, float s1, float s2, float s3, bool accumulate)
    {
        if (accumulate)
        {
            y += s0;
            Unsafe.Add(ref y, 1) += s1;
            Unsafe.Add(ref y, 2) += s2;
            Unsafe.Add(ref y, 3) += s3;
        }
        else
        {
            y = s0;
            Unsafe.Add(ref y, 1) = s1;
            Unsafe.Add(ref y, 2) = s2;
            Unsafe.Add(ref y, 3) = s3;
        }
    }

    // The Wide variants are the same kernels with 512-bit vectors, used where AVX-512 is available: one load then
    // feeds 16 lanes, which measured 2.7x faster on the recurrent GEMV (a 2048×512 matrix) than the 256-bit kernel.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot4x2Wide(ref float x0, ref float x1, ref float w, int k, ref float y0, ref float y1, bool accumulate)
    {
        ref var w1 = ref Unsafe.Add(ref w, k);
        ref var w2 = ref Unsafe.Add(ref w1, k);
        ref var w3 = ref Unsafe.Add(ref w2, k);
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        var width = Vector512<float>.Count;
        for (var p = 0; p < k; p += width)
        {
            // The last block may overlap the previous one: its already-summed lanes are masked out of x.
            var start = p <= k - width ? p : k - width;
            var u = (nuint)start;
            var v0 = Vector512.LoadUnsafe(ref x0, u);
            var v1 = Vector512.LoadUnsafe(ref x1, u);
            if (start != p)
            {
                var mask = TailMaskWide(k - p);
                v0 &= mask;
                v1 &= mask;
            }

            var r0 = Vector512.LoadUnsafe(ref w, u);
            var r1 = Vector512.LoadUnsafe(ref w1, u);
            var r2 = Vector512.LoadUnsafe(ref w2, u);
            var r3 = Vector512.LoadUnsafe(ref w3, u);
            a00 = Vector512.FusedMultiplyAdd(r0, v0, a00);
            a01 = Vector512.FusedMultiplyAdd(r1, v0, a01);
            a02 = Vector512.FusedMultiplyAdd(r2, v0, a02);
            a03 = Vector512.FusedMultiplyAdd(r3, v0, a03);
            a10 = Vector512.FusedMultiplyAdd(r0, v1, a10);
            a11 = Vector512.FusedMultiplyAdd(r1, v1, a11);
            a12 = Vector512.FusedMultiplyAdd(r2, v1, a12);
            a13 = Vector512.FusedMultiplyAdd(r3, v1, a13);
        }

        Store4(ref y0, Vector512.Sum(a00), Vector512.Sum(a01), Vector512.Sum(a02), Vector512.Sum(a03), accumulate);
        Store4(ref y1, Vector512.Sum(a10), Vector512.Sum(a11), Vector512.Sum(a12), Vector512.Sum(a13), accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot4x1Wide(ref float x0, ref float w, int k, ref float y0, bool accumulate)
    {
        ref var w1 = ref Unsafe.Add(ref w, k);
        ref var w2 = ref Unsafe.Add(ref w1, k);
        ref var w3 = ref Unsafe.Add(ref w2, k);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        var width = Vector512<float>.Count;
        for (var p = 0; p < k; p += width)
        {
            var start = p <= k - width ? p : k - width;
            var u = (nuint)start;
            var v = Vector512.LoadUnsafe(ref x0, u);
            if (start != p)
            {
                v &= TailMaskWide(k - p);
            }

            a0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w, u), v, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w1, u), v, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w2, u), v, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref w3, u), v, a3);
        }

        Store4(ref y0, Vector512.Sum(a0), Vector512.Sum(a1), Vector512.Sum(a2), Vector512.Sum(a3), accumulate);
    }

    private static Vector512<float> TailMaskWide(int count)
    {
        var lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        return Vector512.GreaterThanOrEqual(lanes, Vector512.Create(Vector512<float>.Count - count)).AsSingle();
    }

    /// <summary>A mask keeping the last <paramref name="count"/> lanes of a vector.</summary>
    private static Vector256<float> TailMask(int count)
    {
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        return Vector256.GreaterThanOrEqual(lanes, Vector256.Create(Vector256<float>.Count - count)).AsSingle();
    }
}
