using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// A weight matrix stored as int8 levels with one float32 scale per row (W[r, k] = q[r, k]·s[r], see
/// <c>Int8Rows</c>), packed like <see cref="PackedMatrix"/> in panels of eight rows, each panel column by column:
/// eight bytes per column. A product sign-extends and converts eight levels per column, multiply-adds them in float32
/// and scales each panel's sums once at the end, so y[r] = s[r]·Σ q[r, k]·x[k]. For single inputs (recurrent steps)
/// it reads a quarter of the float32 matrix's bytes, which is what bounds a matrix-vector product; on a Zen 3 core it
/// ran 1.5-2.3x faster than the float32 kernel on the samples' shapes, from the 768 × 39 codes of a speech GRU (L2)
/// to a 2048 × 512 recurrent matrix (L3). Needs AVX2 and FMA (<see cref="IsSupported"/>).
/// </summary>
internal sealed class PackedInt8Matrix
{
    private const int Width = 8;
    private const int PanelsPerGroup = 4;

    private static readonly ConditionalWeakTable<float[], System.Collections.Concurrent.ConcurrentDictionary<(int Offset, int Rows, int Columns), PackedInt8Matrix>> Cache = new();

    /// <summary>Levels, panel by panel, column by column, eight rows per column (a partial last panel zero-padded); pinned so products can read them through pointers.</summary>
    private readonly sbyte[] _panels;

    /// <summary>Row scales, zero-padded to whole panels.</summary>
    private readonly float[] _scales;

    private PackedInt8Matrix(ReadOnlySpan<float> values, ReadOnlySpan<float> scales, int rows, int columns)
    {
        Rows = rows;
        Columns = columns;
        var panelCount = (rows + Width - 1) / Width;
        _panels = GC.AllocateArray<sbyte>(panelCount * columns * Width, pinned: true);
        _scales = new float[panelCount * Width];
        for (var r = 0; r < rows; r++)
        {
            var scale = scales[r];
            _scales[r] = scale;
            var source = values.Slice(r * columns, columns);
            for (var k = 0; k < columns; k++)
            {
                // The values are on the int8 grid (q·s), so dividing by the scale and rounding recovers q exactly.
                _panels[(r / Width * columns + k) * Width + r % Width] = scale == 0f ? (sbyte)0 : (sbyte)MathF.Round(source[k] / scale);
            }
        }
    }

    /// <summary>Whether this machine has the instructions the kernels use.</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Outputs.</summary>
    public int Rows { get; }

    /// <summary>Inputs.</summary>
    public int Columns { get; }

    /// <summary>
    /// The packed form of the [rows, columns] matrix at <paramref name="offset"/> in <paramref name="values"/> (already
    /// on the int8 grid of <paramref name="scales"/>, one per row), made once per array and range.
    /// </summary>
    public static PackedInt8Matrix For(float[] values, float[] scales, int offset, int rows, int columns) =>
        Cache.GetValue(values, static _ => new()).GetOrAdd((offset, rows, columns), static (key, state) => new PackedInt8Matrix(
            state.Values.AsSpan(key.Offset, key.Rows * key.Columns), state.Scales.AsSpan(key.Offset / System.Math.Max(key.Columns, 1), key.Rows), key.Rows, key.Columns),
            (Values: values, Scales: scales));

    /// <summary>C[m×Rows] = A[m×Columns]·Wᵀ, or C += when <paramref name="accumulate"/>; one input row at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        if (a.Length < (long)m * Columns || c.Length < (long)m * Rows)
        {
            throw new ArgumentException("Matrix spans are smaller than their dimensions.");
        }

