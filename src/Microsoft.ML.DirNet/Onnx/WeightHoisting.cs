using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Onnx;

/// <summary>
/// Brings weights that exporters leave elsewhere to where compression finds them: a main-graph initializer read
/// directly by its node. A float weight of an LSTM/GRU/RNN (W, R), MatMul or Gemm (B), Conv (W) or Gather (table), in the main
/// graph or inside an If/Loop/Scan subgraph, that comes from Constant nodes or initializers (of its graph or an
/// enclosing one), possibly through Identity, Unsqueeze, Squeeze, Reshape, Flatten, Transpose, Cast, Slice and Concat
/// of constants (PyTorch reorders LSTM gates so), is computed once and stored as a
/// main-graph initializer named after its reader (<c>node.W</c>, <c>node.R</c>, <c>node.B</c>, <c>node.table</c>); the
/// reader reads that name (from the outer scope, inside a subgraph), and the Constant chain, now unread, is removed.
/// One value read by several weight inputs, or equal values reached through different chains, become one initializer.
/// The model computes exactly what it did.
/// </summary>
internal static class WeightHoisting
{
    private static readonly HashSet<string> Transparent = new(StringComparer.Ordinal)
        { "Identity", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Transpose", "Cast", "Slice", "Concat" };

    /// <summary>
    /// The model with its reachable constant weights hoisted; <paramref name="model"/> itself when there are none (it is
    /// never modified). <paramref name="engine"/> computes each weight's chain of constants.
    /// </summary>
    public static OnnxModel Hoist(OnnxModel model, IOnnxEngine engine)
    {
        var proto = model.Proto.Clone();
        var state = new HoistState(proto, engine);
        state.Visit(proto.Graph, isMain: true);
        return state.Hoisted == 0 ? model : OnnxModel.FromProto(proto, model.SourceName);
    }

    /// <summary>The weight inputs of a node: (input index, expected rank, suffix of the hoisted name).</summary>
    private static IEnumerable<(int Index, int Rank, string Suffix)> WeightInputs(NodeProto node) => node.OpType switch
    {
        "LSTM" or "GRU" or "RNN" => [(1, 3, "W"), (2, 3, "R")],
        "MatMul" or "Gemm" => [(1, 2, "B")],
        "Conv" => [(1, -3, "W")],
        "Gather" => [(0, 2, "table")],
        _ => [],
    };

    private sealed class HoistState(ModelProto proto, IOnnxEngine engine)
    {
        private readonly HashSet<string> _names = AllNames(proto.Graph);
        private readonly Dictionary<(GraphProto, string), string> _hoisted = new();
        private readonly Dictionary<(string Shape, string Hash), string> _byContent = new();

        public int Hoisted => _hoisted.Count;

        /// <summary>The graphs enclosing the one being visited, innermost last (outer-scope values are looked up there).</summary>
        private readonly List<GraphProto> _enclosing = [];

        public void Visit(GraphProto graph, bool isMain)
        {
            var before = _hoisted.Count;
            for (var n = 0; n < graph.Node.Count; n++)
            {
                var node = graph.Node[n];
                if (node.Domain is "" or "ai.onnx")
                {
                    foreach (var (index, rank, suffix) in WeightInputs(node))
                    {
                        if (index >= node.Input.Count || node.Input[index].Length == 0 || IsMainInitializer(graph, node.Input[index]))
                        {
                            continue;
                        }

                        var key = (graph, node.Input[index]);
                        if (!_hoisted.TryGetValue(key, out var name))
                        {
                            // A negative rank is a least rank (Conv filters: 3 and up).
                            if (Evaluate(graph, node.Input[index]) is not Tensor<float> value || (rank > 0 ? value.Rank != rank : value.Rank < -rank))
                            {
                                continue;
                            }

                            // Equal values (one weight that two branches' chains read) become one initializer, so they
                            // are compressed once.
                            var content = (TensorShape.Format(value.Shape), Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(
                                System.Runtime.InteropServices.MemoryMarshal.AsBytes(value.Data.AsSpan()))));
                            if (!_byContent.TryGetValue(content, out name!))
                            {
                                name = Unique($"{(string.IsNullOrEmpty(node.Name) ? $"{node.OpType}_{n}" : node.Name)}.{suffix}");
                                proto.Graph.Initializer.Add(TensorProtoConverter.ToProto(name, value));
                                _byContent[content] = name;
                            }

                            _hoisted[key] = name;
                        }

                        node.Input[index] = name;
                    }
                }

                _enclosing.Add(graph);
                foreach (var attribute in node.Attribute.Where(a => a.G is not null))
                {
                    Visit(attribute.G, isMain: false);
                }

                _enclosing.RemoveAt(_enclosing.Count - 1);
            }

            if (_hoisted.Count > before || !isMain)
            {
                RemoveUnread(graph);
            }
        }

        /// <summary>
        /// True when <paramref name="name"/>, read in <paramref name="graph"/> (a graph being visited), is a main-graph
        /// initializer itself (no subgraph in between defines it): already where compression finds it.
        /// </summary>
        private bool IsMainInitializer(GraphProto graph, string name)
        {
            static bool Defines(GraphProto g, string value) =>
                g.Initializer.Any(t => t.Name == value) || g.Input.Any(i => i.Name == value) || g.Node.Any(n => n.Output.Contains(value));
            for (var g = _enclosing.Count; g > 0; g--)
            {
                var current = g == _enclosing.Count ? graph : _enclosing[g];
                if (current != proto.Graph && Defines(current, name))
                {
                    return false;
                }
            }

            return proto.Graph.Initializer.Any(t => t.Name == name);
        }

        /// <summary>
        /// The value of <paramref name="name"/> in <paramref name="graph"/> (a graph being visited) when constants alone
        /// give it, through the operators that only move or convert values; else null. The chain is run as a model of
        /// its own in the engine.
        /// </summary>
        private Tensor? Evaluate(GraphProto graph, string name)
        {
            var chain = new GraphProto { Name = "weight chain" };
            if (!Collect(graph, _enclosing.Count, name, chain, new HashSet<string>(StringComparer.Ordinal), depth: 0))
            {
                return null;
            }

            chain.Output.Add(new ValueInfoProto { Name = name });
            var model = new ModelProto { IrVersion = proto.IrVersion, Graph = chain };
            model.OpsetImport.Add(proto.OpsetImport);
            try
            {
                return engine.Load(OnnxModel.FromProto(model, "weight chain")).Run()[0];
            }
            catch (DirNetException)
            {
                return null;
            }
        }

        /// <summary>
        /// Adds to <paramref name="chain"/> the initializers and nodes that compute <paramref name="name"/> in
        /// <paramref name="graph"/> (whose enclosing graphs are the first <paramref name="outer"/> of the visit's), producers
        /// first; false when something on the way is not a constant or not an operator that only moves or converts values.
        /// </summary>
        private bool Collect(GraphProto graph, int outer, string name, GraphProto chain, HashSet<string> seen, int depth)
        {
            if (!seen.Add(name))
            {
                return true;
            }

            if (depth > 32)
            {
                return false;
            }

            if (graph.Initializer.FirstOrDefault(t => t.Name == name) is { } initializer)
            {
                chain.Initializer.Add(initializer);
                return true;
            }

            var producer = graph.Node.FirstOrDefault(n => n.Output.Contains(name));
            if (producer is null)
            {
                // Not defined here: a subgraph reads it from the nearest enclosing graph that defines it.
                seen.Remove(name);
                return graph.Input.All(i => i.Name != name) && outer > 0 && Collect(_enclosing[outer - 1], outer - 1, name, chain, seen, depth + 1);
            }

            if (producer.Domain is not ("" or "ai.onnx") || (producer.OpType != "Constant" && !Transparent.Contains(producer.OpType)) || producer.Output.Count != 1)
            {
                return false;
            }

            if (producer.Input.Any(input => input.Length > 0 && !Collect(graph, outer, input, chain, seen, depth + 1)))
            {
                return false;
            }

            chain.Node.Add(producer);
            return true;
        }

        private string Unique(string name)
        {
            var candidate = name;
            for (var k = 2; !_names.Add(candidate); k++)
            {
                candidate = $"{name}_{k}";
            }

            return candidate;
        }

        /// <summary>Removes the nodes and subgraph initializers nothing reads any more (the hoisted Constant chains).</summary>
        private void RemoveUnread(GraphProto graph)
        {
            while (true)
            {
                var read = new HashSet<string>(graph.Output.Select(o => o.Name), StringComparer.Ordinal);
                foreach (var node in graph.Node.Select((n, i) => new OnnxNode(n, i)))
                {
                    read.UnionWith(node.AllInputs);
                }

                var unread = graph.Node.Where(n => n.Output.Count > 0 && n.Output.All(o => o.Length == 0 || !read.Contains(o))).ToList();
                // A main-graph initializer that is also a graph input is a default the caller may override: it stays.
                var unusedInitializers = graph.Initializer.Where(t => !read.Contains(t.Name) && graph.Input.All(i => i.Name != t.Name)).ToList();
                if (unread.Count == 0 && unusedInitializers.Count == 0)
                {
                    return;
                }

                foreach (var node in unread) graph.Node.Remove(node);
                foreach (var tensor in unusedInitializers) graph.Initializer.Remove(tensor);
            }
        }

        private static HashSet<string> AllNames(GraphProto graph)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            void Collect(GraphProto g)
            {
                names.UnionWith(g.Input.Select(i => i.Name));
                names.UnionWith(g.Output.Select(o => o.Name));
                names.UnionWith(g.Initializer.Select(t => t.Name));
                foreach (var node in g.Node)
                {
                    names.UnionWith(node.Input);
                    names.UnionWith(node.Output);
                    foreach (var attribute in node.Attribute.Where(a => a.G is not null)) Collect(attribute.G);
                }
            }

            Collect(graph);
            return names;
        }
    }
}
