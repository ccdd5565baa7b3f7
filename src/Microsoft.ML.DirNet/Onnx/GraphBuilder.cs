using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Onnx;

/// <summary>
/// Appends nodes and small constant initializers to a list, naming every value <c>{prefix}{n}</c> so the same calls
/// always produce the same graph (the native loader rebuilds it to check a file against what was written). Integer
/// constants with the same value are stored once.
/// </summary>
internal sealed class GraphBuilder(string prefix)
{
    private readonly Dictionary<string, string> _integerConstants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _shared = new(StringComparer.Ordinal);
    private int _counter;

    /// <summary>The nodes added, in order.</summary>
    public List<NodeProto> Nodes { get; } = [];

    /// <summary>For each node added, the value it helps compute (<see cref="Purpose"/> when it was added).</summary>
    public Dictionary<string, string> NodePurposes { get; } = new(StringComparer.Ordinal);

    /// <summary>What the nodes added next compute, for messages about them.</summary>
    public string Purpose { get; set; } = "";

    /// <summary>The constants added (shape vectors, axes, scalars), in order.</summary>
    public List<TensorProto> Constants { get; } = [];

    /// <summary>For each constant added, the <see cref="Purpose"/> it was first added for (later ones share it).</summary>
    public Dictionary<string, string> ConstantPurposes { get; } = new(StringComparer.Ordinal);

    /// <summary>An int64 vector constant.</summary>
    public string Int64s(params long[] values) => Integers(new Tensor<long>([values.Length], values));

    /// <summary>An int64 scalar constant.</summary>
    public string Int64(long value) => Integers(Tensor<long>.Scalar(value));

    /// <summary>An int32 vector constant.</summary>
    public string Int32s(params int[] values) => Integers(new Tensor<int>([values.Length], values));

    /// <summary>An int32 matrix constant [1 × n] (a row that broadcasts over a column).</summary>
    public string Int32Row(params int[] values) => Integers(new Tensor<int>([1, values.Length], values));

    private string Integers<T>(Tensor<T> tensor) where T : unmanaged
    {
        var key = $"{tensor.ElementType}{TensorShape.Format(tensor.Shape)}{string.Join(",", tensor.Data)}";
        if (!_integerConstants.TryGetValue(key, out var name))
        {
            name = _integerConstants[key] = NextName();
            Constants.Add(TensorProtoConverter.ToProto(name, tensor));
            ConstantPurposes[name] = Purpose;
        }

        return name;
    }

    /// <summary>
    /// The value <paramref name="make"/> adds, added once per <paramref name="key"/> (a value that several rebuilds
    /// compute alike, such as each column's group number).
    /// </summary>
    public string Shared(string key, Func<string> make)
    {
        if (!_shared.TryGetValue(key, out var name))
        {
            name = _shared[key] = make();
        }

        return name;
    }

    /// <summary>Adds a node with one output and returns the output's name (<paramref name="output"/> when given).</summary>
    public string Op(string opType, string[] inputs, string? output = null, params AttributeProto[] attributes) =>
        AddNode(opType, inputs, [output ?? NextName()], attributes)[0];

    /// <summary>Adds a node with <paramref name="outputCount"/> outputs and returns their names.</summary>
    public string[] Op(string opType, string[] inputs, int outputCount, params AttributeProto[] attributes) =>
        AddNode(opType, inputs, Enumerable.Range(0, outputCount).Select(_ => NextName()).ToArray(), attributes);

    private string[] AddNode(string opType, string[] inputs, string[] outputs, AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = outputs[0] };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Nodes.Add(node);
        NodePurposes[node.Name] = Purpose;
        return outputs;
    }

    /// <summary>An integer attribute.</summary>
    public static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A list-of-integers attribute.</summary>
    public static AttributeProto IntsAttribute(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>A tensor attribute (ConstantOfShape's fill value).</summary>
    public static AttributeProto TensorAttribute(string name, Tensor value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = TensorProtoConverter.ToProto("", value) };

    private string NextName() => $"{prefix}{_counter++}";
}
