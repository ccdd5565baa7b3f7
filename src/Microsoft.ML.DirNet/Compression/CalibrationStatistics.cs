using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// What each compressible matrix really multiplies, summarised as the second-moment matrix C = (1/N)·Σ x·xᵀ of its input
/// vectors, captured by running the model on calibration inputs through the engine the caller gives (the library's
/// entry points give the native one). With C, every method can fit in the data-aware norm ‖(W − Ŵ)·X‖ instead of
/// ‖W − Ŵ‖. Captured inputs: a recurrent layer's X for its W; its output
/// states h_t (every step of Y, per direction) for its R (R multiplies h_{t−1}: the same vectors but the last, plus
/// the initial state); the A input of MatMul and Gemm (without transA). Embedding tables (Gather) are not calibrated.
/// </summary>
public sealed class CalibrationStatistics
{
    /// <summary>
    /// Input sets (the first ones) each of the auto method's candidates is scored on when scored on the model's output
    /// (<see cref="AutoScoring.OutputSquaredError"/>): 4 sets, e.g. 400 tokens of the language-model sample's
    /// calibration chunks.
    /// </summary>
    public const int ProbeSetLimit = 4;

    /// <summary>
    /// Input sets kept (the first ones) for scoring the auto method's whole plans on the model's output: up to 40 plans
    /// are scored, against a few dozen candidates per matrix, so they can afford more inputs.
    /// </summary>
    internal const int JointProbeSetLimit = 8;

    /// <summary>
    /// Input sets kept (the first ones) for the final choice among the auto method's best few plans
    /// (<see cref="JointPlanSearch.Finalists"/>): a plan chosen as the best of 40 on 8 sets is partly chosen for those
    /// sets' noise, so the finalists are compared again on more.
    /// </summary>
    internal const int FinalProbeSetLimit = 40;

    private readonly Dictionary<(string Initializer, int Direction), (double[] Moment, long Count)> _moments;

    private CalibrationStatistics(Dictionary<(string, int), (double[], long)> moments, IReadOnlyList<Tensor[]> probeSets)
    {
        _moments = moments;
        ProbeSets = probeSets;
    }

    /// <summary>The first <see cref="FinalProbeSetLimit"/> input sets the statistics were captured from.</summary>
    internal IReadOnlyList<Tensor[]> ProbeSets { get; }

    /// <summary>Input vectors seen per matrix (by initializer and direction).</summary>
    public long VectorCount(CompressibleWeight weight) => _moments.TryGetValue((weight.Initializer, weight.Direction), out var m) ? m.Count : 0;

    /// <summary>
    /// Runs <paramref name="model"/> on <paramref name="engine"/> on each input set and accumulates the moments of every
    /// matrix's inputs (the public <c>CalibrationStatistics.Capture(model, inputs)</c> passes the native engine).
    /// </summary>
    /// <exception cref="DirNetException">An input set does not fit the model or holds NaN or infinite values, or the model
    /// computes NaN or infinite values from it where a matrix's inputs are captured (the message names the input or value).</exception>
    internal static CalibrationStatistics Capture(OnnxModel model, IEnumerable<Tensor[]> inputs, IOnnxEngine engine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var sources = new List<(CompressibleWeight Weight, string Value, int Direction, bool IsState)>();
        // A weight read inside a subgraph (index −1) gets no moments: the engine cannot report values inside a
        // subgraph, so it is fitted data-free.
        foreach (var weight in WeightFinder.FindWeights(model).Where(w => w.NodeIndex >= 0))
        {
            var node = model.Graph.Nodes[weight.NodeIndex];
            switch (weight.Role)
            {
                case WeightRole.RecurrentInput:
                    sources.Add((weight, node.Inputs[0], weight.Direction, false));
                    break;
                case WeightRole.RecurrentHidden when node.Outputs.Count > 0 && node.Outputs[0].Length > 0:
                    sources.Add((weight, node.Outputs[0], weight.Direction, true));
                    break;
                case WeightRole.MatMul:
                case WeightRole.Gemm when node.GetInt("transA", 0) == 0:
                    sources.Add((weight, node.Inputs[0], 0, false));
                    break;
            }
        }

        // The engine returns the graph's outputs, then the extra ones in the order asked.
        var outputNames = model.Graph.Outputs.Select(o => o.Name).ToList();
        var extra = sources.Select(s => s.Value).Distinct().Where(v => !outputNames.Contains(v)).ToArray();
        var runner = engine.Load(model.WithExtraFloatOutputs(extra));
        var slot = outputNames.Concat(extra).Select((name, index) => (name, index)).DistinctBy(p => p.name).ToDictionary(p => p.name, p => p.index);
        var moments = new Dictionary<(string, int), (double[], long)>();
        // By node index: ONNX allows empty and repeated node names.
        var layouts = model.Graph.Nodes.Where(n => n.OpType is "LSTM" or "GRU" or "RNN").ToDictionary(n => n.Index, n => n.GetInt("layout", 0));
        var setIndex = -1;
        var probeSets = new List<Tensor[]>();
        foreach (var set in inputs)
        {
            setIndex++;
            cancellationToken.ThrowIfCancellationRequested();
            CheckFinite(model, set, setIndex);
            if (probeSets.Count < FinalProbeSetLimit)
            {
                probeSets.Add((Tensor[])set.Clone());
            }

            var outputs = runner.Run(set);
            foreach (var (weight, value, direction, isState) in sources)
            {
                var tensor = outputs[slot[value]].As<float>();
                if (Array.FindIndex(tensor.Data, v => !float.IsFinite(v)) is var bad and >= 0)
                {
                    // Finite inputs can still overflow inside the model (huge inputs or weights); a moment with NaN or ∞ in it
                    // has no change of basis, so say where the data stops being usable.
                    throw new DirNetException(
                        $"Calibration input set {setIndex}: the model computes {tensor.Data[bad]} in '{value}' (what {weight.DisplayName} multiplies, " +
                        $"element {bad} of {TensorShape.Format(tensor.Shape)}); " + (NonFiniteInitializer(model) is { } name
                            ? $"its initializer '{name}' holds NaN or infinite values."
                            : "the model overflows float32 on this data (or with weights this large). Calibrate with inputs in the range the model was trained on."));
                }

                var key = (weight.Initializer, weight.Direction);
                if (!moments.TryGetValue(key, out var entry))
                {
                    entry = (new double[weight.Columns * weight.Columns], 0);
                }

                var count = entry.Item2;
                foreach (var vector in Vectors(tensor, weight.Columns, isState ? direction : -1, isState ? layouts[weight.NodeIndex] : 0))
                {
                    Accumulate(entry.Item1, vector);
                    count++;
                }

                moments[key] = (entry.Item1, count);
            }
        }

        foreach (var key in moments.Keys.ToArray())
        {
            var (moment, count) = moments[key];
            for (var i = 0; i < moment.Length && count > 0; i++)
            {
                moment[i] /= count;
            }
        }

        return new CalibrationStatistics(moments, probeSets);
    }

