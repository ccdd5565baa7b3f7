using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime.Operators;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.Recurrent;

/// <summary>
/// ONNX LSTM (opsets 7-14 semantics; layout from 14). Gates are stacked i, o, f, c; peepholes P are i, o, f.
/// Inputs: X, W, R, B, sequence_lens, initial_h, initial_c, P. Outputs: Y, Y_h, Y_c.
/// </summary>
internal sealed class LstmKernel : RecurrentKernel
{
    private readonly bool _inputForget;

    public LstmKernel(OnnxNode node, BoundWeights bound)
        : base(node, bound, gates: 4, defaultActivations: ["Sigmoid", "Tanh", "Tanh"])
    {
        _inputForget = node.GetInt("input_forget", 0) != 0;
    }

    protected override void FoldInputBias(ReadOnlySpan<float> wbRb, Span<float> inputBias)
    {
        var rows = inputBias.Length;
        TensorPrimitives.Add(wbRb[..rows], wbRb.Slice(rows, rows), inputBias);
    }

    protected override CellRun CreateRun(ReadOnlySpan<Tensor?> inputs, int batch, int hidden)
    {
        var initialC = StateInput(inputs, 6, "initial_c", batch, hidden);
        var peepholes = KernelInputs.Optional(inputs, 7) is { } p ? KernelInputs.Float(p, "P") : null;
        if (peepholes is not null)
        {
            KernelInputs.ExpectShape(peepholes, "P", Directions, 3 * hidden);
        }

        return new LstmRun(this, initialC, peepholes, batch, hidden);
    }

    private sealed class LstmRun(LstmKernel kernel, Tensor<float>? initialC, Tensor<float>? peepholes, int batch, int hidden)
        : CellRun
    {
        private readonly float[] _finalC = new float[kernel.Directions * batch * hidden];
        private readonly float[] _scratch = new float[hidden];
        private float[] _cPrev = new float[batch * hidden];
        private float[] _cNext = new float[batch * hidden];

        public override void BeginDirection(int d, int hidden, ReadOnlySpan<float> wbRb, CompressedMatrix r)
        {
            base.BeginDirection(d, hidden, wbRb, r);
            kernel.LoadState(initialC, d, batch, hidden, _cPrev);
        }

        public override void Step(int d, Span<float> gates, ReadOnlySpan<float> hPrev, Span<float> hNext, int batch, int hidden)
        {
            MultiplyHidden(Recurrent, hPrev, batch, gates, accumulate: true);
            var f = kernel.Activation(d, 0);
            var g = kernel.Activation(d, 1);
            var h = kernel.Activation(d, 2);
            var p = peepholes is null ? ReadOnlySpan<float>.Empty : peepholes.Data.AsSpan(d * 3 * hidden, 3 * hidden);
            for (var b = 0; b < batch; b++)
            {
                var row = gates.Slice(b * 4 * hidden, 4 * hidden);
                var input = row[..hidden];
                var output = row.Slice(hidden, hidden);
                var forget = row.Slice(2 * hidden, hidden);
                var candidate = row.Slice(3 * hidden, hidden);
                ReadOnlySpan<float> cPrev = _cPrev.AsSpan(b * hidden, hidden);
                var c = _cNext.AsSpan(b * hidden, hidden);

                if (!p.IsEmpty)
                {
                    TensorPrimitives.MultiplyAdd(p[..hidden], cPrev, input, input);
                    TensorPrimitives.MultiplyAdd(p.Slice(2 * hidden, hidden), cPrev, forget, forget);
                }

                kernel.ApplyClip(input);
                f.Apply(input);
                if (kernel._inputForget)
                {
                    // Coupled gates: f = 1 - i.
                    TensorPrimitives.Subtract(1f, input, forget);
                }
                else
                {
                    kernel.ApplyClip(forget);
                    f.Apply(forget);
                }

                kernel.ApplyClip(candidate);
                g.Apply(candidate);

                // C = f ⊙ C_prev + i ⊙ c̃
                TensorPrimitives.Multiply(forget, cPrev, c);
                TensorPrimitives.MultiplyAdd(input, candidate, c, c);

                if (!p.IsEmpty)
                {
                    TensorPrimitives.MultiplyAdd(p.Slice(hidden, hidden), c, output, output);
                }

                kernel.ApplyClip(output);
                f.Apply(output);
                c.CopyTo(_scratch);
                h.Apply(_scratch);
                TensorPrimitives.Multiply(output, _scratch, hNext.Slice(b * hidden, hidden));
            }
        }

        public override void Hold(int b, int hidden) =>
            _cPrev.AsSpan(b * hidden, hidden).CopyTo(_cNext.AsSpan(b * hidden, hidden));

        public override void EndStep() => (_cPrev, _cNext) = (_cNext, _cPrev);

        public override void EndDirection(int d) => _cPrev.CopyTo(_finalC.AsSpan(d * batch * hidden, batch * hidden));

        public override void WriteOutputs(Span<Tensor?> outputs, RecurrentKernel owner, int batch, int hidden) =>
            Assign(outputs, 2, owner.StateOutput(_finalC, batch, hidden));
    }
}
