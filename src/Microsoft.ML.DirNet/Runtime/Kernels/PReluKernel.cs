using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>ONNX PRelu on float32: x where x ≥ 0, else slope·x, the slope broadcast to X's shape (unidirectionally).</summary>
internal sealed class PReluKernel : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.RequiredFloat(inputs, 0, "X");
        var slope = KernelInputs.RequiredFloat(inputs, 1, "slope");
        if (!TensorShape.SameAs(TensorShape.Broadcast(x.Shape, slope.Shape), x.Shape))
        {
            throw new ArgumentException($"input 'slope' {TensorShape.Format(slope.Shape)} does not broadcast to X's shape {TensorShape.Format(x.Shape)}.");
        }

        var s = StridedCopy.Broadcast(slope, x.Shape).As<float>().Data;
        var y = new Tensor<float>(x.Shape);
        for (var i = 0; i < x.Length; i++)
        {
            var v = x.Data[i];
            y.Data[i] = v >= 0 ? v : s[i] * v;
        }

        outputs[0] = y;
    }
}
