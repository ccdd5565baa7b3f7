using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx.Protobuf;

namespace Microsoft.ML.DirNet.Onnx;

/// <summary>
/// Reads tensors whose bytes live in a separate file next to the model (ONNX "external data") into the in-memory
/// model, so everything downstream sees ordinary tensors and a saved model is self-contained.
/// </summary>
internal static class ExternalDataLoader
{
    /// <summary>Inlines every external tensor of the model; throws a message naming the tensor and file on failure.</summary>
    public static void InlineAll(ModelProto model, string? baseDirectory, string modelPath)
    {
        foreach (var tensor in AllTensors(model.Graph))
        {
            if (tensor.DataLocation != TensorProto.Types.DataLocation.External)
            {
                continue;
            }

            if (baseDirectory is null)
            {
                throw new OnnxFormatException(modelPath,
                    $"tensor '{tensor.Name}' keeps its data in an external file, and a model read from a stream has no folder to find it in; load it from a path instead.");
            }

            Inline(tensor, baseDirectory, modelPath);
        }
    }

    private static void Inline(TensorProto tensor, string baseDirectory, string modelPath)
    {
        string? location = null;
        long offset = 0;
        long length = -1;
        foreach (var entry in tensor.ExternalData)
        {
            switch (entry.Key)
            {
                case "location": location = entry.Value; break;
                case "offset": offset = ParseLong(entry.Value, "offset"); break;
                case "length": length = ParseLong(entry.Value, "length"); break;
            }
        }

        long ParseLong(string text, string key) => long.TryParse(text, out var v) && v >= 0
            ? v
            : throw new OnnxFormatException(modelPath, $"tensor '{tensor.Name}' has an invalid external-data {key} '{text}'.");

        if (string.IsNullOrEmpty(location))
        {
            throw new OnnxFormatException(modelPath, $"tensor '{tensor.Name}' is external but names no location.");
        }

        var root = Path.GetFullPath(baseDirectory);
        var file = Path.GetFullPath(Path.Combine(root, location));
        if (!file.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new OnnxFormatException(modelPath, $"tensor '{tensor.Name}' points outside the model's folder ('{location}').");
        }

        if (!File.Exists(file))
        {
            throw new OnnxFormatException(modelPath, $"tensor '{tensor.Name}' keeps its data in '{location}', which does not exist next to the model.");
        }

        using var stream = File.OpenRead(file);
        var available = stream.Length - offset;
        if (length < 0)
        {
            length = available;
        }

        if (offset > stream.Length || length > available || length > int.MaxValue)
        {
            throw new OnnxFormatException(modelPath,
                $"tensor '{tensor.Name}' asks for bytes {offset}..{offset + length} of '{location}', which has {stream.Length} bytes.");
        }

        var bytes = new byte[length];
        stream.Position = offset;
        stream.ReadExactly(bytes);
        tensor.RawData = ByteString.CopyFrom(bytes);
        tensor.ExternalData.Clear();
        tensor.DataLocation = TensorProto.Types.DataLocation.Default;
    }

    private static IEnumerable<TensorProto> AllTensors(GraphProto? graph)
    {
        if (graph is null)
        {
            yield break;
        }

        foreach (var t in graph.Initializer)
        {
            yield return t;
        }

        foreach (var node in graph.Node)
        {
            foreach (var attribute in node.Attribute)
            {
                if (attribute.T is not null)
                {
                    yield return attribute.T;
                }

                foreach (var t in attribute.Tensors)
                {
                    yield return t;
                }
            }
        }
    }
}
