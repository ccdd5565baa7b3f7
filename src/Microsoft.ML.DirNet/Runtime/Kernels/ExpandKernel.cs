using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>ONNX Expand: broadcasts the input against a shape (either side may have the larger dimension).</summary>
internal sealed class ExpandKernel : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.Required(inputs, 0, "input");
        var requested = KernelInputs.Dimensions(KernelInputs.Required(inputs, 1, "shape"), "shape");
        var shape = TensorShape.Broadcast(x.Shape, requested);
        outputs[0] = StridedCopy.Broadcast(x, shape);
    }
}
