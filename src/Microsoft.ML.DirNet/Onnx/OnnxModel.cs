using Google.Protobuf;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Onnx;

/// <summary>
/// An ONNX model in memory: load from a path or stream, look at its graph, replace initializers, save.
/// Loading never modifies the source; saving to a path writes a temporary file and renames it when complete.
/// </summary>
/// <remarks>
/// Tensors stored as external data are read in at load time (from the model's folder), so a saved model is always
/// self-contained. Not thread-safe for concurrent <see cref="ReplaceInitializer"/>; reading is safe from many threads.
/// </remarks>
public sealed class OnnxModel
{
    private OnnxModel(ModelProto proto, string sourceName)
    {
        Proto = proto;
        SourceName = sourceName;
        Graph = new OnnxGraph(proto.Graph, sourceName);
    }

    /// <summary>The file path (or the name given for a stream) the model was loaded from, for messages.</summary>
    public string SourceName { get; }

    /// <summary>The main graph.</summary>
    public OnnxGraph Graph { get; }

    /// <summary>The ONNX IR version the file declares.</summary>
    public long IrVersion => Proto.IrVersion;

    /// <summary>The producer recorded in the file (e.g. "pytorch").</summary>
    public string ProducerName => Proto.ProducerName;

    /// <summary>The operator-set version imported for each domain ("" is the default ONNX domain).</summary>
    public IReadOnlyDictionary<string, long> OpsetImports =>
        Proto.OpsetImport.GroupBy(o => o.Domain).ToDictionary(g => g.Key, g => g.Max(o => o.Version));

    /// <summary>The default-domain opset version, the one that decides each standard op's semantics.</summary>
    public long DefaultOpset => OpsetImports.TryGetValue("", out var v) ? v : OpsetImports.TryGetValue("ai.onnx", out v) ? v : 0;

    /// <summary>The model's custom metadata (key/value strings).</summary>
    public IReadOnlyDictionary<string, string> Metadata => Proto.MetadataProps.ToDictionary(p => p.Key, p => p.Value);

    internal ModelProto Proto { get; }

    /// <summary>
    /// Loads a model from a file. External-data tensors are read from files next to it: each must resolve (links
    /// followed) to a regular file inside the model's folder, and only its declared size is read.
    /// </summary>
    /// <exception cref="OnnxFormatException">The file is missing, not a regular file, larger than 2 GiB, truncated, or
    /// not an ONNX model; or an external-data file is outside the model's folder, not a regular file, or too short.</exception>
    public static OnnxModel Load(string path)
    {
        // Only a regular file is read (a FIFO would block, a device never end), and only up to its size, which must
        // be within protobuf's 2 GiB.
        byte[] bytes;
        try
        {
            bytes = SafeFile.ReadProtobuf(path, problem => new OnnxFormatException(path, $"the file {problem}."));
        }
        catch (IOException e)
        {
            throw new OnnxFormatException(path, $"the file could not be read ({e.Message}).", e);
        }

        return Parse(bytes, path, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <summary>Loads a model from a stream.</summary>
    /// <param name="stream">The serialized ModelProto.</param>
    /// <param name="sourceName">A name for error messages.</param>
    /// <param name="externalDataDirectory">Where external-data files live; null refuses models that use them.</param>
    public static OnnxModel Load(Stream stream, string sourceName = "<stream>", string? externalDataDirectory = null)
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Parse(buffer.ToArray(), sourceName, externalDataDirectory);
    }

    /// <summary>Parses a serialized model held in memory.</summary>
    public static OnnxModel Parse(byte[] bytes, string sourceName = "<bytes>", string? externalDataDirectory = null)
    {
        if (bytes.Length == 0)
        {
            throw new OnnxFormatException(sourceName, "the file is empty.");
        }

        ModelProto proto;
        try
        {
            proto = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFormatException(sourceName, $"the bytes are not a protobuf ModelProto, or the file is truncated ({e.Message}).", e);
        }

        // A protobuf parse succeeds on many non-ONNX inputs and on files cut at a field boundary; the fields every
        // ONNX model has tell them apart.
        if (proto.IrVersion <= 0)
        {
            throw new OnnxFormatException(sourceName, "it declares no IR version (not an ONNX model, or truncated).");
        }

        if (proto.Graph is null)
        {
            throw new OnnxFormatException(sourceName, "it has no graph (not an ONNX model, or truncated).");
        }

        if (proto.OpsetImport.Count == 0)
        {
            throw new OnnxFormatException(sourceName, "it imports no operator set (truncated, or not an ONNX model).");
        }

        if (proto.Graph.Output.Count == 0)
        {
            throw new OnnxFormatException(sourceName, "its graph declares no outputs (truncated, or not an ONNX model).");
        }

        ExternalDataLoader.InlineAll(proto, externalDataDirectory, sourceName);
        return new OnnxModel(proto, sourceName);
    }

    /// <summary>Wraps a proto built in memory (by the exporter); the model takes ownership of it.</summary>
    internal static OnnxModel FromProto(ModelProto proto, string sourceName) => new(proto, sourceName);

    /// <summary>
    /// Replaces an initializer's data with <paramref name="tensor"/> (the name stays). The shape may change; the
    /// caller is responsible for keeping the graph consistent.
    /// </summary>
    public void ReplaceInitializer(string name, Tensor tensor)
    {
        var list = Proto.Graph.Initializer;
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Name == name)
            {
                list[i] = TensorProtoConverter.ToProto(name, tensor);
                Graph.OnReplaced(list[i]);
                return;
            }
        }

        throw new OnnxGraphException($"The graph of '{SourceName}' has no initializer named '{name}' to replace.");
    }

    /// <summary>Serializes the model.</summary>
    public byte[] ToBytes() => Proto.ToByteArray();

    /// <summary>Writes the model to a stream.</summary>
    public void Save(Stream stream) => Proto.WriteTo(stream);

    /// <summary>
    /// Writes the model to a file: to a temporary name in the same folder first, renamed when complete, so a failure
    /// never leaves a partial file and never touches an existing file at <paramref name="path"/> until the end.
    /// </summary>
    public void Save(string path) => AtomicFile.Write(path, Save);
}
