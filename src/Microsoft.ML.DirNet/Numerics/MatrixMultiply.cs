using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// Single-threaded float32 matrix products on row-major spans: A·B for MatMul-layout weights [inputs, outputs]
/// (register-blocked with 256-bit vectors) and the portable A·Bᵀ fallback behind <c>DenseMatrix</c>'s product.
/// <see cref="Multiply"/> is JIT-compiled fully optimized at first call, like the other hot kernels: under tiered
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
    /// vector of B feeds four FMAs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n, Span<float> c,
        bool accumulate)
    {
        if (a.Length < (long)m * k || b.Length < (long)k * n || c.Length < (long)m * n)
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

        if (j < n && Avx.IsSupported)
        {
            // The last n − j (< 8) columns as one masked vector: scalar loops over them cost more than all the full
            // vectors on a narrow output (the speech model's 29 classes).
            AxpyRows4Tail(ai, k, ref b0, n, j, ref c0, ref c1, ref c2, ref c3);
            return;
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

    /// <summary>Columns [<paramref name="j"/>, n) of <see cref="AxpyRows4"/>, fewer than eight, through masked loads and stores.</summary>
    private static unsafe void AxpyRows4Tail(ReadOnlySpan<float> ai, int k, ref float b0, int n, int j,
        ref float c0, ref float c1, ref float c2, ref float c3)
    {
        var mask = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(n - j)).AsSingle();
        fixed (float* y0 = &Unsafe.Add(ref c0, j), y1 = &Unsafe.Add(ref c1, j), y2 = &Unsafe.Add(ref c2, j), y3 = &Unsafe.Add(ref c3, j), b = &Unsafe.Add(ref b0, j))
        {
            var s0 = Avx.MaskLoad(y0, mask);
            var s1 = Avx.MaskLoad(y1, mask);
            var s2 = Avx.MaskLoad(y2, mask);
            var s3 = Avx.MaskLoad(y3, mask);
            for (var p = 0; p < k; p++)
            {
                // Masked-off lanes are neither read nor faulted on, so the last row of B may end the array.
                var bv = Avx.MaskLoad(b + (long)p * n, mask);
                s0 = Vector256.FusedMultiplyAdd(bv, Vector256.Create(ai[p]), s0);
                s1 = Vector256.FusedMultiplyAdd(bv, Vector256.Create(ai[k + p]), s1);
                s2 = Vector256.FusedMultiplyAdd(bv, Vector256.Create(ai[2 * k + p]), s2);
                s3 = Vector256.FusedMultiplyAdd(bv, Vector256.Create(ai[3 * k + p]), s3);
            }

            Avx.MaskStore(y0, mask, s0);
            Avx.MaskStore(y1, mask, s1);
            Avx.MaskStore(y2, mask, s2);
            Avx.MaskStore(y3, mask, s3);
        }
    }
}
