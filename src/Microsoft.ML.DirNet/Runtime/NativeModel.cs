using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Export;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Runtime;

/// <summary>
/// Runs an ONNX model in managed code. Construction checks the whole graph (every operator supported, every value
/// produced before it is read, no cycles) and builds one kernel per node; <see cref="Run(IReadOnlyDictionary{string, Tensor})"/>
/// then executes the nodes in dependency order.
/// </summary>
/// <remarks>
/// Thread-safe: one instance may be run from many threads at once. Kernels keep no state between calls and inputs,
/// initializers and outputs are never written after they are produced.
/// </remarks>
public sealed class NativeModel : ITensorModel
{
    private readonly GraphPlan _plan;

    /// <summary>Prepares <paramref name="model"/> for execution.</summary>
    /// <exception cref="UnsupportedOperatorException">The graph uses operators the engine lacks.</exception>
    /// <exception cref="OnnxGraphException">A node reads a value nothing produces, the graph has a cycle, or a node's attributes are invalid.</exception>
    public NativeModel(OnnxModel model)
    {
        Model = model;
        var graph = model.Graph;
        var factored = CompressedOnnxReader.Read(model);
        var nodes = RunnableNodes(model, factored);
        var unsupported = FindUnsupported(nodes);
        if (unsupported.Count > 0)
        {
            throw new UnsupportedOperatorException(model.SourceName, unsupported);
        }

        // Every operator the engine runs produces at least one output; a node that names none is damaged, not a no-op.
        if (WithSubgraphNodes(nodes).FirstOrDefault(n => n.Outputs.Count == 0) is { } silent)
        {
            throw new OnnxGraphException($"{silent.Description} of '{model.SourceName}' names no outputs.", silent.Name);
        }

        foreach (var node in nodes.Where(WeightFinder.IsRecurrent))
        {
            WeightFinder.CheckRecurrentShapes(model, node); // at load, naming the initializer, rather than at the first run
        }

        foreach (var value in graph.Inputs.Concat(graph.Outputs))
        {
            if (!value.IsTensor)
            {
                throw new OnnxGraphException(
                    $"Graph value '{value.Name}' of '{model.SourceName}' is not a tensor (a sequence, map or optional); the native engine runs tensors only.");
            }
        }

        var opset = model.DefaultOpset;
        if (opset > MaxOpset)
        {
            throw new OnnxGraphException(
                $"'{model.SourceName}' imports ONNX opset {opset}; the native engine implements its operators up to opset {MaxOpset} and would not know what a newer version of them means.");
        }

        var (bound, rebuilt, forms) = BindFactoredWeights(model, factored, nodes);
        CompressedWeights = forms;
        var constants = graph.InitializerNames.Select(name => (name, graph.GetInitializer(name)))
            .Concat(rebuilt.Select(r => (r.Key, (Tensor)r.Value)));
        _plan = new GraphPlan(model.SourceName, nodes, constants, graph.Inputs.Select(i => i.Name).ToArray(),
            graph.Outputs.Select(o => o.Name).ToArray(), factored?.Initializers.Select(i => i.Entry.Name) ?? [], opset, bound);
    }

    /// <summary>
    /// The most bytes of intermediate tensors one run may hold at once; a run that needs more stops with a
    /// <see cref="ModelExecutionException"/> naming the node. Defaults to <see cref="DefaultMemoryLimitBytes"/>.
    /// </summary>
    public long MemoryLimitBytes { get; init; } = DefaultMemoryLimitBytes;

    /// <summary>
    /// The default of <see cref="MemoryLimitBytes"/>: the environment variable <c>DIRNET_MEMORY_LIMIT_MB</c> where set
    /// (so the <c>dirnet</c> tool and services can cap every model they run), else half the memory the process may use
    /// (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>), so a model that would exhaust the machine fails cleanly
    /// before the system stops the process.
    /// </summary>
    public static long DefaultMemoryLimitBytes =>
        long.TryParse(Environment.GetEnvironmentVariable("DIRNET_MEMORY_LIMIT_MB"), out var megabytes) && megabytes > 0
            ? System.Math.Min(megabytes, long.MaxValue >> 20) << 20
            : GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;

    /// <summary>
    /// Runs the products of int8 and low-bit (int4 and below) weights of a compressed model on integer dot products
    /// where the processor has them (AVX-VNNI, or AVX-512BW's pairwise integer multiply-adds), each input vector
    /// quantized to int8 with one scale first, as ONNX Runtime's DynamicQuantizeLSTM does; recurrent steps and batched
    /// input projections alike. Faster, at an error
    /// of its own (the input's rounding, at most half its step per element), so the outputs no longer equal ONNX
    /// Runtime's on the same file to 1e-4. Off by default; without either it changes nothing.
    /// </summary>
    public bool QuantizeInt8Activations { get; init; }

