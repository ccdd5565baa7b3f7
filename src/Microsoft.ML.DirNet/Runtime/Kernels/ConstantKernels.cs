using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>ONNX Constant: the tensor held in one of its value attributes.</summary>
internal sealed class ConstantKernel(OnnxNode node) : IKernel
{
    private readonly Tensor _value = Read(node);

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs) => outputs[0] = _value;

    private static Tensor Read(OnnxNode node)
    {
        if (node.GetTensor("value") is { } tensor) return tensor;
        if (node.HasAttribute("value_float")) return Tensor<float>.Scalar(node.GetFloat("value_float", 0));
        if (node.GetFloats("value_floats") is { } floats) return new Tensor<float>([floats.Length], floats);
        if (node.HasAttribute("value_int")) return Tensor<long>.Scalar(node.GetInt("value_int", 0));
        if (node.GetInts("value_ints") is { } ints) return new Tensor<long>([ints.Length], ints);
        throw new ArgumentException(
            $"Constant has none of value, value_float(s), value_int(s) (it sets {string.Join(", ", node.AttributeNames)}; string and sparse constants are not supported).");
    }
}

/// <summary>ONNX ConstantOfShape: a tensor of the given shape filled with the one-element <c>value</c> (default float 0).</summary>
internal sealed class ConstantOfShapeKernel(OnnxNode node) : IKernel
{
    private readonly Tensor _value = node.GetTensor("value") ?? Tensor<float>.Scalar(0f);

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        if (_value.Length != 1)
        {
            throw new ArgumentException($"attribute 'value' must hold one element but holds {_value.Length}.");
        }

        // Tensor.Zeros refuses a negative or over-2 GB shape before allocating (a shape from damaged data can be any size).
        var result = Tensor.Zeros(_value.ElementType, KernelInputs.Dimensions(KernelInputs.Required(inputs, 0, "input"), "input"));
        var size = _value.ElementSize;
        var fill = _value.AsBytes();
        var target = result.AsBytes();
        for (var i = 0; i < result.Length; i++)
        {
            fill.CopyTo(target.Slice(i * size, size));
        }

        outputs[0] = result;
    }
}

/// <summary>ONNX Identity, and Dropout at inference: the input passes through; Dropout's mask is all true.</summary>
internal sealed class PassThroughKernel(bool isDropout) : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.Required(inputs, 0, "input");
        if (isDropout && KernelInputs.Optional(inputs, 2) is Tensor<bool> { Length: > 0 } training && training.Data[0]
            && (KernelInputs.Optional(inputs, 1) is not Tensor<float> ratio || ratio.Data[0] != 0f))
        {
            throw new NotSupportedException(
                "Dropout in training mode (random masks) is not supported; the engine runs inference only.");
        }

        outputs[0] = x;
        if (outputs.Length > 1)
        {
            var mask = new Tensor<bool>(x.Shape);
            mask.Data.AsSpan().Fill(true);
            outputs[1] = mask;
        }
    }
}