        var panelCount = (Rows + Width - 1) / Width;
        Span<float> partial = stackalloc float[Width];
        fixed (float* input = a)
        fixed (float* scales = _scales)
        {
            // _panels is pinned at allocation.
            var panels = (sbyte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_panels));
            for (var i = 0; i < m; i++)
            {
                var x = input + (long)i * Columns;
                var y = c.Slice(i * Rows, Rows);
                var panel = 0;
                for (; panel + PanelsPerGroup <= Rows / Width; panel += PanelsPerGroup)
                {
                    Group(panels + (long)panel * Columns * Width, scales + panel * Width, x, y.Slice(panel * Width), accumulate);
                }

                for (; panel < panelCount; panel++)
                {
                    var sum = Single(panels + (long)panel * Columns * Width, x) * Vector256.Load(scales + panel * Width);
                    var first = panel * Width;
                    if (first + Width <= Rows)
                    {
                        ref var target = ref MemoryMarshal.GetReference(y.Slice(first));
                        (accumulate ? sum + Vector256.LoadUnsafe(ref target) : sum).StoreUnsafe(ref target);
                        continue;
                    }

                    sum.CopyTo(partial);
                    for (var r = first; r < Rows; r++)
                    {
                        y[r] = accumulate ? y[r] + partial[r - first] : partial[r - first];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Four full panels against one input: two sums per panel (even and odd columns), so eight independent FMA chains
    /// hide the FMA latency as in the float32 kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void Group(sbyte* w, float* scales, float* x, Span<float> y, bool accumulate)
    {
        var stride = Columns * Width;
        sbyte* w0 = w, w1 = w + stride, w2 = w1 + stride, w3 = w2 + stride;
        Vector256<float> e0 = default, e1 = default, e2 = default, e3 = default;
        Vector256<float> o0 = default, o1 = default, o2 = default, o3 = default;
        var k = 0;
        for (; k + 2 <= Columns; k += 2)
        {
            var even = Vector256.Create(x[k]);
            var odd = Vector256.Create(x[k + 1]);
            var at = k * Width;
            e0 = Fma.MultiplyAdd(Levels(w0 + at), even, e0);
            o0 = Fma.MultiplyAdd(Levels(w0 + at + Width), odd, o0);
            e1 = Fma.MultiplyAdd(Levels(w1 + at), even, e1);
            o1 = Fma.MultiplyAdd(Levels(w1 + at + Width), odd, o1);
            e2 = Fma.MultiplyAdd(Levels(w2 + at), even, e2);
            o2 = Fma.MultiplyAdd(Levels(w2 + at + Width), odd, o2);
            e3 = Fma.MultiplyAdd(Levels(w3 + at), even, e3);
            o3 = Fma.MultiplyAdd(Levels(w3 + at + Width), odd, o3);
        }

        if (k < Columns)
        {
            var last = Vector256.Create(x[k]);
            var at = k * Width;
            e0 = Fma.MultiplyAdd(Levels(w0 + at), last, e0);
            e1 = Fma.MultiplyAdd(Levels(w1 + at), last, e1);
            e2 = Fma.MultiplyAdd(Levels(w2 + at), last, e2);
            e3 = Fma.MultiplyAdd(Levels(w3 + at), last, e3);
        }

        ref var target = ref MemoryMarshal.GetReference(y);
        Store(ref target, (e0 + o0) * Vector256.Load(scales), accumulate);
        Store(ref Unsafe.Add(ref target, Width), (e1 + o1) * Vector256.Load(scales + Width), accumulate);
        Store(ref Unsafe.Add(ref target, 2 * Width), (e2 + o2) * Vector256.Load(scales + 2 * Width), accumulate);
        Store(ref Unsafe.Add(ref target, 3 * Width), (e3 + o3) * Vector256.Load(scales + 3 * Width), accumulate);
    }

    /// <summary>One panel against one input (even and odd columns summed apart), unscaled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe Vector256<float> Single(sbyte* w, float* x)
    {
        Vector256<float> even = default, odd = default;
        var k = 0;
        for (; k + 2 <= Columns; k += 2)
        {
            even = Fma.MultiplyAdd(Levels(w + k * Width), Vector256.Create(x[k]), even);
            odd = Fma.MultiplyAdd(Levels(w + (k + 1) * Width), Vector256.Create(x[k + 1]), odd);
        }

        if (k < Columns)
        {
            even = Fma.MultiplyAdd(Levels(w + k * Width), Vector256.Create(x[k]), even);
        }

        return even + odd;
    }

    /// <summary>Eight levels as floats: one sign-extending load and one conversion.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> Levels(sbyte* column) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(column));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref float target, Vector256<float> value, bool accumulate) =>
        (accumulate ? value + Vector256.LoadUnsafe(ref target) : value).StoreUnsafe(ref target);
}
