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
}
