using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Onnx;

/// <summary>A read-only view of one node of an ONNX graph, with typed attribute access.</summary>
public sealed class OnnxNode
{
    private readonly NodeProto _proto;

    internal OnnxNode(NodeProto proto, int index)
    {
        _proto = proto;
        Index = index;
        Name = string.IsNullOrEmpty(proto.Name) ? $"{proto.OpType}_{index}" : proto.Name;
    }

    /// <summary>The node as stored.</summary>
    internal NodeProto Proto => _proto;

    /// <summary>The node's name, or "OpType_index" when the model leaves it empty, so errors can always name it.</summary>
    public string Name { get; }

    /// <summary>The position of the node in the graph's node list.</summary>
    public int Index { get; }

    /// <summary>The operator type, e.g. "LSTM".</summary>
    public string OpType => _proto.OpType;

    /// <summary>The operator domain; empty for the default ONNX domain.</summary>
    public string Domain => _proto.Domain;

    /// <summary>Input value names in order; an empty string marks an omitted optional input.</summary>
    public IReadOnlyList<string> Inputs => _proto.Input;

    /// <summary>Output value names in order; an empty string marks an omitted optional output.</summary>
    public IReadOnlyList<string> Outputs => _proto.Output;

    /// <summary>The names of the attributes the node sets.</summary>
    public IEnumerable<string> AttributeNames => _proto.Attribute.Select(a => a.Name);

    /// <summary>A short description for error messages: <c>node 'name' (OpType)</c>.</summary>
    public string Description => $"node '{Name}' ({OpType})";

    /// <summary>True when the attribute is set.</summary>
    public bool HasAttribute(string name) => Find(name) is not null;

    /// <summary>An integer attribute, or <paramref name="defaultValue"/> when absent.</summary>
    public long GetInt(string name, long defaultValue) =>
        Find(name) is { } a ? Expect(a, AttributeProto.Types.AttributeType.Int).I : defaultValue;

    /// <summary>A float attribute, or <paramref name="defaultValue"/> when absent.</summary>
    public float GetFloat(string name, float defaultValue) =>
        Find(name) is { } a ? Expect(a, AttributeProto.Types.AttributeType.Float).F : defaultValue;

    /// <summary>A string attribute, or <paramref name="defaultValue"/> when absent.</summary>
    public string GetString(string name, string defaultValue) =>
        Find(name) is { } a ? Expect(a, AttributeProto.Types.AttributeType.String).S.ToStringUtf8() : defaultValue;

    /// <summary>An integer-list attribute, or null when absent.</summary>
    public long[]? GetInts(string name) =>
        Find(name) is { } a ? Expect(a, AttributeProto.Types.AttributeType.Ints).Ints.ToArray() : null;

    /// <summary>A float-list attribute, or null when absent.</summary>
    public float[]? GetFloats(string name) =>
        Find(name) is { } a ? Expect(a, AttributeProto.Types.AttributeType.Floats).Floats.ToArray() : null;

    /// <summary>A string-list attribute, or null when absent.</summary>
    public string[]? GetStrings(string name) =>
        Find(name) is { } a ? Expect(a, AttributeProto.Types.AttributeType.Strings).Strings.Select(s => s.ToStringUtf8()).ToArray() : null;

    /// <summary>A tensor attribute decoded to a <see cref="Tensor"/>, or null when absent.</summary>
    public Tensor? GetTensor(string name)
    {
        if (Find(name) is not { } a)
        {
            return null;
        }

        try
        {
            // A tensor attribute without its tensor (a file damaged or written by a broken exporter) is refused here.
            return TensorProtoConverter.ToTensor(Expect(a, AttributeProto.Types.AttributeType.Tensor).T
                ?? throw new ArgumentException("the attribute is declared a tensor but holds none."));
        }
        catch (ArgumentException e)
        {
            throw new OnnxGraphException($"{Description}, attribute '{name}': {e.Message}", Name, e);
        }
    }

    /// <summary>
    /// The graphs held in this node's graph attributes (If's branches, Loop's and Scan's body), with the attribute
    /// names, in attribute order; empty for a node without subgraphs.
    /// </summary>
    public IReadOnlyList<(string Attribute, OnnxGraph Graph)> Subgraphs => _subgraphs ??= _proto.Attribute
        .Where(a => a.Type == AttributeProto.Types.AttributeType.Graph || (a.Type == AttributeProto.Types.AttributeType.Undefined && a.G is not null))
        .Select(a => (a.Name, new OnnxGraph(a.G ?? throw new OnnxGraphException($"{Description}: attribute '{a.Name}' is declared a graph but holds none.", Name),
            $"subgraph '{a.Name}' of {Description}")))
        .ToArray();

    private IReadOnlyList<(string Attribute, OnnxGraph Graph)>? _subgraphs;

    /// <summary>The graph in attribute <paramref name="name"/>; throws naming the node when it has none.</summary>
    public OnnxGraph GetGraph(string name) =>
        Subgraphs.FirstOrDefault(s => s.Attribute == name).Graph
        ?? throw new OnnxGraphException($"{Description} has no graph attribute '{name}'.", Name);

    /// <summary>
    /// The values this node's subgraphs read from enclosing graphs (outer-scope values, as the ONNX spec lets a
    /// subgraph use any name visible where its node is), sorted by name. A runtime feeds them to the node as implicit
    /// inputs after its own.
    /// </summary>
    public IReadOnlyList<string> ImplicitInputs => _implicitInputs ??= Subgraphs
        .SelectMany(s => s.Graph.OuterScopeNames)
        .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();

    private IReadOnlyList<string>? _implicitInputs;

    /// <summary>The inputs this node reads, its own (without omitted ones) and then its <see cref="ImplicitInputs"/>.</summary>
    public IEnumerable<string> AllInputs => Inputs.Where(i => i.Length > 0).Concat(ImplicitInputs);

    /// <inheritdoc />
    public override string ToString() => Description;

    private AttributeProto? Find(string name)
    {
        foreach (var a in _proto.Attribute)
        {
            if (a.Name == name)
            {
                return a;
            }
        }

        return null;
    }

    private AttributeProto Expect(AttributeProto attribute, AttributeProto.Types.AttributeType type)
    {
        // Old exporters leave `type` unset; trust the payload then.
        if (attribute.Type != AttributeProto.Types.AttributeType.Undefined && attribute.Type != type)
        {
            throw new OnnxGraphException(
                $"{Description}: attribute '{attribute.Name}' should be {type.ToString().ToUpperInvariant()} but is {attribute.Type.ToString().ToUpperInvariant()}.",
                Name);
        }

        return attribute;
    }
}
