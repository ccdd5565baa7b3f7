using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime.Operators;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.Recurrent;

/// <summary>
/// What LSTM, GRU and RNN share in ONNX: the attributes (direction, hidden_size, layout, clip, activations), the input
/// checks, the time-major layout, the input projection X·Wᵀ computed for all steps in one matrix product, the
/// per-sequence lengths, and the Y / Y_h outputs. A subclass supplies the cell arithmetic of one time step.
/// </summary>
internal abstract class RecurrentKernel : IKernel
{
    private readonly long _hiddenSizeAttribute;
    private readonly CompressedMatrix[]? _boundInput;
    private readonly CompressedMatrix[]? _boundRecurrent;

    protected RecurrentKernel(OnnxNode node, BoundWeights bound, int gates, string[] defaultActivations)
    {
        _boundInput = bound.For(1);
        _boundRecurrent = bound.For(2);
        Gates = gates;
        _hiddenSizeAttribute = node.GetInt("hidden_size", 0);
        Layout = (int)node.GetInt("layout", 0);
        var direction = node.GetString("direction", "forward");
        (Directions, ReverseOnly) = direction switch
        {
            "forward" => (1, false),
            "reverse" => (1, true),
            "bidirectional" => (2, false),
            _ => throw new ArgumentException($"attribute 'direction' is '{direction}'; expected forward, reverse or bidirectional."),
        };
        if (Layout is not (0 or 1))
        {
            throw new ArgumentException($"attribute 'layout' is {Layout}; expected 0 or 1.");
        }

        Clip = node.HasAttribute("clip") ? node.GetFloat("clip", 0f) : null;
        Activations = RecurrentActivation.Parse(node.GetStrings("activations"), node.GetFloats("activation_alpha"),
            node.GetFloats("activation_beta"), defaultActivations, Directions);
        ActivationsPerDirection = defaultActivations.Length;
    }

    /// <summary>
    /// The most floats the input projection X·Wᵀ holds at once (64 MB): a longer sequence is projected in chunks of steps,
    /// so its length is bounded by the outputs alone, not by gates × steps.
    /// </summary>
    internal const long ProjectionBudget = 1 << 24;

    /// <summary>Gate blocks stacked in W and R (LSTM 4, GRU 3, RNN 1).</summary>
    protected int Gates { get; }

    protected int Directions { get; }

    protected bool ReverseOnly { get; }

    protected int Layout { get; }

    protected float? Clip { get; }

    protected RecurrentActivation[] Activations { get; }

    protected int ActivationsPerDirection { get; }

    /// <summary>The activation <paramref name="index"/> (f, g, h order) of direction <paramref name="direction"/>.</summary>
    protected RecurrentActivation Activation(int direction, int index) => Activations[direction * ActivationsPerDirection + index];

    /// <summary>Clamps gate pre-activations to ±clip when the node sets <c>clip</c>.</summary>
    protected void ApplyClip(Span<float> x)
    {
        if (Clip is { } clip)
        {
            TensorPrimitives.Clamp(x, -clip, clip, x);
        }
    }

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.RequiredFloat(inputs, 0, "X");
        if (x.Rank != 3)
        {
            throw new ArgumentException($"input 'X' must have rank 3 but has shape {TensorShape.Format(x.Shape)}.");
        }

        var (steps, batch, inputSize) = Layout == 0 ? (x.Shape[0], x.Shape[1], x.Shape[2]) : (x.Shape[1], x.Shape[0], x.Shape[2]);
        var inputWeights = WeightsPerDirection(inputs, 1, "W", _boundInput, _inputViews);
        var recurrentWeights = WeightsPerDirection(inputs, 2, "R", _boundRecurrent, _recurrentViews);
        var hidden = recurrentWeights[0].Columns;
        if (_hiddenSizeAttribute != 0 && _hiddenSizeAttribute != hidden)
        {
            throw new ArgumentException($"attribute hidden_size is {_hiddenSizeAttribute} but R has {hidden} columns.");
        }

        var gateRows = Gates * hidden;
        CheckWeightShapes(inputWeights, "W", gateRows, inputSize);
        CheckWeightShapes(recurrentWeights, "R", gateRows, hidden);
        var bias = KernelInputs.Optional(inputs, 3) is { } b ? KernelInputs.Float(b, "B") : null;
        if (bias is not null)
        {
            KernelInputs.ExpectShape(bias, "B", Directions, 2 * gateRows);
        }

        var lengths = ReadSequenceLengths(KernelInputs.Optional(inputs, 4), steps, batch);
        var initialH = StateInput(inputs, 5, "initial_h", batch, hidden);

