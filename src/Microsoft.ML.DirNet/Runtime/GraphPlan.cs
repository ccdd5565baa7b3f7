using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime.Operators;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime;

/// <summary>
/// One graph compiled for execution: its nodes in dependency order, each with its kernel and the value slots it reads
/// and writes, its constants (initializers, and what constant folding computed from them at load), and the slots of
/// its inputs and outputs. The main graph of a <see cref="NativeModel"/> is one; so is every subgraph of If, Loop and
/// Scan, whose outer-scope values come in as inputs after its own (<see cref="OnnxNode.ImplicitInputs"/>).
/// </summary>
/// <remarks>Immutable once built: <see cref="Execute"/> may run on many threads at once.</remarks>
internal sealed class GraphPlan
{
    private readonly CompiledNode[] _nodes;
    private readonly Tensor?[] _constants;
    private readonly int[] _inputSlots;
    private readonly int[] _outputSlots;

    /// <summary>What constant folding may keep beyond twice the initializers' bytes (shape arithmetic, initial states).</summary>
    private const long FoldingAllowanceBytes = 64L << 20;

    /// <summary>
    /// Compiles <paramref name="nodes"/>. <paramref name="inputNames"/> are fed in this order by <see cref="Execute"/>;
    /// <paramref name="boundNames"/> are weights that reach their readers as bound operators (<paramref name="bound"/>),
    /// not as values.
    /// </summary>
    /// <exception cref="OnnxGraphException">A node reads a value nothing produces, writes one that is already defined, the graph has a cycle, or a node's attributes are invalid.</exception>
    public GraphPlan(string sourceName, IReadOnlyList<OnnxNode> nodes, IEnumerable<(string Name, Tensor Value)> constants,
        IReadOnlyList<string> inputNames, IReadOnlyList<string> outputNames, IEnumerable<string> boundNames, long opset,
        IReadOnlyDictionary<(OnnxNode, int), CompressedMatrix[]> bound)
    {
        var slots = new Dictionary<string, int>(StringComparer.Ordinal);
        int Slot(string name) => slots.TryGetValue(name, out var s) ? s : slots[name] = slots.Count;

        _inputSlots = inputNames.Select(Slot).ToArray();
        var constantSlots = constants.Select(c => (Slot(c.Name), c.Value)).ToList();
        var available = new HashSet<string>(slots.Keys, StringComparer.Ordinal);
        available.UnionWith(boundNames);
        var order = TopologicalOrder(sourceName, nodes, available);
        // Nodes with subgraphs get their kernels once constant folding has run (below).
        var compiled = order.Select(node => new CompiledNode(node, node.Subgraphs.Count > 0 ? null : BuildKernel(node, opset, bound),
            node.Inputs.Select((input, index) => input.Length == 0 || bound.ContainsKey((node, index)) ? -1 : Slot(input))
                .Concat(node.ImplicitInputs.Select(Slot)).ToArray(),
            node.Outputs.Select(o => o.Length == 0 ? -1 : Slot(o)).ToArray())).ToArray();

        _outputSlots = outputNames.Select(name => slots.TryGetValue(name, out var s)
            ? s
            : throw new OnnxGraphException($"Graph output '{name}' of '{sourceName}' is produced by no node, input or initializer.")).ToArray();

        _constants = new Tensor?[slots.Count];
        foreach (var (slot, tensor) in constantSlots)
        {
            _constants[slot] = tensor;
        }

        // If, Loop and Scan are compiled once this graph's constants are known, folded ones included, so that their
        // subgraphs take those of them they read as constants too: weights that reach a nested LSTM from an enclosing
        // graph (Silero's) are then sliced and packed once at load, not on every run.
        // Folded values stay in memory for the model's life, so both passes share a budget tied to the weights' size: a
        // graph that expands small constants into huge ones computes them per run instead, under the run's memory limit.
        var budget = 2 * _constants.Sum(c => c?.ByteCount ?? 0) + FoldingAllowanceBytes;
        compiled = FoldConstants(compiled, _constants, ref budget);
        var enclosing = t_outerConstants;
        var known = _constants;
        t_outerConstants = name => slots.TryGetValue(name, out var slot) ? known[slot] : enclosing?.Invoke(name);
        try
        {
            foreach (var node in compiled.Where(n => n.Kernel is null))
            {
                node.Kernel = BuildKernel(node.Node, opset, bound);
            }
        }
        finally
        {
            t_outerConstants = enclosing;
        }

        _nodes = FoldConstants(compiled, _constants, ref budget);
        PlanReleases(_nodes, _outputSlots);
        foreach (var constant in _constants)
        {
            if (constant is Tensor<float> { Data: var data })
            {
                Numerics.ConstantArrays.Mark(data);
            }
        }
    }

