using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Export;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime.Operators;
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
    private readonly CompiledNode[] _nodes;
    private readonly Tensor?[] _constants;
    private readonly int[] _inputSlots;
    private readonly int[] _outputSlots;

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
        if (nodes.FirstOrDefault(n => n.Outputs.Count == 0) is { } silent)
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

        var slots = new Dictionary<string, int>(StringComparer.Ordinal);
        int Slot(string name) => slots.TryGetValue(name, out var s) ? s : slots[name] = slots.Count;

        var constants = graph.InitializerNames.Select(name => (Slot(name), graph.GetInitializer(name))).ToList();
        var (bound, rebuilt, forms) = BindFactoredWeights(model, factored, nodes);
        constants.AddRange(rebuilt.Select(r => (Slot(r.Key), (Tensor)r.Value)));
        CompressedWeights = forms;

        _inputSlots = graph.Inputs.Select(i => Slot(i.Name)).ToArray();
        var order = TopologicalOrder(model, nodes, factored?.Initializers.Select(i => i.Entry.Name) ?? []);
        var opset = model.DefaultOpset;
        if (opset > MaxOpset)
        {
            throw new OnnxGraphException(
                $"'{model.SourceName}' imports ONNX opset {opset}; the native engine implements its operators up to opset {MaxOpset} and would not know what a newer version of them means.");
        }

        _nodes = order.Select(node => new CompiledNode(node, BuildKernel(node, opset, bound),
            node.Inputs.Select((input, index) => input.Length == 0 || bound.ContainsKey((node, index)) ? -1 : Slot(input)).ToArray(),
            node.Outputs.Select(o => o.Length == 0 ? -1 : Slot(o)).ToArray())).ToArray();

        _outputSlots = graph.Outputs.Select(o => slots.TryGetValue(o.Name, out var s)
            ? s
            : throw new OnnxGraphException($"Graph output '{o.Name}' of '{model.SourceName}' is produced by no node, input or initializer.")).ToArray();

        _constants = new Tensor?[slots.Count];
        foreach (var (slot, tensor) in constants)
        {
            _constants[slot] = tensor;
        }

        _nodes = FoldConstants(_nodes, _constants);
        PlanReleases(_nodes, _outputSlots);
    }

    /// <summary>
    /// Marks on each node the intermediate values it reads last (never a graph output), so a run drops them as soon as
    /// they are dead and holds only the live tensors rather than every value the graph ever made.
    /// </summary>
    private static void PlanReleases(CompiledNode[] nodes, int[] outputSlots)
    {
        var lastReader = new Dictionary<int, int>();
        for (var n = 0; n < nodes.Length; n++)
        {
            foreach (var slot in nodes[n].OutputSlots.Concat(nodes[n].InputSlots))
            {
                lastReader[slot] = n;
            }
        }

        var produced = nodes.SelectMany(n => n.OutputSlots).ToHashSet();
        produced.ExceptWith(outputSlots);
        foreach (var group in lastReader.Where(p => produced.Contains(p.Key)).GroupBy(p => p.Value))
        {
            nodes[group.Key].Releases = group.Select(p => p.Key).ToArray();
        }
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

    /// <summary>
    /// Runs, once at load, every node whose inputs are all constants (Constant nodes and what is computed from them
    /// and from initializers), keeping its outputs as constants; only the rest runs per call. A node that fails here
    /// stays in the plan so its error surfaces at run time with the node's name.
    /// </summary>
    private static CompiledNode[] FoldConstants(CompiledNode[] nodes, Tensor?[] constants)
    {
        // Folded values stay in memory for the model's life, so they share a budget tied to the weights' size: a graph
        // that expands small constants into huge ones computes them per run instead, under the run's memory limit.
        var budget = 2 * constants.Sum(c => c?.ByteCount ?? 0) + FoldingAllowanceBytes;
        var remaining = new List<CompiledNode>(nodes.Length);
        foreach (var node in nodes)
        {
            if (!node.InputsAreAvailable(constants) || !node.TryRun(constants, ref budget))
            {
                remaining.Add(node);
            }
        }

        return remaining.ToArray();
    }

    /// <summary>What constant folding may keep beyond twice the initializers' bytes (shape arithmetic, initial states).</summary>
    private const long FoldingAllowanceBytes = 64L << 20;

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
        nodes.Where(n => !OperatorRegistry.IsSupported(n))
            .GroupBy(n => string.IsNullOrEmpty(n.Domain) ? n.OpType : $"{n.Domain}.{n.OpType}")
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(n => n.Name).ToArray());

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
    internal IReadOnlyList<OnnxNode> ExecutedNodes => _nodes.Select(n => n.Node).ToArray();

    /// <summary>
    /// <see cref="Run(Tensor[])"/>, writing each executed node's wall time in milliseconds to
    /// <paramref name="nodeMilliseconds"/> (in <see cref="ExecutedNodes"/>' order).
    /// </summary>
    internal Tensor[] RunTimed(Tensor[] inputs, Span<double> nodeMilliseconds)
    {
        if (nodeMilliseconds.Length < _nodes.Length)
        {
            throw new ArgumentException($"{_nodes.Length} node times are needed.", nameof(nodeMilliseconds));
        }

        CheckInputCount(inputs);
        return Execute(inputs, nodeMilliseconds);
    }

    private Tensor[] Execute(Tensor[] inputs) => Execute(inputs, []);

    private Tensor[] Execute(Tensor[] inputs, Span<double> nodeMilliseconds)
    {
        var values = (Tensor?[])_constants.Clone();
        for (var i = 0; i < inputs.Length; i++)
        {
            Validate(Inputs[i], inputs[i]);
            values[_inputSlots[i]] = inputs[i];
        }

        long liveBytes = 0;
        for (var n = 0; n < _nodes.Length; n++)
        {
            var node = _nodes[n];
            var start = nodeMilliseconds.IsEmpty ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            node.Run(values);
            if (!nodeMilliseconds.IsEmpty)
            {
                nodeMilliseconds[n] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }

            // Counted per value (views that share their input's elements count again), so this bounds from above.
            foreach (var slot in node.OutputSlots)
            {
                liveBytes += values[slot]!.ByteCount;
            }

            if (liveBytes > MemoryLimitBytes)
            {
                throw new ModelExecutionException(node.Node.Name,
                    $"{node.Node.Description} leaves the run holding {liveBytes / (1 << 20):N0} MB of intermediate tensors, more than the limit of {MemoryLimitBytes / (1 << 20):N0} MB ({nameof(NativeModel)}.{nameof(MemoryLimitBytes)}).");
            }

            foreach (var slot in node.Releases)
            {
                liveBytes -= values[slot]!.ByteCount;
                values[slot] = null;
            }
        }

        return _outputSlots.Select(s => values[s]!).ToArray();
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

    private static IKernel BuildKernel(OnnxNode node, long opset, Dictionary<(OnnxNode, int), CompressedMatrix[]> bound)
    {
        try
        {
            var byInput = bound.Where(b => b.Key.Item1 == node).ToDictionary(b => b.Key.Item2, b => b.Value);
            return OperatorRegistry.Create(node, opset, byInput.Count == 0 ? BoundWeights.None : new BoundWeights(byInput));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            throw new OnnxGraphException($"{node.Description}: {e.Message}", node.Name, e);
        }
    }

    /// <summary>
    /// Orders nodes so each runs after the producers of its inputs (files are meant to be sorted, but not all are), and
    /// reports the first value that nothing produces, or the nodes caught in a cycle.
    /// </summary>
    private static List<OnnxNode> TopologicalOrder(OnnxModel model, List<OnnxNode> nodes, IEnumerable<string> factoredWeights)
    {
        var graph = model.Graph;
        var available = new HashSet<string>(graph.InitializerNames, StringComparer.Ordinal);
        available.UnionWith(graph.Inputs.Select(i => i.Name));
        available.UnionWith(factoredWeights);
        var producers = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            foreach (var output in node.Outputs.Where(o => o.Length > 0))
            {
                if (!producers.TryAdd(output, node) || available.Contains(output))
                {
                    throw new OnnxGraphException($"{node.Description} writes '{output}', which another node, input or initializer already defines.", node.Name);
                }
            }
        }

        foreach (var node in nodes)
        {
            foreach (var input in node.Inputs.Where(i => i.Length > 0))
            {
                if (!available.Contains(input) && !producers.ContainsKey(input))
                {
                    throw new OnnxGraphException(
                        $"{node.Description} reads '{input}', which no initializer, graph input or node provides (a missing initializer?).",
                        node.Name);
                }
            }
        }

        // Kahn's algorithm, linear in nodes and edges (a wave-by-wave scan was quadratic: a 100,000-node chain took
        // minutes). The heap releases ready nodes by file position, so a file that is already sorted keeps its order.
        var consumers = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var missing = new int[nodes.Count];
        var ready = new PriorityQueue<int, int>();
        for (var n = 0; n < nodes.Count; n++)
        {
            foreach (var input in nodes[n].Inputs.Where(i => i.Length > 0 && !available.Contains(i)).Distinct(StringComparer.Ordinal))
            {
                missing[n]++;
                (consumers.TryGetValue(input, out var list) ? list : consumers[input] = []).Add(n);
            }

            if (missing[n] == 0)
            {
                ready.Enqueue(n, n);
            }
        }

        var order = new List<OnnxNode>(nodes.Count);
        while (ready.TryDequeue(out var n, out _))
        {
            order.Add(nodes[n]);
            foreach (var output in nodes[n].Outputs.Where(o => o.Length > 0))
            {
                foreach (var consumer in consumers.GetValueOrDefault(output) ?? [])
                {
                    if (--missing[consumer] == 0)
                    {
                        ready.Enqueue(consumer, consumer);
                    }
                }
            }
        }

        if (order.Count < nodes.Count)
        {
            var cycle = nodes.Where((_, n) => missing[n] > 0).ToList();
            throw new OnnxGraphException(
                $"The graph of '{model.SourceName}' has a cycle through nodes {string.Join(", ", cycle.Take(10).Select(n => $"'{n.Name}'"))}.",
                cycle[0].Name);
        }

        return order;
    }

    private sealed class CompiledNode(OnnxNode node, IKernel kernel, int[] inputSlots, int[] outputSlots)
    {
        public OnnxNode Node => node;

        /// <summary>True when every input this node reads already has a value in <paramref name="values"/>.</summary>
        public bool InputsAreAvailable(Tensor?[] values) => inputSlots.All(s => s < 0 || values[s] is not null);

        /// <summary>
        /// Runs the node into <paramref name="values"/> and takes its outputs' bytes from <paramref name="budget"/>;
        /// false (and nothing written) when it fails or its outputs exceed the budget.
        /// </summary>
        public bool TryRun(Tensor?[] values, ref long budget)
        {
            Tensor?[] outputs;
            try
            {
                outputs = Compute(values);
            }
            catch (DirNetException)
            {
                return false;
            }

            var bytes = outputs.Sum(o => o?.ByteCount ?? 0);
            if (bytes > budget)
            {
                return false;
            }

            budget -= bytes;
            Store(outputs, values);
            return true;
        }

        public void Run(Tensor?[] values) => Store(Compute(values), values);

        /// <summary>The slots this node writes (made once: every run walks them after the node).</summary>
        public int[] OutputSlots { get; } = outputSlots.Where(s => s >= 0).ToArray();

        /// <summary>The slots this node reads.</summary>
        public IEnumerable<int> InputSlots => inputSlots.Where(s => s >= 0);

        /// <summary>Slots whose last reader this node is, emptied after it runs (set once the plan is final).</summary>
        public int[] Releases { get; set; } = [];

        /// <summary>Executes the kernel on this node's inputs; the outputs, checked to be produced, in output order.</summary>
        private Tensor?[] Compute(Tensor?[] values)
        {
            var inputs = new Tensor?[inputSlots.Length];
            for (var i = 0; i < inputs.Length; i++)
            {
                inputs[i] = inputSlots[i] < 0 ? null : values[inputSlots[i]];
            }

            var outputs = new Tensor?[outputSlots.Length];
            try
            {
                kernel.Execute(inputs, outputs);
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidOperationException or IndexOutOfRangeException or OverflowException)
            {
                throw new ModelExecutionException(node.Name, $"{node.Description} failed: {e.Message}", e);
            }
            catch (OutOfMemoryException e)
            {
                // A large allocation that the machine cannot give fails before anything is written: a clean error.
                throw new ModelExecutionException(node.Name, $"{node.Description} ran out of memory ({e.Message}).", e);
            }

            for (var i = 0; i < outputs.Length; i++)
            {
                if (outputSlots[i] >= 0 && outputs[i] is null)
                {
                    throw new ModelExecutionException(node.Name, $"{node.Description} did not produce its output {i} ('{node.Outputs[i]}').");
                }
            }

            return outputs;
        }

        private void Store(Tensor?[] outputs, Tensor?[] values)
        {
            for (var i = 0; i < outputs.Length; i++)
            {
                if (outputSlots[i] >= 0)
                {
                    values[outputSlots[i]] = outputs[i];
                }
            }
        }
    }
}