        // Every buffer is sized in 64 bits before anything is allocated, so a sequence or batch too large to address is
        // refused here instead of overflowing an offset in the kernels below.
        var yLength = TensorShape.BufferLength("output Y", sizeof(float), steps, Directions, batch, hidden);
        var stateLength = TensorShape.BufferLength("output Y_h", sizeof(float), Directions, batch, hidden);
        var stepLength = TensorShape.BufferLength("one step's gates", sizeof(float), batch, gateRows);
        var y = ArrayArena.Current?.Rent(yLength) ?? new float[yLength]; // Y is the node's output: from the run's arena when large
        var finalH = new float[stateLength];
        var chunkSteps = (int)System.Math.Clamp(ProjectionBudget / System.Math.Max(stepLength, 1), 1, System.Math.Max(steps, 1));
        // Scratch from the shared pool, not fresh arrays: a fresh multi-megabyte array per call is memory the process
        // touches for the first time (page faults), which measured as much as the product that fills it.
        using var projectionBuffer = new ScratchBuffer((long)chunkSteps * stepLength);
        var projection = projectionBuffer.Span;
        var sequence = Layout == 0 ? x.Data : TimeMajor(x.Data, batch, steps, inputSize);
        var run = CreateRun(inputs, batch, hidden);
        var inputBias = new float[gateRows];
        var hPrev = new float[batch * hidden];
        var hNext = new float[batch * hidden];
        var uniformLengths = lengths.All(l => l == steps);
        using var gatheredBuffer = new ScratchBuffer(!uniformLengths && (ReverseOnly || Directions == 2) ? (long)chunkSteps * batch * inputSize : 0);
        var gathered = gatheredBuffer.Span;

        for (var d = 0; d < Directions; d++)
        {
            var reverse = ReverseOnly || d == 1;
            var wd = inputWeights[d];
            var rd = recurrentWeights[d];
            var bd = bias is null ? ReadOnlySpan<float>.Empty : bias.Data.AsSpan(d * 2 * gateRows, 2 * gateRows);
            inputBias.AsSpan().Clear();
            if (!bd.IsEmpty)
            {
                FoldInputBias(bd, inputBias);
            }

            // Sequences of different lengths read backwards start at different times: their rows are gathered in step
            // order. Otherwise every step reads one time of the whole batch, and a chunk is a contiguous time window.
            var stepOrder = reverse && !uniformLengths;
            LoadState(initialH, d, batch, hidden, hPrev);
            run.BeginDirection(d, hidden, bd, rd);

            for (var chunkStart = 0; chunkStart < steps; chunkStart += chunkSteps)
            {
                // X·Wᵀ for a whole chunk of steps at once (the whole sequence unless that would exceed the budget): the
                // weights are read once per chunk instead of once per step.
                var count = System.Math.Min(chunkSteps, steps - chunkStart);
                var window = reverse ? steps - chunkStart - count : chunkStart;
                var rows = count * batch;
                if (stepOrder)
                {
                    GatherStepOrder(sequence, lengths, chunkStart, count, batch, inputSize, gathered);
                    wd.Multiply(gathered, rows, projection, accumulate: false);
                }
                else
                {
                    wd.Multiply(sequence.AsSpan(window * batch * inputSize, rows * inputSize), rows, projection, accumulate: false);
                }

                if (!bd.IsEmpty)
                {
                    for (var row = 0; row < rows; row++)
                    {
                        var slice = projection.Slice(row * gateRows, gateRows);
                        TensorPrimitives.Add(slice, inputBias, slice);
                    }
                }

                for (var t = chunkStart; t < chunkStart + count; t++)
                {
                    // Row b of this step reads time (reverse ? len_b - 1 - t : t) of its own sequence. Each row of the
                    // projection is read by one step only, so the cell may overwrite it.
                    var stepIndex = stepOrder ? t - chunkStart : (reverse ? steps - 1 - t : t) - window;
                    var stepGates = projection.Slice(stepIndex * stepLength, stepLength);
                    run.PreviousStateIsZero = t == 0 && initialH is null;
                    run.Step(d, stepGates, hPrev, hNext, batch, hidden);

                    for (var bi = 0; bi < batch; bi++)
                    {
                        var hRow = hNext.AsSpan(bi * hidden, hidden);
                        if (t >= lengths[bi])
                        {
                            // Past the end of this sequence: the state holds, and Y stays zero.
                            hPrev.AsSpan(bi * hidden, hidden).CopyTo(hRow);
                            run.Hold(bi, hidden);
                            continue;
                        }

                        var time = reverse ? lengths[bi] - 1 - t : t;
                        hRow.CopyTo(y.AsSpan(((time * Directions + d) * batch + bi) * hidden, hidden));
                    }

                    run.EndStep();
                    (hPrev, hNext) = (hNext, hPrev);
                }
            }

            hPrev.CopyTo(finalH.AsSpan(d * batch * hidden, batch * hidden));
            run.EndDirection(d);
        }

