using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Microsoft.ML.DirNet.Numerics.Simd;

/// <summary>
/// One rung of the SIMD ladder: a vector of <see cref="Count"/> float lanes and its uint twin, with the few operations
/// the kernels written over it need. A kernel is written once as a generic method over <c>TLanes</c>; the JIT compiles
/// one copy per rung (the structs have no state, so every call inlines), and <see cref="LaneWidth"/> picks the widest
/// rung this processor accelerates. Every rung runs on every processor (a wider one than the hardware's is emulated),
/// so tests check each.
/// </summary>
/// <typeparam name="TFloat">The float vector.</typeparam>
/// <typeparam name="TUInt">The uint vector of the same width.</typeparam>
internal interface ILanes<TFloat, TUInt>
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    static abstract TFloat Zero { get; }

    static abstract TFloat Load(ref float source);

    static abstract TUInt LoadUInt(ref uint source);

    static abstract void Store(TFloat value, ref float destination);

    static abstract TFloat Broadcast(float value);

    static abstract TFloat Add(TFloat a, TFloat b);

    static abstract TFloat Subtract(TFloat a, TFloat b);

    static abstract TFloat Multiply(TFloat a, TFloat b);

    static abstract TFloat Divide(TFloat a, TFloat b);

    /// <summary>
    /// Each lane limited to [<paramref name="lowest"/>, <paramref name="highest"/>]; NaN stays NaN. Called with constant
    /// limits, it compiles to one min and one max instruction.
    /// </summary>
    static abstract TFloat Clamp(TFloat x, float lowest, float highest);

    /// <summary>The sum of the lanes.</summary>
    static abstract float Sum(TFloat value);

    /// <summary>Lane <paramref name="index"/>.</summary>
    static abstract float Element(TFloat value, int index);

    /// <summary>
    /// 2ⁿ in each lane, where the low mantissa bits of <paramref name="rounded"/> hold n: rounded = n + 1.5·2²³ (how
    /// adding that constant rounds to an integer), n in [−126, 127].
    /// </summary>
    static abstract TFloat PowerOfTwo(TFloat rounded);

    /// <summary>a·b + c, fused where the hardware fuses (its rounding may differ by rung).</summary>
    static abstract TFloat MultiplyAdd(TFloat a, TFloat b, TFloat c);

    /// <summary>The 4-bit field at bit <paramref name="shift"/> of each lane, as a float (0 … 15).</summary>
    static abstract TFloat Nibble(TUInt words, int shift);

    /// <summary>The signed byte at bit <paramref name="shift"/> of each lane, as a float (−128 … 127).</summary>
    static abstract TFloat SignedByte(TUInt words, int shift);
}

/// <summary>The rungs, by their float lanes.</summary>
internal enum LaneWidth
{
    Scalar = 1,
    Vector128 = 4,
    Vector256 = 8,
    Vector512 = 16,
}

/// <summary>Which rung this processor runs.</summary>
internal static class LaneLadder
{
    /// <summary>The widest accelerated rung (Vector512 only where .NET uses it: AVX-512 on, not throttled off).</summary>
    public static LaneWidth Widest { get; } =
        Vector512.IsHardwareAccelerated ? LaneWidth.Vector512
        : Vector256.IsHardwareAccelerated ? LaneWidth.Vector256
        : Vector128.IsHardwareAccelerated ? LaneWidth.Vector128
        : LaneWidth.Scalar;

    /// <summary>
    /// The rung for kernels over panels of 16 rows: Vector512 wherever 256-bit vectors are accelerated, since .NET runs a
    /// Vector512 without AVX-512 as two Vector256 halves, and a whole panel per pass beat a half panel per pass by 1.9-2.1x
    /// (int4 and int8, 2048 × 512, Zen 5 with AVX-512 off: 23 and 27 µs against 45 and 57 µs; MatrixVectorBenchmarks).
    /// Two levels of that splitting (Vector512 on 128-bit hardware) measured 4-6x slower than Vector128, so narrower
    /// machines take their widest rung.
    /// </summary>
    public static LaneWidth ForPanels { get; } = Vector256.IsHardwareAccelerated ? LaneWidth.Vector512 : Widest;
}

