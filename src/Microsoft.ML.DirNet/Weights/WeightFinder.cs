using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Weights;

/// <summary>
/// Finds what compression can act on: every recurrent layer, and every constant float matrix that is an LSTM/GRU/RNN
/// W or R (per direction), a MatMul or Gemm weight, or a Gather (embedding) table. Weights fed at run time, not stored
/// in the file, are not compressible and are skipped.
/// </summary>
public static class WeightFinder
{
    /// <summary>The model's recurrent layers, in graph order.</summary>
    public static IReadOnlyList<RecurrentLayer> FindRecurrentLayers(OnnxModel model)
    {
        var layers = new List<RecurrentLayer>();
        foreach (var (node, _, _) in AllNodes(model).Where(n => IsRecurrent(n.Node)))
        {
            var gates = Gates(node.OpType);
            var directions = node.GetString("direction", "forward") == "bidirectional" ? 2 : 1;
            int hidden = (int)node.GetInt("hidden_size", 0), input = 0;
            if (node.Inputs.Count > 1 && model.Graph.HasInitializer(node.Inputs[1]))
            {
                var w = model.Graph.GetInitializerInfo(node.Inputs[1]).Shape;
                if (w.Length == 3)
                {
                    input = w[2];
                    hidden = hidden == 0 ? w[1] / gates : hidden;
                }
            }

            layers.Add(new RecurrentLayer(node.Name, node.OpType, layers.Count, hidden, input, directions,
                node.GetString("direction", "forward"), node.Inputs.Count > 3 && node.Inputs[3].Length > 0));
        }

        return layers;
    }

    /// <summary>
    /// Refuses a recurrent node whose constant W or R disagrees with its hidden_size, gate count or directions: its
    /// matrices would be split into the wrong rows, and the model cannot run anyway.
    /// </summary>
    internal static void CheckRecurrentShapes(OnnxModel model, OnnxNode node)
    {
        var graph = model.Graph;
        var gates = Gates(node.OpType);
        var directions = node.GetString("direction", "forward") == "bidirectional" ? 2 : 1;
        var hiddenAttribute = node.GetInt("hidden_size", 0);
        int[]? Shape(int index) => node.Inputs.Count > index && graph.HasInitializer(node.Inputs[index]) ? graph.GetInitializerInfo(node.Inputs[index]).Shape : null;
        var r = Shape(2);
        var hidden = hiddenAttribute > 0 ? hiddenAttribute : r is { Length: 3 } ? r[2] : 0;
        foreach (var (index, role, width) in new[] { (1, "W", (long?)null), (2, "R", (long?)hidden) })
        {
            if (Shape(index) is not { } shape)
            {
                continue;
            }

            if (shape.Length != 3 || shape[0] != directions || shape[1] != gates * hidden || (width is { } w && shape[2] != w))
            {
                throw new OnnxGraphException(
                    $"{node.Description}: {role} '{node.Inputs[index]}' has shape [{string.Join(", ", shape)}], but {directions} direction(s) × {gates} gate(s) × hidden_size {hidden} " +
                    $"need [{directions}, {gates * hidden}, {(width is { } n ? n.ToString() : "input")}].", node.Name);
            }
        }
    }

    /// <summary>The compressible weight matrices, in graph order (recurrent ones split per direction).</summary>
    public static IReadOnlyList<CompressibleWeight> FindWeights(OnnxModel model) => FindWeightsWithReaders(model).Select(w => w.Weight).ToArray();

