using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX LayerNormalization (opset 17) on float32: X normalised over its axes from <c>axis</c> (default −1) on by their
/// mean and (biased) variance, then times Scale and plus the optional B (both broadcast to those axes). The optional
/// Mean and InvStdDev outputs have X's leading axes and ones for the normalised ones.
/// </summary>
internal sealed class LayerNormalizationKernel(OnnxNode node) : IKernel
{
    private readonly long _axis = node.GetInt("axis", -1);
    private readonly float _epsilon = node.GetFloat("epsilon", 1e-5f);

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.RequiredFloat(inputs, 0, "X");
        var axis = TensorShape.NormalizeAxis(_axis, x.Rank, "axis");
        var normalized = x.Shape[axis..];
        var inner = TensorShape.ElementCount(normalized);
        var scale = Broadcast(KernelInputs.RequiredFloat(inputs, 1, "Scale"), "Scale", normalized);
        var bias = KernelInputs.Optional(inputs, 2) is { } b ? Broadcast(KernelInputs.Float(b, "B"), "B", normalized) : null;
        var outer = inner == 0 ? 0 : x.Length / inner;
        var statisticsShape = x.Shape.Select((d, a) => a < axis ? d : 1).ToArray();
        var y = new Tensor<float>(x.Shape);
        var means = new Tensor<float>(statisticsShape);
        var inverse = new Tensor<float>(statisticsShape);
        for (var row = 0; row < outer; row++)
        {
            var source = x.Data.AsSpan(row * inner, inner);
            var target = y.Data.AsSpan(row * inner, inner);
            var (mean, variance) = Moments(source);
            var inverseDeviation = 1 / MathF.Sqrt(variance + _epsilon);
            TensorPrimitives.Multiply(source, inverseDeviation, target);
            TensorPrimitives.Add(target, -mean * inverseDeviation, target);
            TensorPrimitives.Multiply(target, scale, target);
            if (bias is not null) TensorPrimitives.Add(target, bias, target);
            means.Data[row] = mean;
            inverse.Data[row] = inverseDeviation;
        }

        outputs[0] = y;
        if (outputs.Length > 1) outputs[1] = means;
        if (outputs.Length > 2) outputs[2] = inverse;
    }

    /// <summary>The mean and biased variance of some values, accumulated in double precision.</summary>
    internal static (float Mean, float Variance) Moments(ReadOnlySpan<float> values)
    {
        if (values.Length == 0)
        {
            return (0, 0);
        }

        double sum = 0;
        foreach (var v in values) sum += v;
        var mean = sum / values.Length;
        double squares = 0;
        foreach (var v in values) squares += (v - mean) * (v - mean);
        return ((float)mean, (float)(squares / values.Length));
    }

    private static float[] Broadcast(Tensor<float> parameter, string name, int[] normalized)
    {
        if (!TensorShape.SameAs(TensorShape.Broadcast(normalized, parameter.Shape), normalized))
        {
            throw new ArgumentException($"input '{name}' {TensorShape.Format(parameter.Shape)} does not broadcast to the normalised axes {TensorShape.Format(normalized)}.");
        }

        return StridedCopy.Broadcast(parameter, normalized).As<float>().Data;
    }
}
