using Microsoft.ML.DirNet.Onnx;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Finds matrices that multiply the same vector, so DirNet can learn one projection dictionary for them: in a
/// unidirectional stack, layer l's R multiplies h_l, and so does layer l+1's W when layer l+1's input is layer l's Y
/// reached through shape-only ops (Squeeze, Reshape, Identity, Dropout).
/// </summary>
internal static class ProjectionSharing
{
    private static readonly HashSet<string> ShapeOnly = ["Squeeze", "Reshape", "Identity", "Dropout"];

    /// <summary>(node whose R is shared, node whose W is shared) pairs, as node indices (names may be empty or repeated).</summary>
    public static IReadOnlyList<(int RecurrentNode, int NextNode)> FindPairs(OnnxModel model)
    {
        var producer = new Dictionary<string, OnnxNode>();
        foreach (var node in model.Graph.Nodes)
        {
            foreach (var output in node.Outputs.Where(o => o.Length > 0))
            {
                producer[output] = node;
            }
        }

        var pairs = new List<(int, int)>();
        foreach (var node in model.Graph.Nodes.Where(IsUnidirectionalRecurrent))
        {
            var value = node.Inputs[0];
            while (producer.TryGetValue(value, out var source) && ShapeOnly.Contains(source.OpType) && source.Inputs.Count > 0)
            {
                value = source.Inputs[0];
            }

            if (producer.TryGetValue(value, out var previous) && IsUnidirectionalRecurrent(previous)
                && previous.Outputs.Count > 0 && previous.Outputs[0] == value)
            {
                pairs.Add((previous.Index, node.Index));
            }
        }

        return pairs;
    }

    private static bool IsUnidirectionalRecurrent(OnnxNode node) =>
        node.OpType is "LSTM" or "GRU" or "RNN" && node.GetString("direction", "forward") != "bidirectional"
        && node.Inputs.Count > 2;
}
