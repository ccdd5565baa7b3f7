using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>ONNX Where: picks X where the bool condition holds and Y elsewhere, broadcasting all three.</summary>
internal sealed class WhereKernel : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var condition = KernelInputs.Required(inputs, 0, "condition") as Tensor<bool>
            ?? throw new ArgumentException("input 'condition' must be bool.");
        var x = KernelInputs.Required(inputs, 1, "X");
        var y = KernelInputs.Required(inputs, 2, "Y");
        if (x.ElementType != y.ElementType)
        {
            throw new ArgumentException($"inputs 'X' ({x.ElementType}) and 'Y' ({y.ElementType}) must have the same element type.");
        }

        var shape = TensorShape.Broadcast(TensorShape.Broadcast(condition.Shape, x.Shape), y.Shape);
        var pick = StridedCopy.Broadcast(condition, shape).As<bool>().Data;
        var result = StridedCopy.Copy(x, 0, TensorShape.BroadcastStrides(x.Shape, shape), shape);
        var other = StridedCopy.Broadcast(y, shape).AsBytes();
        var bytes = result.AsBytes();
        var size = x.ElementSize;
        for (var i = 0; i < pick.Length; i++)
        {
            if (!pick[i])
            {
                other.Slice(i * size, size).CopyTo(bytes.Slice(i * size, size));
            }
        }

        outputs[0] = result;
    }
}