    /// <summary>What every run reports its nodes to, subgraphs' nodes included (calibration sets it); null for none.</summary>
    internal INodeObserver? Observer { get; init; }

    /// <summary>
    /// For a compressed ONNX, the initializer name → the stored form each direction's products run on (e.g.
    /// <c>dictionary</c>, <c>hybrid</c>, <c>lowrank</c>, <c>sparse</c>; <c>rebuilt</c> where a reader of the weight
    /// cannot take an operator, so the dense matrix was rebuilt once at load). Empty for an uncompressed model.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> CompressedWeights { get; }

    /// <summary>The nodes the engine runs: all of them, less the rebuild subgraphs of a compressed model's factors.</summary>
    private static List<OnnxNode> RunnableNodes(OnnxModel model, FactoredModel? factored) =>
        model.Graph.Nodes.Where(n => factored is null || !factored.RebuildNodes.Contains(n.Name)).ToList();

    /// <summary>
    /// Gives each compressed initializer's readers its stored matrices, which multiply from their factors, when every
    /// reader takes one in that layout (the recurrent cells' W/R, MatMul's B stored as Wᵀ, Gemm's B as its transB says,
    /// Gather's table); otherwise rebuilds the dense tensor once, as ONNX Runtime does.
    /// </summary>
    private static (Dictionary<(OnnxNode, int), CompressedMatrix[]> Bound, Dictionary<string, Tensor<float>> Rebuilt, Dictionary<string, IReadOnlyList<string>> Forms)
        BindFactoredWeights(OnnxModel model, FactoredModel? factored, List<OnnxNode> nodes)
    {
        var bound = new Dictionary<(OnnxNode, int), CompressedMatrix[]>();
        var rebuilt = new Dictionary<string, Tensor<float>>(StringComparer.Ordinal);
        var forms = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var initializer in factored?.Initializers ?? [])
        {
            var entry = initializer.Entry;
            var readers = nodes.SelectMany(n => n.Inputs.Select((input, index) => (Node: n, Index: index, Input: input)))
                .Where(r => r.Input == entry.Name).ToList();
            var bindable = readers.Count > 0 && model.Graph.Outputs.All(o => o.Name != entry.Name)
                && readers.All(r => OperatorRegistry.TakesOperator(r.Node, r.Index) && LayoutFits(r.Node, entry));
            if (!bindable)
            {
                rebuilt[entry.Name] = initializer.ToDense();
                forms[entry.Name] = ["rebuilt"];
                continue;
            }

            var matrices = initializer.Matrices.ToArray();
            foreach (var reader in readers)
            {
                bound[(reader.Node, reader.Index)] = matrices;
            }

            forms[entry.Name] = matrices.Select(m => m.Form).ToArray();
        }

