using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime.Operators;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.Recurrent;

/// <summary>
/// ONNX GRU. Gates are stacked z, r, h. With <c>linear_before_reset</c> (what PyTorch exports) the reset gate scales
/// (R_h·h + Rb_h); without it, it scales h before the product. Inputs: X, W, R, B, sequence_lens, initial_h.
/// </summary>
internal sealed class GruKernel : RecurrentKernel
{
    private readonly bool _linearBeforeReset;

    public GruKernel(OnnxNode node, BoundWeights bound)
        : base(node, bound, gates: 3, defaultActivations: ["Sigmoid", "Tanh"])
    {
        _linearBeforeReset = node.GetInt("linear_before_reset", 0) != 0;
    }

    protected override void FoldInputBias(ReadOnlySpan<float> wbRb, Span<float> inputBias)
    {
        var rows = inputBias.Length;
        var hidden = rows / 3;
        wbRb[..rows].CopyTo(inputBias);
        // Rb_z and Rb_r always add outside any product; Rb_h does too unless the reset gate multiplies it.
        var foldedRecurrent = _linearBeforeReset ? 2 * hidden : rows;
        TensorPrimitives.Add(inputBias[..foldedRecurrent], wbRb.Slice(rows, foldedRecurrent), inputBias[..foldedRecurrent]);
    }

    protected override CellRun CreateRun(ReadOnlySpan<Tensor?> inputs, int batch, int hidden) => new GruRun(this, batch, hidden);

    private sealed class GruRun(GruKernel kernel, int batch, int hidden) : CellRun
    {
        private readonly float[] _recurrent = new float[batch * 3 * hidden];
        private readonly float[] _resetHidden = new float[batch * hidden];
        private readonly float[] _hiddenBias = new float[hidden];

        private CompressedMatrix _updateReset = null!;
        private CompressedMatrix _candidate = null!;

        public override void BeginDirection(int d, int hidden, ReadOnlySpan<float> wbRb, CompressedMatrix r)
        {
            base.BeginDirection(d, hidden, wbRb, r);
            if (!kernel._linearBeforeReset)
            {
                // Only the reset-before-product form multiplies the gate blocks of R separately.
                _updateReset = r.RowRange(0, 2 * hidden);
                _candidate = r.RowRange(2 * hidden, hidden);
            }
            if (wbRb.IsEmpty)
            {
                _hiddenBias.AsSpan().Clear();
            }
            else
            {
                wbRb.Slice(5 * hidden, hidden).CopyTo(_hiddenBias);
            }
        }

        public override void Step(int d, Span<float> gates, ReadOnlySpan<float> hPrev, Span<float> hNext, int batch, int hidden)
        {
            var f = kernel.Activation(d, 0);
            var g = kernel.Activation(d, 1);
            var rows = 3 * hidden;
            var recurrentRows = kernel._linearBeforeReset ? rows : 2 * hidden;
            var recurrent = _recurrent.AsSpan(0, batch * recurrentRows);
            MultiplyHidden(kernel._linearBeforeReset ? Recurrent : _updateReset, hPrev, batch, recurrent, accumulate: false);

            for (var b = 0; b < batch; b++)
            {
                var row = gates.Slice(b * rows, rows);
                var rec = recurrent.Slice(b * recurrentRows, recurrentRows);
                var update = row[..hidden];
                var reset = row.Slice(hidden, hidden);
                TensorPrimitives.Add(update, rec[..hidden], update);
                TensorPrimitives.Add(reset, rec.Slice(hidden, hidden), reset);
                kernel.ApplyClip(update);
                f.Apply(update);
                kernel.ApplyClip(reset);
                f.Apply(reset);
                if (kernel._linearBeforeReset)
                {
                    // h̃ = g(x·W_hᵀ + Wb_h + r ⊙ (h·R_hᵀ + Rb_h))
                    var candidate = row.Slice(2 * hidden, hidden);
                    var linear = rec.Slice(2 * hidden, hidden);
                    TensorPrimitives.Add(linear, _hiddenBias, linear);
                    TensorPrimitives.MultiplyAdd(reset, linear, candidate, candidate);
                }
                else
                {
                    TensorPrimitives.Multiply(reset, hPrev.Slice(b * hidden, hidden), _resetHidden.AsSpan(b * hidden, hidden));
                }
            }

            if (!kernel._linearBeforeReset)
            {
                // h̃ = g(x·W_hᵀ + (r ⊙ h)·R_hᵀ + Wb_h + Rb_h): the product needs r first, so it runs after the gates.
                var candidates = _recurrent.AsSpan(0, batch * hidden);
                MultiplyHidden(_candidate, _resetHidden, batch, candidates, accumulate: false);
                for (var b = 0; b < batch; b++)
                {
                    var candidate = gates.Slice(b * rows + 2 * hidden, hidden);
                    TensorPrimitives.Add(candidate, candidates.Slice(b * hidden, hidden), candidate);
                }
            }

            for (var b = 0; b < batch; b++)
            {
                var update = gates.Slice(b * rows, hidden);
                var candidate = gates.Slice(b * rows + 2 * hidden, hidden);
                kernel.ApplyClip(candidate);
                g.Apply(candidate);

                // H = (1 - z) ⊙ h̃ + z ⊙ H_prev = h̃ + z ⊙ (H_prev - h̃)
                var next = hNext.Slice(b * hidden, hidden);
                TensorPrimitives.Subtract(hPrev.Slice(b * hidden, hidden), candidate, next);
                TensorPrimitives.MultiplyAdd(update, next, candidate, next);
            }
        }
    }
}