    /// <summary>
    /// While a graph compiles its control-flow nodes: the constant value of a name in it (or an enclosing graph), or
    /// null where the name is computed per run. <see cref="ForSubgraph"/> reads it.
    /// </summary>
    [ThreadStatic]
    private static Func<string, Tensor?>? t_outerConstants;

    /// <summary>
    /// A subgraph of <paramref name="owner"/> compiled to take its declared inputs and then the owner's implicit inputs
    /// that are computed per run (those constant in the enclosing graph are the subgraph's constants).
    /// </summary>
    public static GraphPlan ForSubgraph(OnnxNode owner, string attribute, long opset)
    {
        var graph = owner.GetGraph(attribute);
        if (graph.DeclaredInputs.Concat(graph.Outputs).FirstOrDefault(v => !v.IsTensor) is { } value)
        {
            throw new OnnxGraphException(
                $"Value '{value.Name}' of subgraph '{attribute}' of {owner.Description} is not a tensor (a sequence, map or optional); the native engine runs tensors only.", owner.Name);
        }

        var formal = graph.DeclaredInputs.Select(i => i.Name).ToArray();
        var fromOuter = owner.ImplicitInputs.Where(name => !formal.Contains(name, StringComparer.Ordinal))
            .Select(name => (Name: name, Constant: t_outerConstants?.Invoke(name))).ToArray();
        var outer = fromOuter.Where(v => v.Constant is null).Select(v => v.Name).ToArray();
        var initializers = graph.InitializerNames.Where(name => !formal.Contains(name, StringComparer.Ordinal))
            .Select(name => (name, graph.GetInitializer(name)))
            .Concat(fromOuter.Where(v => v.Constant is not null).Select(v => (v.Name, v.Constant!)));
        return new GraphPlan($"subgraph '{attribute}' of {owner.Description}", graph.Nodes, initializers, [.. formal, .. outer],
            graph.Outputs.Select(o => o.Name).ToArray(), [], opset, new Dictionary<(OnnxNode, int), CompressedMatrix[]>())
        {
            FormalInputCount = formal.Length,
            OuterInputNames = outer,
            OuterInputPositions = outer.Select(name => owner.Inputs.Count + owner.ImplicitInputs.ToList().IndexOf(name)).ToArray(),
            OutputInfos = graph.Outputs,
        };
    }

    /// <summary>For a subgraph: how many of its inputs are its own (the rest are outer-scope values).</summary>
    public int FormalInputCount { get; private init; }

    /// <summary>For a subgraph: the owner's implicit inputs it takes after its own, in order.</summary>
    public IReadOnlyList<string> OuterInputNames { get; private init; } = [];

    /// <summary>For a subgraph: where each of <see cref="OuterInputNames"/> is among the owner kernel's inputs (its own, then its implicit ones).</summary>
    public IReadOnlyList<int> OuterInputPositions { get; private init; } = [];

    /// <summary>For a subgraph: its declared outputs (element types of outputs that may be stacked from no iteration).</summary>
    public IReadOnlyList<OnnxValueInfo> OutputInfos { get; private init; } = [];

    /// <summary>The nodes a run executes, in order (constant subgraphs folded at load are not among them).</summary>
    public IReadOnlyList<OnnxNode> ExecutedNodes => _nodes.Select(n => n.Node).ToArray();

    /// <summary>The number of nodes a run executes.</summary>
    public int NodeCount => _nodes.Length;

    /// <summary>
    /// Runs the graph on <paramref name="inputs"/> (in the order of the input names it was built with); the outputs in
    /// output order. Writes each node's wall time in milliseconds to <paramref name="nodeMilliseconds"/> unless empty.
    /// </summary>
    public Tensor[] Execute(ReadOnlySpan<Tensor> inputs, Span<double> nodeMilliseconds, long memoryLimitBytes)
    {
        long liveBytes = 0;
        var observer = NodeObservation.Current;
        // Arrays from the run's arena go back once no value of the run holds them (views share their input's array,
        // and a subgraph's values count with the enclosing graph's). Not while an observer may keep what it is shown.
        var arena = observer is null ? Numerics.ArrayArena.Current : null;
        var values = (Tensor?[])_constants.Clone();
        for (var i = 0; i < inputs.Length; i++)
        {
            values[_inputSlots[i]] = inputs[i];
            if (arena is not null && inputs[i] is Tensor<float> { Data: var data })
            {
                arena.Adopt(data);
            }
        }

        for (var n = 0; n < _nodes.Length; n++)
        {
            var node = _nodes[n];
            var start = nodeMilliseconds.IsEmpty ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            node.Run(values, observer);
            if (!nodeMilliseconds.IsEmpty)
            {
                nodeMilliseconds[n] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }

            // Counted per value (views that share their input's elements count again), so this bounds from above.
            foreach (var slot in node.OutputSlots)
            {
                liveBytes += values[slot]!.ByteCount;
                if (arena is not null && values[slot] is Tensor<float> { Data: var data })
                {
                    arena.Hold(data);
                }
            }

            if (liveBytes > memoryLimitBytes)
            {
                throw new ModelExecutionException(node.Node.Name,
                    $"{node.Node.Description} leaves the run holding {liveBytes / (1 << 20):N0} MB of intermediate tensors, more than the limit of {memoryLimitBytes / (1 << 20):N0} MB ({nameof(NativeModel)}.{nameof(NativeModel.MemoryLimitBytes)}).");
            }

            foreach (var slot in node.Releases)
            {
                liveBytes -= values[slot]!.ByteCount;
                if (arena is not null && values[slot] is Tensor<float> { Data: var data })
                {
                    arena.Release(data);
                }

                values[slot] = null;
            }
        }

        var outputs = _outputSlots.Select(s => values[s]!).ToArray();
        foreach (var output in outputs)
        {
            if (arena is not null && output is Tensor<float> { Data: var data })
            {
                arena.HandOver(data);
            }
        }

        return outputs;
    }