        return (bound, rebuilt, forms);
    }

    /// <summary>Whether an operator over W [rows × columns] is what <paramref name="node"/> multiplies by for this stored layout.</summary>
    private static bool LayoutFits(OnnxNode node, CompressedInitializer entry) => node.OpType switch
    {
        "LSTM" or "GRU" or "RNN" => entry.Shape.Length == 3 && !entry.Transposed,
        "MatMul" => entry.Shape.Length == 2 && entry.Transposed,
        "Gemm" => entry.Shape.Length == 2 && (node.GetInt("transB", 0) != 0) != entry.Transposed,
        "Gather" => entry.Shape.Length == 2 && !entry.Transposed,
        _ => false,
    };

    /// <summary>The operators the engine implements (default ONNX domain).</summary>
    public static IReadOnlyList<string> SupportedOperators => OperatorRegistry.SupportedOperators;

    /// <summary>
    /// The newest default-domain opset the engine accepts (ONNX 1.17's); its operators' semantics are checked against
    /// the ONNX conformance cases, which go up to opset 17 here, and newer versions of them only add element types.
    /// </summary>
    public const long MaxOpset = 22;

    /// <summary>The model being run.</summary>
    public OnnxModel Model { get; }

    /// <summary>The inputs a caller feeds, in the model's order.</summary>
    public IReadOnlyList<OnnxValueInfo> Inputs => Model.Graph.Inputs;

    /// <summary>The outputs <see cref="Run(Tensor[])"/> returns, in the model's order.</summary>
    public IReadOnlyList<OnnxValueInfo> Outputs => Model.Graph.Outputs;

    /// <summary>Loads a model file and prepares it.</summary>
    public static NativeModel Load(string path) => new(OnnxModel.Load(path));

    /// <summary>
    /// The operators of <paramref name="model"/> the engine does not implement, each with the names of the nodes that use
    /// it; empty when the engine can run every node.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> FindUnsupportedOperators(OnnxModel model) =>
        FindUnsupportedOperators(model, CompressedOnnxReader.Read(model));

    /// <summary><see cref="FindUnsupportedOperators(OnnxModel)"/> for a model whose factors were already read.</summary>
    internal static IReadOnlyDictionary<string, IReadOnlyList<string>> FindUnsupportedOperators(OnnxModel model, FactoredModel? factored) =>
        FindUnsupported(RunnableNodes(model, factored));

    private static Dictionary<string, IReadOnlyList<string>> FindUnsupported(IEnumerable<OnnxNode> nodes) =>
        WithSubgraphNodes(nodes).Where(n => !OperatorRegistry.IsSupported(n))
            .GroupBy(n => string.IsNullOrEmpty(n.Domain) ? n.OpType : $"{n.Domain}.{n.OpType}")
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(n => n.Name).ToArray());

    /// <summary>The nodes and, depth first, the nodes of every subgraph inside them (If branches, Loop and Scan bodies).</summary>
    private static IEnumerable<OnnxNode> WithSubgraphNodes(IEnumerable<OnnxNode> nodes) =>
        nodes.SelectMany(n => n.Subgraphs.SelectMany(s => WithSubgraphNodes(s.Graph.Nodes)).Prepend(n));

    /// <summary>Runs the model on inputs given in the model's input order; returns the outputs in the model's order.</summary>
    public Tensor[] Run(params Tensor[] inputs)
    {
        CheckInputCount(inputs);
        return Execute(inputs);
    }

    private void CheckInputCount(Tensor[] inputs)
    {
        if (inputs.Length != Inputs.Count)
        {
            throw new ModelInputException(inputs.Length < Inputs.Count ? Inputs[inputs.Length].Name : "(extra)",
                $"The model takes {Inputs.Count} inputs ({string.Join(", ", Inputs.Select(i => i.Name))}) but {inputs.Length} were given.");
        }
    }

    /// <summary>Runs the model on named inputs; returns every graph output by name.</summary>
    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        foreach (var name in inputs.Keys)
        {
            if (Inputs.All(i => i.Name != name))
            {
                throw new ModelInputException(name, $"The model has no input named '{name}'; its inputs are {string.Join(", ", Inputs.Select(i => i.Name))}.");
            }
        }

        var ordered = Inputs.Select(i => inputs.TryGetValue(i.Name, out var t)
            ? t
            : throw new ModelInputException(i.Name, $"Input '{i.Name}' ({i.ElementType}{i.ShapeText}) was not given.")).ToArray();
        var outputs = Execute(ordered);
        return Outputs.Select((o, k) => (o.Name, outputs[k])).ToDictionary(p => p.Name, p => p.Item2);
    }

    /// <summary>The nodes a run executes, in order (constant subgraphs folded at load and factor rebuilds are not among them).</summary>
    internal IReadOnlyList<OnnxNode> ExecutedNodes => _plan.ExecutedNodes;

    /// <summary>
    /// <see cref="Run(Tensor[])"/>, writing each executed node's wall time in milliseconds to
    /// <paramref name="nodeMilliseconds"/> (in <see cref="ExecutedNodes"/>' order).
    /// </summary>
    internal Tensor[] RunTimed(Tensor[] inputs, Span<double> nodeMilliseconds)
    {
        if (nodeMilliseconds.Length < _plan.NodeCount)
        {
            throw new ArgumentException($"{_plan.NodeCount} node times are needed.", nameof(nodeMilliseconds));
        }

        CheckInputCount(inputs);
        return Execute(inputs, nodeMilliseconds);
    }

    private Tensor[] Execute(Tensor[] inputs) => Execute(inputs, []);

    private Tensor[] Execute(Tensor[] inputs, Span<double> nodeMilliseconds)
    {
        for (var i = 0; i < inputs.Length; i++)
        {
            Validate(Inputs[i], inputs[i]);
        }

        using var observation = NodeObservation.Begin(Observer);
        using var arena = Observer is null ? Numerics.ArrayArena.Begin() : default;
        using var quantization = Numerics.ActivationQuantization.Begin(QuantizeInt8Activations);
        return _plan.Execute(inputs, nodeMilliseconds, MemoryLimitBytes);
    }

    private static void Validate(OnnxValueInfo declared, Tensor given)
    {
        if (given is null)
        {
            throw new ModelInputException(declared.Name, $"Input '{declared.Name}' is null.");
        }

        if (declared.ElementType is { } type && type != given.ElementType)
        {
            throw new ModelInputException(declared.Name,
                $"Input '{declared.Name}' must be {type} with shape {declared.ShapeText}, but a {given.ElementType} tensor was given.");
        }

        if (declared.Dimensions is not { } dims)
        {
            return;
        }

        var fits = dims.Count == given.Rank && dims.Select((d, i) => d.Value is not { } v || v == given.Shape[i]).All(ok => ok);
        if (!fits)
        {
            throw new ModelInputException(declared.Name,
                $"Input '{declared.Name}' must have shape {declared.ShapeText}, but {TensorShape.Format(given.Shape)} was given.");
        }
    }
}
