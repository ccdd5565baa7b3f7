using Microsoft.ML.DirNet.Onnx.Protobuf;

namespace Microsoft.ML.DirNet.Export;

/// <summary>
/// Lets a model of an older opset (7-10) take the compressed file's rebuild ops, which need opset
/// <see cref="Compression.CompressedMatrix.MinimumRebuildOpset"/>: the default-domain import is raised to it where every
/// node of the model (subgraphs included) means the same at the new version, and refused otherwise, naming the
/// operators that would change meaning, so the user knows what to convert.
/// </summary>
internal static class OpsetRaise
{
    /// <summary>
    /// The operators whose meaning (inputs, attributes or outputs) changed between opset 7 and 11, with the version of
    /// that change: a node of one of them in a model below that version would not mean the same at opset 11. Upsample
    /// and Scatter were deprecated (at 10 and 11). The others only gained element types or negative axes, or new
    /// attributes whose defaults keep the old behaviour.
    /// </summary>
    private static readonly Dictionary<string, long> ChangedMeaning = new(StringComparer.Ordinal)
    {
        ["BatchNormalization"] = 9, ["Slice"] = 10, ["TopK"] = 10, ["Upsample"] = 10, ["Dropout"] = 10,
        ["Pad"] = 11, ["Clip"] = 11, ["Resize"] = 11, ["Scatter"] = 11,
    };

    /// <summary>
    /// Raises <paramref name="proto"/>'s default-domain opset import to <paramref name="target"/> when it is lower and
    /// nothing changes meaning; returns the version it had (or the same, when already high enough).
    /// </summary>
    /// <exception cref="DirNetException">A node's operator would change meaning; the message names each.</exception>
    public static long RaiseTo(ModelProto proto, long target, string sourceName)
    {
        var import = proto.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
        var version = import?.Version ?? 0;
        if (import is null || version >= target)
        {
            return version;
        }

        var changed = Nodes(proto.Graph).Where(n => n.Domain is "" or "ai.onnx" && ChangedMeaning.TryGetValue(n.OpType, out var since) && version < since)
            .Select(n => n.OpType).Distinct().Order(StringComparer.Ordinal).ToArray();
        if (changed.Length > 0)
        {
            throw new DirNetException(
                $"'{sourceName}' imports ONNX opset {version}; the compressed model's rebuild ops need opset {target}, and at that version "
                + $"{string.Join(", ", changed)} mean{(changed.Length == 1 ? "s" : "")} something else. Convert the model to opset {target} or later "
                + "(onnx.version_converter.convert_version, or re-export it), then compress it.");
        }

        import.Version = target;
        return version;
    }

    private static IEnumerable<NodeProto> Nodes(GraphProto graph) =>
        graph.Node.SelectMany(n => n.Attribute.Where(a => a.G is not null).SelectMany(a => Nodes(a.G)).Prepend(n));
}
