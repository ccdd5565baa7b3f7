using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// Vectorized tanh and logistic sigmoid for the recurrent cells, as a rational approximation (numerator of degree 13,
/// denominator of degree 6 over x clamped to ±7.9053, the form Eigen and ONNX Runtime's MLAS use). Absolute error is
/// below 1e-6 over all floats, and it runs several times faster than the exact TensorPrimitives functions, which
/// matters because the gates are evaluated at every time step.
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
    public static void Tanh(Span<float> x) => Apply(x, scale: 1f, shift: 0f);

    /// <summary>x ← 1 / (1 + e^(−x)), computed as 0.5·tanh(x/2) + 0.5.</summary>
    public static void Sigmoid(Span<float> x) => Apply(x, scale: 0.5f, shift: 0.5f);

    /// <summary>x ← scale·tanh(scale·x) + shift: tanh with (1, 0), sigmoid with (0.5, 0.5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Apply(Span<float> values, float scale, float shift)
    {
        ref var x = ref MemoryMarshal.GetReference(values);
        var i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= values.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var v = Vector512.LoadUnsafe(ref x, (nuint)i) * scale;
                (Tanh512(v) * scale + Vector512.Create(shift)).StoreUnsafe(ref x, (nuint)i);
            }
        }

        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= values.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref x, (nuint)i) * scale;
                (Tanh256(v) * scale + Vector256.Create(shift)).StoreUnsafe(ref x, (nuint)i);
            }
        }

        for (; i < values.Length; i++)
        {
            Unsafe.Add(ref x, i) = TanhScalar(Unsafe.Add(ref x, i) * scale) * scale + shift;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Tanh512(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-Clamp)), Vector512.Create(Clamp));
        var x2 = x * x;
        var p = Vector512.FusedMultiplyAdd(x2, Vector512.Create(A13), Vector512.Create(A11));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(A9));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(A7));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(A5));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(A3));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(A1));
        var q = Vector512.FusedMultiplyAdd(x2, Vector512.Create(B6), Vector512.Create(B4));
        q = Vector512.FusedMultiplyAdd(q, x2, Vector512.Create(B2));
        q = Vector512.FusedMultiplyAdd(q, x2, Vector512.Create(B0));
        return p * x / q;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Tanh256(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-Clamp)), Vector256.Create(Clamp));
        var x2 = x * x;
        var p = Vector256.FusedMultiplyAdd(x2, Vector256.Create(A13), Vector256.Create(A11));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(A9));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(A7));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(A5));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(A3));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(A1));
        var q = Vector256.FusedMultiplyAdd(x2, Vector256.Create(B6), Vector256.Create(B4));
        q = Vector256.FusedMultiplyAdd(q, x2, Vector256.Create(B2));
        q = Vector256.FusedMultiplyAdd(q, x2, Vector256.Create(B0));
        return p * x / q;
    }

    private static float TanhScalar(float x)
    {
        x = System.Math.Clamp(x, -Clamp, Clamp);
        var x2 = x * x;
        var p = ((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2 + A1) * x;
        var q = ((B6 * x2 + B4) * x2 + B2) * x2 + B0;
        return p / q;
    }
}
