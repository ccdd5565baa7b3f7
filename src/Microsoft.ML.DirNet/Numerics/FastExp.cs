using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.DirNet.Numerics.Simd;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// e^(x − shift) for softmax rows, where every exponent is at most 0: Cephes' single-precision exp (2ⁿ·p(r) with r
/// reduced by a two-part ln 2 and a degree-6 polynomial, about 1 ulp), written once over the SIMD ladder.
/// TensorPrimitives.Exp widens to double for correct rounding and took several times as long per value. Exponents
/// below −87.3 are clamped there (e^−87.3 ≈ 1e−38), which changes no sum that includes e^0 = 1. A shift that is not
/// finite (a row holding NaN or +∞) goes through <see cref="MathF.Exp(float)"/>, so NaN and ∞ − ∞ come out as the
/// definition says; with a finite shift no x − shift is NaN.
/// </summary>
internal static class FastExp
{
    private const float Log2E = 1.44269504088896341f;
    private const float RoundingMagic = 12582912f; // 1.5·2²³: adding it rounds to an integer held in the low mantissa bits
    private const float Ln2High = 0.693359375f;
    private const float Ln2Low = -2.12194440e-4f;
    private const float Lowest = -87.3365448f;
    private const float Highest = 88f; // keeps 2ⁿ finite (n ≤ 127)
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f;
    private const float P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /// <summary>Σ e^(x − shift) over <paramref name="x"/>.</summary>
    public static float SumShifted(ReadOnlySpan<float> x, float shift) => SumShifted(x, shift, LaneLadder.Widest);

    /// <summary>As <see cref="SumShifted(ReadOnlySpan{float}, float)"/> from a given rung down (the tests run each).</summary>
    internal static float SumShifted(ReadOnlySpan<float> x, float shift, LaneWidth rung)
    {
        if (!float.IsFinite(shift))
        {
            var sum = 0f;
            foreach (var value in x)
            {
                sum += MathF.Exp(value - shift);
            }

            return sum;
        }

        var kernel = new ShiftedExponentials(x, shift, []);
        LaneKernel.Run(ref kernel, rung);
        return kernel.Sum;
    }

    /// <summary>y = e^(x − shift) element-wise; returns Σ y.</summary>
    public static float ExpShifted(ReadOnlySpan<float> x, float shift, Span<float> y) => ExpShifted(x, shift, y, LaneLadder.Widest);

    /// <summary>As <see cref="ExpShifted(ReadOnlySpan{float}, float, Span{float})"/> from a given rung down (the tests run each).</summary>
    internal static float ExpShifted(ReadOnlySpan<float> x, float shift, Span<float> y, LaneWidth rung)
    {
        if (y.Length < x.Length)
        {
            throw new ArgumentException("The destination is shorter than the source.", nameof(y));
        }

        if (!float.IsFinite(shift))
        {
            var sum = 0f;
            for (var i = 0; i < x.Length; i++)
            {
                y[i] = MathF.Exp(x[i] - shift);
                sum += y[i];
            }

            return sum;
        }

        var kernel = new ShiftedExponentials(x, shift, y[..x.Length]);
        LaneKernel.Run(ref kernel, rung);
        return kernel.Sum;
    }

    /// <summary>Sums e^(x − shift), storing each into the destination unless it is empty.</summary>
    private ref struct ShiftedExponentials(ReadOnlySpan<float> x, float shift, Span<float> y) : ILaneKernel
    {
        private readonly ReadOnlySpan<float> _x = x;
        private readonly Span<float> _y = y;
        private readonly bool _store = !y.IsEmpty;

        /// <summary>The sum so far.</summary>
        public float Sum { get; private set; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public int Run<TLanes, TFloat, TUInt>(int start)
            where TLanes : struct, ILanes<TFloat, TUInt>
        {
            // Locals, not fields, in the loops: the JIT reloads a field of this after every store.
            ref var source = ref MemoryMarshal.GetReference(_x);
            ref var target = ref MemoryMarshal.GetReference(_y);
            var (length, store) = (_x.Length, _store);
            var offset = TLanes.Broadcast(shift);
            var count = TLanes.Count;
            var sum = TLanes.Zero;
            var i = start;
            for (; i <= length - count; i += count)
            {
                var e = Exp<TLanes, TFloat, TUInt>(TLanes.Subtract(TLanes.Load(ref Unsafe.Add(ref source, (nuint)i)), offset));
                if (store)
                {
                    TLanes.Store(e, ref Unsafe.Add(ref target, (nuint)i));
                }

                sum = TLanes.Add(sum, e);
            }

            Sum += TLanes.Sum(sum);
            return i;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TFloat Exp<TLanes, TFloat, TUInt>(TFloat x)
        where TLanes : struct, ILanes<TFloat, TUInt>
    {
        x = TLanes.Clamp(x, Lowest, Highest);
        // n = round(x·log₂e), read both as a float and, from the low mantissa bits of t, as 2ⁿ's exponent field.
        var t = TLanes.MultiplyAdd(x, TLanes.Broadcast(Log2E), TLanes.Broadcast(RoundingMagic));
        var n = TLanes.Subtract(t, TLanes.Broadcast(RoundingMagic));
        var r = TLanes.MultiplyAdd(n, TLanes.Broadcast(-Ln2High), x);
        r = TLanes.MultiplyAdd(n, TLanes.Broadcast(-Ln2Low), r);
        var p = TLanes.MultiplyAdd(TLanes.Broadcast(P0), r, TLanes.Broadcast(P1));
        p = TLanes.MultiplyAdd(p, r, TLanes.Broadcast(P2));
        p = TLanes.MultiplyAdd(p, r, TLanes.Broadcast(P3));
        p = TLanes.MultiplyAdd(p, r, TLanes.Broadcast(P4));
        p = TLanes.MultiplyAdd(p, r, TLanes.Broadcast(P5));
        p = TLanes.MultiplyAdd(p, TLanes.Multiply(r, r), TLanes.Add(r, TLanes.Broadcast(1f)));
        return TLanes.Multiply(p, TLanes.PowerOfTwo(t));
    }
}
