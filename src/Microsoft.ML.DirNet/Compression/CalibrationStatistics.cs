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
/// the initial state); the A input of MatMul and Gemm (without transA), wherever the reader sits: inside If branches
/// and Loop or Scan bodies too, where each run of the subgraph adds its vectors. Embedding tables (Gather) and Conv
/// filter banks are not calibrated.
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
        // Compression hoists weights held in Constant nodes or subgraph initializers before it looks for matrices, and
        // names them then; so does calibration, so that its moments are found under those names.
        model = WeightHoisting.Hoist(model, engine);
        var observer = new MomentObserver(model);
        var runner = engine.Load(model, observer);
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

            observer.SetIndex = setIndex;
            runner.Run(set);
        }

        return new CalibrationStatistics(observer.Moments(), probeSets);
    }

    /// <summary>
    /// Accumulates, as the engine runs each matrix's reader (in the main graph or inside a subgraph, every time it runs),
    /// the moments of the vectors it multiplies: a recurrent layer's X for its W; its output states (every step of Y, per
    /// direction) for its R; the A input of MatMul and Gemm without transA.
    /// </summary>
    private sealed class MomentObserver : INodeObserver
    {
        private readonly OnnxModel _model;
        private readonly Dictionary<OnnxNode, List<(CompressibleWeight Weight, bool IsState)>> _sources = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<(string, int), (double[] Moment, long Count)> _moments = new();

        public MomentObserver(OnnxModel model)
        {
            _model = model;
            foreach (var (weight, node) in WeightFinder.FindWeightsWithReaders(model))
            {
                bool? isState = weight.Role switch
                {
                    WeightRole.RecurrentInput => false,
                    WeightRole.RecurrentHidden when node.Outputs.Count > 0 && node.Outputs[0].Length > 0 => true,
                    WeightRole.MatMul => false,
                    WeightRole.Gemm when node.GetInt("transA", 0) == 0 => false,
                    _ => null,
                };
                if (isState is { } state)
                {
                    (_sources.TryGetValue(node, out var list) ? list : _sources[node] = []).Add((weight, state));
                }
            }
        }

        /// <summary>The calibration input set being run (named in errors).</summary>
        public int SetIndex { get; set; }

        public bool Observes(OnnxNode node) => _sources.ContainsKey(node);

        public void Ran(OnnxNode node, ReadOnlySpan<Tensor?> inputs, ReadOnlySpan<Tensor?> outputs)
        {
            foreach (var (weight, isState) in _sources[node])
            {
                var (value, tensor) = isState ? (node.Outputs[0], outputs[0]) : (node.Inputs[0], inputs[0]);
                if (tensor is not Tensor<float> floats)
                {
                    continue; // a float16 or integer input: the matrix is not multiplied by float32 vectors here
                }

                if (Array.FindIndex(floats.Data, v => !float.IsFinite(v)) is var bad and >= 0)
                {
                    // Finite inputs can still overflow inside the model (huge inputs or weights); a moment with NaN or ∞ in it
                    // has no change of basis, so say where the data stops being usable.
                    throw new DirNetException(
                        $"Calibration input set {SetIndex}: the model computes {floats.Data[bad]} in '{value}' (what {weight.DisplayName} multiplies, " +
                        $"element {bad} of {TensorShape.Format(floats.Shape)}); " + (NonFiniteInitializer(_model) is { } name
                            ? $"its initializer '{name}' holds NaN or infinite values."
                            : "the model overflows float32 on this data (or with weights this large). Calibrate with inputs in the range the model was trained on."));
                }

                var key = (weight.Initializer, weight.Direction);
                var (moment, count) = _moments.TryGetValue(key, out var entry) ? entry : (new double[weight.Columns * weight.Columns], 0);
                foreach (var vector in Vectors(floats, weight.Columns, isState ? weight.Direction : -1, isState ? node.GetInt("layout", 0) : 0))
                {
                    Accumulate(moment, vector);
                    count++;
                }

                _moments[key] = (moment, count);
            }
        }

        /// <summary>The mean moments, C = (1/N)·Σ x·xᵀ.</summary>
        public Dictionary<(string, int), (double[], long)> Moments()
        {
            var result = new Dictionary<(string, int), (double[], long)>();
            foreach (var (key, (moment, count)) in _moments)
            {
                for (var i = 0; i < moment.Length && count > 0; i++)
                {
                    moment[i] /= count;
                }

                result[key] = (moment, count);
            }

            return result;
        }
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
