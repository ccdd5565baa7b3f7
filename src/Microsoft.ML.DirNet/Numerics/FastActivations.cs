using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.DirNet.Numerics.Simd;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// Vectorized tanh and logistic sigmoid for the recurrent cells, as a rational approximation (numerator of degree 13,
/// denominator of degree 6 over x clamped to ±7.9053, the form Eigen and ONNX Runtime's MLAS use). Absolute error is
/// below 1e-6 over all floats, and it runs several times faster than the exact TensorPrimitives functions, which
/// matters because the gates are evaluated at every time step. Written once over the SIMD ladder; NaN stays NaN.
/// </summary>
internal static class FastActivations
{
    private const float Clamp = 7.90531110763549805f;
    private const float A1 = 4.89352455891786e-03f, A3 = 6.37261928875436e-04f, A5 = 1.48572235717979e-05f;
    private const float A7 = 5.12229709037114e-08f, A9 = -8.60467152213735e-11f, A11 = 2.00018790482477e-13f;
    private const float A13 = -2.76076847742355e-16f;
    private const float B0 = 4.89352518554385e-03f, B2 = 2.26843463243900e-03f, B4 = 1.18534705686654e-04f;
    private const float B6 = 1.19825839466702e-06f;

    /// <summary>x ← tanh(x).</summary>
    public static void Tanh(Span<float> x) => Apply(x, scale: 1f, shift: 0f, LaneLadder.Widest);

    /// <summary>x ← 1 / (1 + e^(−x)), computed as 0.5·tanh(x/2) + 0.5.</summary>
    public static void Sigmoid(Span<float> x) => Apply(x, scale: 0.5f, shift: 0.5f, LaneLadder.Widest);

    /// <summary>As <see cref="Tanh(Span{float})"/> from a given rung down (the tests run each).</summary>
    internal static void Tanh(Span<float> x, LaneWidth rung) => Apply(x, scale: 1f, shift: 0f, rung);

    /// <summary>As <see cref="Sigmoid(Span{float})"/> from a given rung down (the tests run each).</summary>
    internal static void Sigmoid(Span<float> x, LaneWidth rung) => Apply(x, scale: 0.5f, shift: 0.5f, rung);

    private static void Apply(Span<float> x, float scale, float shift, LaneWidth rung)
    {
        var kernel = new ScaledTanh(x, scale, shift);
        LaneKernel.Run(ref kernel, rung);
    }

    /// <summary>x ← scale·tanh(scale·x) + shift: tanh with (1, 0), sigmoid with (0.5, 0.5).</summary>
    private readonly ref struct ScaledTanh(Span<float> values, float scale, float shift) : ILaneKernel
    {
        private readonly Span<float> _values = values;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public int Run<TLanes, TFloat, TUInt>(int start)
            where TLanes : struct, ILanes<TFloat, TUInt>
        {
            // Locals, not fields, in the loop: the JIT reloads a field of this after every store.
            ref var x = ref MemoryMarshal.GetReference(_values);
            var last = _values.Length - TLanes.Count;
            var (factor, offset) = (TLanes.Broadcast(scale), TLanes.Broadcast(shift));
            var i = start;
            for (; i <= last; i += TLanes.Count)
            {
                ref var at = ref Unsafe.Add(ref x, (nuint)i);
                TLanes.Store(TLanes.MultiplyAdd(Tanh<TLanes, TFloat, TUInt>(TLanes.Multiply(TLanes.Load(ref at), factor)), factor, offset), ref at);
            }

            return i;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TFloat Tanh<TLanes, TFloat, TUInt>(TFloat x)
        where TLanes : struct, ILanes<TFloat, TUInt>
    {
        x = TLanes.Clamp(x, -Clamp, Clamp);
        var x2 = TLanes.Multiply(x, x);
        var p = TLanes.MultiplyAdd(x2, TLanes.Broadcast(A13), TLanes.Broadcast(A11));
        p = TLanes.MultiplyAdd(p, x2, TLanes.Broadcast(A9));
        p = TLanes.MultiplyAdd(p, x2, TLanes.Broadcast(A7));
        p = TLanes.MultiplyAdd(p, x2, TLanes.Broadcast(A5));
        p = TLanes.MultiplyAdd(p, x2, TLanes.Broadcast(A3));
        p = TLanes.MultiplyAdd(p, x2, TLanes.Broadcast(A1));
        var q = TLanes.MultiplyAdd(x2, TLanes.Broadcast(B6), TLanes.Broadcast(B4));
        q = TLanes.MultiplyAdd(q, x2, TLanes.Broadcast(B2));
        q = TLanes.MultiplyAdd(q, x2, TLanes.Broadcast(B0));
        return TLanes.Divide(TLanes.Multiply(p, x), q);
    }
}