internal readonly struct Lanes512 : ILanes<Vector512<float>, Vector512<uint>>
{
    public static int Count => Vector512<float>.Count;

    public static Vector512<float> Zero => Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref float source) => Vector512.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> LoadUInt(ref uint source) => Vector512.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, ref float destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Clamp(Vector512<float> x, float lowest, float highest) =>
        Vector512.Min(Vector512.Max(x, Vector512.Create(lowest)), Vector512.Create(highest));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> value) => Vector512.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Element(Vector512<float> value, int index) => value.GetElement(index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> PowerOfTwo(Vector512<float> rounded) =>
        Vector512.ShiftLeft(rounded.AsInt32() + Vector512.Create(127), 23).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.MultiplyAddEstimate(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Nibble(Vector512<uint> words, int shift) =>
        Vector512.ConvertToSingle((Vector512.ShiftRightLogical(words, shift) & Vector512.Create(0xFu)).AsInt32());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> SignedByte(Vector512<uint> words, int shift) =>
        Vector512.ConvertToSingle(Vector512.ShiftRightArithmetic(Vector512.ShiftLeft(words, 24 - shift).AsInt32(), 24));
}

internal readonly struct Lanes256 : ILanes<Vector256<float>, Vector256<uint>>
{
    public static int Count => Vector256<float>.Count;

    public static Vector256<float> Zero => Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref float source) => Vector256.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> LoadUInt(ref uint source) => Vector256.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, ref float destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Broadcast(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Clamp(Vector256<float> x, float lowest, float highest) =>
        Vector256.Min(Vector256.Max(x, Vector256.Create(lowest)), Vector256.Create(highest));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> value) => Vector256.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Element(Vector256<float> value, int index) => value.GetElement(index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> PowerOfTwo(Vector256<float> rounded) =>
        Vector256.ShiftLeft(rounded.AsInt32() + Vector256.Create(127), 23).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Nibble(Vector256<uint> words, int shift) =>
        Vector256.ConvertToSingle((Vector256.ShiftRightLogical(words, shift) & Vector256.Create(0xFu)).AsInt32());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> SignedByte(Vector256<uint> words, int shift) =>
        Vector256.ConvertToSingle(Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(words, 24 - shift).AsInt32(), 24));
}

internal readonly struct Lanes128 : ILanes<Vector128<float>, Vector128<uint>>
{
    public static int Count => Vector128<float>.Count;

    public static Vector128<float> Zero => Vector128<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(ref float source) => Vector128.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> LoadUInt(ref uint source) => Vector128.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> value, ref float destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Broadcast(float value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Divide(Vector128<float> a, Vector128<float> b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Clamp(Vector128<float> x, float lowest, float highest) =>
        Vector128.Min(Vector128.Max(x, Vector128.Create(lowest)), Vector128.Create(highest));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector128<float> value) => Vector128.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Element(Vector128<float> value, int index) => value.GetElement(index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> PowerOfTwo(Vector128<float> rounded) =>
        Vector128.ShiftLeft(rounded.AsInt32() + Vector128.Create(127), 23).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Nibble(Vector128<uint> words, int shift) =>
        Vector128.ConvertToSingle((Vector128.ShiftRightLogical(words, shift) & Vector128.Create(0xFu)).AsInt32());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> SignedByte(Vector128<uint> words, int shift) =>
        Vector128.ConvertToSingle(Vector128.ShiftRightArithmetic(Vector128.ShiftLeft(words, 24 - shift).AsInt32(), 24));
}

internal readonly struct LanesScalar : ILanes<float, uint>
{
    public static int Count => 1;

    public static float Zero => 0f;

    public static float Load(ref float source) => source;

    public static uint LoadUInt(ref uint source) => source;

    public static void Store(float value, ref float destination) => destination = value;

    public static float Broadcast(float value) => value;

    public static float Add(float a, float b) => a + b;

    public static float Multiply(float a, float b) => a * b;

    public static float Subtract(float a, float b) => a - b;

    public static float Divide(float a, float b) => a / b;

    public static float Clamp(float x, float lowest, float highest) => MathF.Min(MathF.Max(x, lowest), highest);

    public static float Sum(float value) => value;

    public static float Element(float value, int index) => value;

    public static float PowerOfTwo(float rounded) => BitConverter.Int32BitsToSingle(unchecked((BitConverter.SingleToInt32Bits(rounded) + 127) << 23));

    public static float MultiplyAdd(float a, float b, float c) => a * b + c;

    public static float Nibble(uint words, int shift) => (words >> shift) & 0xF;

    public static float SignedByte(uint words, int shift) => (sbyte)(words >> shift);
}
