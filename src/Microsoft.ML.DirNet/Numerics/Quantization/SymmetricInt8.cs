using System.Runtime.Intrinsics;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// Symmetric int8 with one step for a run of values: step = max|v| / 127 (0 when all are zero, or there are none) and
/// level = round(v / step) in [−127, 127]. The one definition behind int8 weights per row (<c>Int8Rows</c>), the
/// inputs the integer dot-product kernels quantize per call, and the int8 peer written for ONNX Runtime.
/// </summary>
internal static class SymmetricInt8
{
    /// <summary>The step of <paramref name="values"/>: their largest magnitude over 127.</summary>
    public static float Step(ReadOnlySpan<float> values) => values.IsEmpty ? 0f : MathF.Abs(TensorPrimitives.MaxMagnitude(values)) / 127f;

    /// <summary>The level of <paramref name="value"/> on the grid of <paramref name="step"/> (0 on a zero step).</summary>
    public static int Level(float value, float step) => step == 0 ? 0 : (int)Math.Clamp(MathF.Round(value / step), -127, 127);

    /// <summary>
    /// Each of <paramref name="values"/>' levels as <see cref="Level"/> gives it, four at a time (the kernels quantize
    /// their inputs on every call): the same division, rounding to even on ties, and clamping.
    /// </summary>
    public static void Levels(ReadOnlySpan<float> values, float step, Span<int> levels)
    {
        if (step == 0)
        {
            levels[..values.Length].Clear();
            return;
        }

        var (divisor, low, high) = (Vector128.Create(step), Vector128.Create(-127f), Vector128.Create(127f));
        var k = 0;
        for (; k + 4 <= values.Length; k += 4)
        {
            var rounded = Vector128.Round(Vector128.Create(values.Slice(k, 4)) / divisor);
            Vector128.ConvertToInt32(Vector128.Min(Vector128.Max(rounded, low), high)).CopyTo(levels[k..]);
        }

        for (; k < values.Length; k++)
        {
            levels[k] = Level(values[k], step);
        }
    }
}
