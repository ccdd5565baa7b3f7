using Google.Protobuf;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

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

        if (location.Contains('\0'))
        {
            // No file name holds one; the system calls would cut the path there.
            throw new OnnxFormatException(modelPath, $"tensor '{tensor.Name}' names an external-data location with a NUL character.");
        }

        // Links are followed before the containment check, in every component: comparing the written path would let
        // a link inside the folder (to a file or to a folder) lead anywhere on the machine.
        string root, file;
        try
        {
            root = SafeFile.RealPath(baseDirectory);
            file = SafeFile.RealPath(Path.Combine(baseDirectory, location));
        }
        catch (IOException e)
        {
            throw new OnnxFormatException(modelPath, $"tensor '{tensor.Name}' keeps its data in '{location}', which cannot be resolved ({e.Message}).", e);
        }

        if (!SafeFile.IsInside(file, root))
        {
            throw new OnnxFormatException(modelPath, $"tensor '{tensor.Name}' points outside the model's folder ('{location}' leads to '{file}').");
        }

        // The declared type and shape fix how many bytes the tensor needs; only those are read, whatever the file's
        // size, and a stated length must agree.
        var declared = DeclaredBytes(tensor, modelPath);
        if (length >= 0 && length != declared)
        {
            throw new OnnxFormatException(modelPath,
                $"tensor '{tensor.Name}' declares {declared} bytes by its type and shape, but its external-data length is {length}.");
        }

        // O_NOFOLLOW: the resolved path has no link left; one appearing now is a race, refused.
        using var stream = SafeFile.OpenRead(file,
            problem => new OnnxFormatException(modelPath, $"tensor '{tensor.Name}' keeps its data in '{location}', which {problem}."),
            followLinks: false);
        if (offset > stream.Length || declared > stream.Length - offset)
        {
            throw new OnnxFormatException(modelPath,
                $"tensor '{tensor.Name}' asks for bytes {offset}..{offset + declared} of '{location}', which has {stream.Length} bytes.");
        }

        var bytes = new byte[declared];
        stream.Position = offset;
        try
        {
            stream.ReadExactly(bytes);
        }
        catch (IOException e)
        {
            throw new OnnxFormatException(modelPath, $"tensor '{tensor.Name}': '{location}' could not be read up to byte {offset + declared} ({e.Message}).", e);
        }

        // The array is not used again, so the proto may own it without a second copy.
        tensor.RawData = UnsafeByteOperations.UnsafeWrap(bytes);
        tensor.ExternalData.Clear();
        tensor.DataLocation = TensorProto.Types.DataLocation.Default;
    }

    /// <summary>The bytes the tensor's element type and dims call for, refused above what one tensor may hold.</summary>
    private static long DeclaredBytes(TensorProto tensor, string modelPath)
    {
        TensorElementType type;
        try
        {
            type = TensorProtoConverter.ElementType(tensor.DataType, $"tensor '{tensor.Name}'");
        }
        catch (ArgumentException e)
        {
            throw new OnnxFormatException(modelPath, e.Message, e);
        }

        try
        {
            var size = Tensor.ElementSizeOf(type);
            return (long)size * TensorShape.BufferLength($"tensor '{tensor.Name}' ({type}[{string.Join(", ", tensor.Dims)}])", size, [.. tensor.Dims]);
        }
        catch (ArgumentException e)
        {
            throw new OnnxFormatException(modelPath, e.Message, e);
        }
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
