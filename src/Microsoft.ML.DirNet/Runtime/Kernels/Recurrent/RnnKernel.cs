using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime.Operators;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.Recurrent;

/// <summary>ONNX RNN (Elman): H = f(X·Wᵀ + H_prev·Rᵀ + Wb + Rb), f Tanh by default (PyTorch's relu variant sets Relu).</summary>
internal sealed class RnnKernel : RecurrentKernel
{
    public RnnKernel(OnnxNode node, BoundWeights bound)
        : base(node, bound, gates: 1, defaultActivations: ["Tanh"])
    {
    }

    protected override void FoldInputBias(ReadOnlySpan<float> wbRb, Span<float> inputBias)
    {
        var rows = inputBias.Length;
        TensorPrimitives.Add(wbRb[..rows], wbRb.Slice(rows, rows), inputBias);
    }

    protected override CellRun CreateRun(ReadOnlySpan<Tensor?> inputs, int batch, int hidden) => new RnnRun(this);

    private sealed class RnnRun(RnnKernel kernel) : CellRun
    {
        public override void Step(int d, Span<float> gates, ReadOnlySpan<float> hPrev, Span<float> hNext, int batch, int hidden)
        {
            MultiplyHidden(Recurrent, hPrev, batch, gates, accumulate: true);
            kernel.ApplyClip(gates);
            kernel.Activation(d, 0).Apply(gates);
            gates.CopyTo(hNext);
        }
    }
}