    /// <summary>
    /// <see cref="FindWeights"/> with the node that reads each (a subgraph's node where <see cref="CompressibleWeight.NodeIndex"/>
    /// is −1): the one object of <paramref name="model"/>'s graph, so an engine running that model can report it.
    /// </summary>
    internal static IReadOnlyList<(CompressibleWeight Weight, OnnxNode Reader)> FindWeightsWithReaders(OnnxModel model)
    {
        var graph = model.Graph;
        var found = new List<(CompressibleWeight, OnnxNode)>();
        bool IsFloatMatrix(string name, int rank) =>
            name.Length > 0 && graph.HasInitializer(name) && graph.GetInitializerInfo(name) is var info
            && info.Type == TensorElementType.Float && info.Shape.Length == rank;

        foreach (var (node, nodeIndex, path) in AllNodes(model))
        {
            if (IsRecurrent(node))
            {
                CheckRecurrentShapes(model, node);
                foreach (var (index, role) in new[] { (1, WeightRole.RecurrentInput), (2, WeightRole.RecurrentHidden) })
                {
                    if (node.Inputs.Count > index && IsFloatMatrix(node.Inputs[index], 3))
                    {
                        var shape = graph.GetInitializerInfo(node.Inputs[index]).Shape;
                        for (var d = 0; d < shape[0]; d++)
                        {
                            found.Add((new CompressibleWeight(node.Inputs[index], node.Name, node.OpType, role, d,
                                shape[1], shape[2], (long)shape[1] * shape[2] * sizeof(float), NodeIndex: nodeIndex, GraphPath: path), node));
                        }
                    }
                }
            }
            else if (node.OpType == "MatMul" && node.Inputs.Count == 2 && IsFloatMatrix(node.Inputs[1], 2))
            {
                // MatMul(X, B) computes X·B, i.e. y = Bᵀx: B [in, out].
                var shape = graph.GetInitializerInfo(node.Inputs[1]).Shape;
                found.Add((new CompressibleWeight(node.Inputs[1], node.Name, "MatMul", WeightRole.MatMul, 0, shape[1], shape[0], Bytes(shape), StoredTransposed: true, NodeIndex: nodeIndex, GraphPath: path), node));
            }
            else if (node.OpType == "Gemm" && node.Inputs.Count >= 2 && IsFloatMatrix(node.Inputs[1], 2))
            {
                var shape = graph.GetInitializerInfo(node.Inputs[1]).Shape;
                var transB = node.GetInt("transB", 0) != 0;
                var (rows, cols) = transB ? (shape[0], shape[1]) : (shape[1], shape[0]);
                found.Add((new CompressibleWeight(node.Inputs[1], node.Name, "Gemm", WeightRole.Gemm, 0, rows, cols, Bytes(shape), StoredTransposed: !transB, NodeIndex: nodeIndex, GraphPath: path), node));
            }
            else if (node.OpType == "Conv" && node.Inputs.Count >= 2 && node.Inputs[1].Length > 0 && graph.HasInitializer(node.Inputs[1])
                && graph.GetInitializerInfo(node.Inputs[1]) is { Type: TensorElementType.Float, Shape.Length: >= 3 } conv)
            {
                // Each output channel's filter is one row over the window it reads: [M × (C / group)·Πk].
                var columns = conv.Shape.Skip(1).Aggregate(1, (a, b) => a * b);
                found.Add((new CompressibleWeight(node.Inputs[1], node.Name, "Conv", WeightRole.Conv, 0, conv.Shape[0], columns,
                    (long)conv.Shape[0] * columns * sizeof(float), NodeIndex: nodeIndex, GraphPath: path), node));
            }
            else if (node.OpType == "Gather" && node.Inputs.Count == 2 && node.GetInt("axis", 0) == 0 && IsFloatMatrix(node.Inputs[0], 2))
            {
                var shape = graph.GetInitializerInfo(node.Inputs[0]).Shape;
                found.Add((new CompressibleWeight(node.Inputs[0], node.Name, "Gather", WeightRole.Embedding, 0, shape[0], shape[1], Bytes(shape), NodeIndex: nodeIndex, GraphPath: path), node));
            }
        }

        return found;
    }

    /// <summary>
    /// Every node of the model with its index in the main graph and its graph path ("" there), then (depth first) the
    /// nodes inside its subgraphs with index −1 and a path such as <c>If_0.else_branch/If_1.then_branch</c>: these read
    /// main-graph weights from the outer scope (<see cref="Onnx.WeightHoisting"/> puts them there).
    /// </summary>
    internal static IEnumerable<(OnnxNode Node, int Index, string Path)> AllNodes(OnnxModel model)
    {
        static IEnumerable<(OnnxNode, int, string)> Nested(OnnxNode node, string path) => node.Subgraphs.SelectMany(s =>
        {
            var inner = path.Length == 0 ? $"{node.Name}.{s.Attribute}" : $"{path}/{node.Name}.{s.Attribute}";
            return s.Graph.Nodes.SelectMany(n => Nested(n, inner).Prepend((n, -1, inner)));
        });
        return model.Graph.Nodes.SelectMany(n => Nested(n, "").Prepend((n, n.Index, "")));
    }

    private static long Bytes(int[] shape) => (long)shape[0] * shape[1] * sizeof(float);

    internal static bool IsRecurrent(OnnxNode node) => node.Domain is "" or "ai.onnx" && node.OpType is "LSTM" or "GRU" or "RNN";

    private static int Gates(string opType) => opType switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
}
