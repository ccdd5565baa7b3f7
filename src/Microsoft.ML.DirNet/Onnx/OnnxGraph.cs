using System.Collections.Concurrent;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Onnx;

/// <summary>
/// A read-only view of a model's main graph: nodes, initializers (decoded on first use), and the inputs and outputs a
/// caller feeds and reads. Obtained from <see cref="OnnxModel.Graph"/>; replacing an initializer goes through the model.
/// </summary>
public sealed class OnnxGraph
{
    private readonly GraphProto _proto;
    private readonly string _modelPath;
    private readonly Dictionary<string, TensorProto> _initializerProtos;
    private readonly ConcurrentDictionary<string, Tensor> _decoded = new();

    internal OnnxGraph(GraphProto proto, string modelPath)
    {
        _proto = proto;
        _modelPath = modelPath;
        _initializerProtos = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in proto.Initializer)
        {
            if (string.IsNullOrEmpty(t.Name))
            {
                throw new OnnxFormatException(modelPath, "the graph has an initializer without a name.");
            }

            if (!_initializerProtos.TryAdd(t.Name, t))
            {
                throw new OnnxFormatException(modelPath, $"the graph has two initializers named '{t.Name}'.");
            }
        }

        Nodes = proto.Node.Select((n, i) => new OnnxNode(n, i)).ToArray();

        // Since IR version 4 an initializer may also be listed as a graph input (a default a caller can override);
        // callers only have to feed the inputs that have no initializer.
        Inputs = proto.Input.Where(i => !_initializerProtos.ContainsKey(i.Name)).Select(i => new OnnxValueInfo(i)).ToArray();
        Outputs = proto.Output.Select(o => new OnnxValueInfo(o)).ToArray();
    }

    /// <summary>
    /// The names this graph's nodes (and the subgraphs inside them) read that the graph itself does not define as an
    /// input, initializer or node output: for a subgraph, the values it takes from the enclosing graphs.
    /// </summary>
    public IReadOnlyList<string> OuterScopeNames => _outerScopeNames ??= FindOuterScopeNames();

    private IReadOnlyList<string>? _outerScopeNames;

    private string[] FindOuterScopeNames()
    {
        var defined = new HashSet<string>(_proto.Input.Select(i => i.Name), StringComparer.Ordinal);
        defined.UnionWith(_initializerProtos.Keys);
        defined.UnionWith(Nodes.SelectMany(n => n.Outputs).Where(o => o.Length > 0));
        return Nodes.SelectMany(n => n.AllInputs).Concat(Outputs.Select(o => o.Name))
            .Where(name => !defined.Contains(name)).Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Every input the graph declares, in order, those with an initializer included (a subgraph's formal parameters).</summary>
    internal IReadOnlyList<OnnxValueInfo> DeclaredInputs => _proto.Input.Select(i => new OnnxValueInfo(i)).ToArray();

    /// <summary>The graph's name.</summary>
    public string Name => _proto.Name;

    /// <summary>The nodes in file order.</summary>
    public IReadOnlyList<OnnxNode> Nodes { get; }

    /// <summary>The inputs a caller must feed (graph inputs that have no initializer).</summary>
    public IReadOnlyList<OnnxValueInfo> Inputs { get; }

    /// <summary>The graph outputs.</summary>
    public IReadOnlyList<OnnxValueInfo> Outputs { get; }

    /// <summary>The names of the initializers (stored constant tensors).</summary>
    public IEnumerable<string> InitializerNames => _initializerProtos.Keys;

    /// <summary>True when an initializer of this name exists.</summary>
    public bool HasInitializer(string name) => _initializerProtos.ContainsKey(name);

    /// <summary>The element type and shape of an initializer, read without decoding its data.</summary>
    public (TensorElementType Type, int[] Shape) GetInitializerInfo(string name)
    {
        var proto = FindProto(name);
        var type = Decode(() => TensorProtoConverter.ElementType(proto.DataType, $"tensor '{name}'"));
        var shape = Decode(() => proto.Dims.Select(d => d is >= 0 and <= int.MaxValue
            ? (int)d
            : throw new ArgumentException($"tensor '{name}' has invalid dimension {d} in dims [{string.Join(", ", proto.Dims)}].")).ToArray());
        return (type, shape);
    }

    /// <summary>Decodes an initializer; repeated calls return the same tensor instance.</summary>
    public Tensor GetInitializer(string name) =>
        _decoded.GetOrAdd(name, n => Decode(() => TensorProtoConverter.ToTensor(FindProto(n))));

    /// <summary>The stored size in bytes of an initializer's data.</summary>
    public long GetInitializerBytes(string name)
    {
        var proto = FindProto(name);
        return proto.HasRawData ? proto.RawData.Length : proto.CalculateSize();
    }

    /// <summary>An initializer as stored, or null when there is none of that name.</summary>
    internal TensorProto? FindInitializerProto(string name) => _initializerProtos.GetValueOrDefault(name);

    /// <summary>Points the view at an initializer's new proto after the model replaced it.</summary>
    internal void OnReplaced(TensorProto proto)
    {
        _initializerProtos[proto.Name] = proto;
        _decoded.TryRemove(proto.Name, out _);
    }

    private TensorProto FindProto(string name) =>
        _initializerProtos.TryGetValue(name, out var proto)
            ? proto
            : throw new OnnxGraphException($"The graph of '{_modelPath}' has no initializer named '{name}'.");

    private T Decode<T>(Func<T> decode)
    {
        try
        {
            return decode();
        }
        catch (ArgumentException e)
        {
            throw new OnnxFormatException(_modelPath, e.Message, e);
        }
    }
}