        Assign(outputs, 0, Layout == 0
            ? new Tensor<float>([steps, Directions, batch, hidden], y)
            : new Tensor<float>([batch, steps, Directions, hidden], BatchMajor(y, steps, Directions, batch, hidden)));
        Assign(outputs, 1, StateOutput(finalH, batch, hidden));
        run.WriteOutputs(outputs, this, batch, hidden);
    }

    /// <summary>
    /// One operator per direction for input <paramref name="index"/>: the bound compressed operators, or views of the
    /// dense [directions, rows, columns] tensor.
    /// </summary>
    private CompressedMatrix[] WeightsPerDirection(ReadOnlySpan<Tensor?> inputs, int index, string name, CompressedMatrix[]? bound, WeightViews views)
    {
        if (bound is not null)
        {
            return bound;
        }

        var tensor = KernelInputs.RequiredFloat(inputs, index, name);
        if (tensor.Rank != 3 || tensor.Shape[0] != Directions)
        {
            throw new ArgumentException($"input '{name}' must have shape [{Directions}, rows, columns] but has {TensorShape.Format(tensor.Shape)}.");
        }

        return views.For(tensor, Directions, tensor.Shape[1], tensor.Shape[2]);
    }

    /// <summary>The matrices over a W or R that reached the node as a value (a constant of a subgraph, or computed per run).</summary>
    private readonly WeightViews _inputViews = new();

    private readonly WeightViews _recurrentViews = new();

    private void CheckWeightShapes(CompressedMatrix[] weights, string name, int rows, int columns)
    {
        if (weights.Length != Directions || weights.Any(w => w.Rows != rows || w.Columns != columns))
        {
            throw new ArgumentException(
                $"input '{name}' should have shape {TensorShape.Format([Directions, rows, columns])} but has {TensorShape.Format([weights.Length, weights[0].Rows, weights[0].Columns])}.");
        }
    }

    /// <summary>Adds the parts of Wb and Rb that do not depend on the cell's intermediate values to <paramref name="inputBias"/>.</summary>
    protected abstract void FoldInputBias(ReadOnlySpan<float> wbRb, Span<float> inputBias);

    /// <summary>Creates the per-call cell state (kernels themselves stay stateless so they can run concurrently).</summary>
    protected abstract CellRun CreateRun(ReadOnlySpan<Tensor?> inputs, int batch, int hidden);

    /// <summary>Reads an optional [directions, batch, hidden] state input (laid out per <c>layout</c>).</summary>
    protected Tensor<float>? StateInput(ReadOnlySpan<Tensor?> inputs, int index, string name, int batch, int hidden)
    {
        if (KernelInputs.Optional(inputs, index) is not { } t)
        {
            return null;
        }

        var state = KernelInputs.Float(t, name);
        if (Layout == 0)
        {
            KernelInputs.ExpectShape(state, name, Directions, batch, hidden);
        }
        else
        {
            KernelInputs.ExpectShape(state, name, batch, Directions, hidden);
        }

        return state;
    }

    /// <summary>Copies direction <paramref name="d"/> of a state input into a [batch, hidden] buffer (zeros when absent).</summary>
    protected void LoadState(Tensor<float>? state, int d, int batch, int hidden, Span<float> destination)
    {
        if (state is null)
        {
            destination.Clear();
            return;
        }

        for (var b = 0; b < batch; b++)
        {
            var offset = Layout == 0 ? (d * batch + b) * hidden : (b * Directions + d) * hidden;
            state.Data.AsSpan(offset, hidden).CopyTo(destination.Slice(b * hidden, hidden));
        }
    }

    /// <summary>Wraps a [directions, batch, hidden] buffer as a state output in the node's layout.</summary>
    internal Tensor<float> StateOutput(float[] state, int batch, int hidden) => Layout == 0
        ? new Tensor<float>([Directions, batch, hidden], state)
        : new Tensor<float>([batch, Directions, hidden], BatchMajor(state, 1, Directions, batch, hidden));

    protected static void Assign(Span<Tensor?> outputs, int index, Tensor value)
    {
        if (index < outputs.Length)
        {
            outputs[index] = value;
        }
    }

    private static int[] ReadSequenceLengths(Tensor? tensor, int steps, int batch)
    {
        if (tensor is null)
        {
            return Enumerable.Repeat(steps, batch).ToArray();
        }

        var values = KernelInputs.Integers(tensor, "sequence_lens");
        if (values.Length != batch)
        {
            throw new ArgumentException($"input 'sequence_lens' has {values.Length} entries but the batch is {batch}.");
        }

        return values.Select(v => v < 0 || v > steps
            ? throw new ArgumentException($"input 'sequence_lens' holds {v}, outside [0, {steps}].")
            : (int)v).ToArray();
    }

    /// <summary>
    /// Copies into <paramref name="destination"/> the inputs of steps [<paramref name="first"/>, first +
    /// <paramref name="count"/>) read backwards: row (t − first)·batch + b is time len_b − 1 − t of sequence b, or zeros
    /// once that sequence has ended.
    /// </summary>
    private static void GatherStepOrder(float[] sequence, int[] lengths, int first, int count, int batch, int features, Span<float> destination)
    {
        for (var t = first; t < first + count; t++)
        {
            for (var b = 0; b < batch; b++)
            {
                var row = destination.Slice(((t - first) * batch + b) * features, features);
                if (t < lengths[b])
                {
                    sequence.AsSpan(((lengths[b] - 1 - t) * batch + b) * features, features).CopyTo(row);
                }
                else
                {
                    row.Clear();
                }
            }
        }
    }

    /// <summary>[batch, steps, features] → [steps, batch, features].</summary>
    private static float[] TimeMajor(float[] data, int batch, int steps, int features)
    {
        var result = new float[data.Length];
        for (var b = 0; b < batch; b++)
        {
            for (var t = 0; t < steps; t++)
            {
                data.AsSpan((b * steps + t) * features, features).CopyTo(result.AsSpan((t * batch + b) * features, features));
            }
        }

        return result;
    }

    /// <summary>[steps, directions, batch, hidden] → [batch, steps, directions, hidden].</summary>
    private static float[] BatchMajor(float[] data, int steps, int directions, int batch, int hidden)
    {
        var result = new float[data.Length];
        for (var t = 0; t < steps; t++)
        {
            for (var d = 0; d < directions; d++)
            {
                for (var b = 0; b < batch; b++)
                {
                    data.AsSpan(((t * directions + d) * batch + b) * hidden, hidden)
                        .CopyTo(result.AsSpan(((b * steps + t) * directions + d) * hidden, hidden));
                }
            }
        }

        return result;
    }

    /// <summary>The state of one call's cell beyond h, and its step arithmetic.</summary>
    protected abstract class CellRun
    {
        /// <summary>This direction's recurrent weights R, set by <see cref="BeginDirection"/>.</summary>
        protected CompressedMatrix Recurrent { get; private set; } = null!;

        /// <summary>True at the first step when no initial_h was given: the previous hidden state is all zeros.</summary>
        public bool PreviousStateIsZero { get; set; }

        /// <summary>
        /// result (+)= h·Wᵀ for a matrix that multiplies the previous hidden state (or a gated copy of it); skipped when
        /// that state is zero, which saves one recurrent product per sequence.
        /// </summary>
        protected void MultiplyHidden(CompressedMatrix weight, ReadOnlySpan<float> h, int batch, Span<float> result, bool accumulate)
        {
            if (!PreviousStateIsZero)
            {
                weight.Multiply(h, batch, result, accumulate);
            }
            else if (!accumulate)
            {
                result[..(batch * weight.Rows)].Clear();
            }
        }

        /// <summary>
        /// Prepares direction <paramref name="d"/> (e.g. loads its initial cell state); <paramref name="r"/> is its R.
        /// Overrides must call this base method.
        /// </summary>
        public virtual void BeginDirection(int d, int hidden, ReadOnlySpan<float> wbRb, CompressedMatrix r) => Recurrent = r;

        /// <summary>
        /// Advances every batch row one step. <paramref name="gates"/> holds X·Wᵀ plus the folded bias for this step
        /// ([batch, gates·hidden]) and may be overwritten.
        /// </summary>
        public abstract void Step(int d, Span<float> gates, ReadOnlySpan<float> hPrev, Span<float> hNext, int batch, int hidden);

        /// <summary>Keeps batch row <paramref name="b"/>'s extra state unchanged this step (its sequence has ended).</summary>
        public virtual void Hold(int b, int hidden)
        {
        }

        /// <summary>Called after each step, once every row is final.</summary>
        public virtual void EndStep()
        {
        }

        /// <summary>Called after the last step of direction <paramref name="d"/>.</summary>
        public virtual void EndDirection(int d)
        {
        }

        /// <summary>Writes outputs beyond Y and Y_h (LSTM's Y_c).</summary>
        public virtual void WriteOutputs(Span<Tensor?> outputs, RecurrentKernel kernel, int batch, int hidden)
        {
        }
    }
}