    /// <summary>The first float initializer holding NaN or ∞, if any (only looked for once a run has gone non-finite).</summary>
    private static string? NonFiniteInitializer(OnnxModel model) => model.Graph.InitializerNames.Order(StringComparer.Ordinal).FirstOrDefault(name =>
        model.Graph.GetInitializerInfo(name).Type == TensorElementType.Float && !Array.TrueForAll(model.Graph.GetInitializer(name).As<float>().Data, float.IsFinite));

    /// <summary>Refuses NaN or infinite values in a set's float inputs, naming the input and the element.</summary>
    private static void CheckFinite(OnnxModel model, Tensor[] set, int setIndex)
    {
        for (var i = 0; i < set.Length; i++)
        {
            if (set[i] is Tensor<float> tensor && Array.FindIndex(tensor.Data, v => !float.IsFinite(v)) is var bad and >= 0)
            {
                var name = i < model.Graph.Inputs.Count ? model.Graph.Inputs[i].Name : $"#{i}";
                throw new DirNetException(
                    $"Calibration input set {setIndex}: input '{name}' holds {tensor.Data[bad]} at element {bad} of {TensorShape.Format(tensor.Shape)}; calibration data must be finite.");
            }
        }
    }

    /// <summary>C for <paramref name="weight"/> [columns × columns], or null when nothing was captured for it.</summary>
    internal double[]? Moment(CompressibleWeight weight) =>
        _moments.TryGetValue((weight.Initializer, weight.Direction), out var m) && m.Count > 0 ? m.Moment : null;

    /// <summary>
    /// The vectors of length <paramref name="width"/> in a tensor: all of them (last axis), or for a recurrent Y
    /// [seq, dirs, batch, hidden] (layout 0) or [batch, seq, dirs, hidden] (layout 1) only direction <paramref name="direction"/>'s.
    /// </summary>
    private static IEnumerable<float[]> Vectors(Tensor<float> tensor, int width, int direction, long layout)
    {
        if (tensor.Shape.Length == 0 || tensor.Shape[^1] != width)
        {
            throw new DirNetException($"A captured calibration value has shape {TensorShape.Format(tensor.Shape)}; expected a last dimension of {width}.");
        }

        var count = tensor.Length / width;
        for (var v = 0; v < count; v++)
        {
            if (direction >= 0 && tensor.Rank == 4)
            {
                var directionAxis = layout == 0 ? 1 : 2;
                var inner = layout == 0 ? tensor.Shape[2] : 1;
                if (v / inner % tensor.Shape[directionAxis] != direction)
                {
                    continue;
                }
            }

            yield return tensor.Data.AsSpan(v * width, width).ToArray();
        }
    }

    private static void Accumulate(double[] moment, float[] x)
    {
        var n = x.Length;
        var xd = Array.ConvertAll(x, v => (double)v);
        for (var i = 0; i < n; i++)
        {
            if (xd[i] != 0)
            {
                var row = moment.AsSpan(i * n, n);
                TensorPrimitives.MultiplyAdd(xd, xd[i], row, row);
            }
        }
    }
}