    private static IKernel BuildKernel(OnnxNode node, long opset, IReadOnlyDictionary<(OnnxNode, int), CompressedMatrix[]> bound)
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
    /// Runs, once at load, every node whose inputs are all constants (Constant nodes and what is computed from them
    /// and from initializers), keeping its outputs as constants; only the rest runs per call. A node that fails here
    /// stays in the plan so its error surfaces at run time with the node's name.
    /// </summary>
    private static CompiledNode[] FoldConstants(CompiledNode[] nodes, Tensor?[] constants, ref long budget)
    {
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

    /// <summary>
    /// Orders nodes so each runs after the producers of its inputs (files are meant to be sorted, but not all are), and
    /// reports the first value that nothing produces, or the nodes caught in a cycle. A node's implicit inputs (what its
    /// subgraphs read from this graph) count as inputs.
    /// </summary>
    private static List<OnnxNode> TopologicalOrder(string sourceName, IReadOnlyList<OnnxNode> nodes, HashSet<string> available)
    {
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
            foreach (var input in node.AllInputs)
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
            foreach (var input in nodes[n].AllInputs.Where(i => !available.Contains(i)).Distinct(StringComparer.Ordinal))
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
                $"The graph of '{sourceName}' has a cycle through nodes {string.Join(", ", cycle.Take(10).Select(n => $"'{n.Name}'"))}.",
                cycle[0].Name);
        }

        return order;
    }

    private sealed class CompiledNode(OnnxNode node, IKernel? kernel, int[] inputSlots, int[] outputSlots)
    {
        public OnnxNode Node => node;

        /// <summary>The kernel (null until a control-flow node is compiled, after the first constant folding).</summary>
        public IKernel? Kernel { get; set; } = kernel;

        /// <summary>True when the node is compiled and every input it reads already has a value in <paramref name="values"/>.</summary>
        public bool InputsAreAvailable(Tensor?[] values) => Kernel is not null && inputSlots.All(s => s < 0 || values[s] is not null);

        /// <summary>
        /// Runs the node into <paramref name="values"/> and takes its outputs' bytes from <paramref name="budget"/>;
        /// false (and nothing written) when it fails or its outputs exceed the budget.
        /// </summary>
        public bool TryRun(Tensor?[] values, ref long budget)
        {
            Tensor?[] outputs;
            try
            {
                outputs = Compute(values, null);
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

        /// <summary>Runs the node into <paramref name="values"/>, reporting it to <paramref name="observer"/> where it observes it.</summary>
        public void Run(Tensor?[] values, INodeObserver? observer) => Store(Compute(values, observer), values);

        /// <summary>The slots this node writes (made once: every run walks them after the node).</summary>
        public int[] OutputSlots { get; } = outputSlots.Where(s => s >= 0).ToArray();

        /// <summary>The slots this node reads.</summary>
        public IEnumerable<int> InputSlots => inputSlots.Where(s => s >= 0);

        /// <summary>Slots whose last reader this node is, emptied after it runs (set once the plan is final).</summary>
        public int[] Releases { get; set; } = [];

        /// <summary>Executes the kernel on this node's inputs; the outputs, checked to be produced, in output order.</summary>
        private Tensor?[] Compute(Tensor?[] values, INodeObserver? observer)
        {
            var inputs = new Tensor?[inputSlots.Length];
            for (var i = 0; i < inputs.Length; i++)
            {
                inputs[i] = inputSlots[i] < 0 ? null : values[inputSlots[i]];
            }

            var outputs = new Tensor?[outputSlots.Length];
            try
            {
                Kernel!.Execute(inputs, outputs);
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

            if (observer is not null && observer.Observes(node))
            {
                observer.Ran(node, inputs.AsSpan(0, node.Inputs.Count), outputs);
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
