using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX InstanceNormalization on float32, X [N, C, …] with scale and B [C]: each (image, channel) plane normalised by
/// its own mean and (biased) variance, y = scale · (x − mean) / √(var + epsilon) + B.
/// </summary>
internal sealed class InstanceNormalizationKernel(OnnxNode node) : IKernel
{
    private readonly float _epsilon = node.GetFloat("epsilon", 1e-5f);

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.RequiredFloat(inputs, 0, "input");
        if (x.Rank < 3)
        {
            throw new ArgumentException($"input 'input' {TensorShape.Format(x.Shape)} must be [batch, channels, spatial…].");
        }

        var channels = x.Shape[1];
        var scale = KernelInputs.RequiredFloat(inputs, 1, "scale");
        var bias = KernelInputs.RequiredFloat(inputs, 2, "B");
        KernelInputs.ExpectShape(scale, "scale", channels);
        KernelInputs.ExpectShape(bias, "B", channels);
        var inner = x.Length / System.Math.Max(x.Shape[0] * channels, 1);
        var y = new Tensor<float>(x.Shape);
        for (var plane = 0; plane < x.Shape[0] * channels; plane++)
        {
            var c = plane % channels;
            var source = x.Data.AsSpan(plane * inner, inner);
            var (mean, variance) = LayerNormalizationKernel.Moments(source);
            var multiplier = scale.Data[c] / MathF.Sqrt(variance + _epsilon);
            var target = y.Data.AsSpan(plane * inner, inner);
            TensorPrimitives.Multiply(source, multiplier, target);
            TensorPrimitives.Add(target, bias.Data[c] - mean * multiplier, target);
        }

        outputs[0] = y;
    }
}
