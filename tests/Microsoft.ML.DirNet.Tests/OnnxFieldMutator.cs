using System.Buffers.Binary;
using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using AttributeType = Microsoft.ML.DirNet.Onnx.Protobuf.AttributeProto.Types.AttributeType;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Mutates a parsed ONNX <see cref="ModelProto"/> through its structure rather than its bytes: tensor dims, data types
/// and stored data, attribute values and types, node inputs, outputs, op types and names, graph inputs and outputs,
/// initializers and the opset. Every choice comes from the <see cref="Random"/> given, so a seed gives the same mutants.
/// </summary>
/// <remarks>
/// Memory: a mutant never holds more data than its seed (at most a copy of one initializer, or one tensor's data
/// doubled), so the mutants themselves stay small. The values written are extremes (0, ±1, 2^31−1, 2^32+1, 2^62,
/// 2^63−1, negative) rather than mid-sized counts, so a shape computed from them is either tiny or far past what one
/// tensor may hold (2 GB), which the library is expected to refuse before allocating; a mutant that legitimately needs
/// gigabytes is not made.
/// </remarks>
internal sealed class OnnxFieldMutator(Random random)
{
    /// <summary>The integers written into dims, attribute values and integer tensor elements.</summary>
    public static readonly long[] ExtremeIntegers =
        [0, 1, -1, 2, -2, int.MaxValue, int.MinValue, 1L << 31, (1L << 32) + 1, 1L << 62, long.MaxValue, long.MinValue];

    /// <summary>The floats written into attribute values and float tensor elements.</summary>
    public static readonly float[] ExtremeFloats =
        [float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, 1e30f, 0f, -0f, float.Epsilon, -1e-30f];

    /// <summary>Strings written into string attributes (odd, or valid for another attribute).</summary>
    public static readonly string[] OddStrings =
        ["", "\0", "forward\0", "FORWARD", "reverse", "bidirectional", "Tanh", "Sigmoid", "Relu", "HardSigmoid", "Affine", "nonexistent", " forward", "é€😀", "\n", new('x', 4096)];

    /// <summary>Every TensorProto.DataType value, the newer ones this proto does not name, and invalid ones.</summary>
    public static readonly int[] DataTypes = [.. Enumerable.Range(0, 24), -1, 1000, int.MaxValue];

    private static readonly AttributeType[] AttributeTypes = [.. Enum.GetValues<AttributeType>(), (AttributeType)99];

    private static readonly string[] UnknownOps = ["FuzzUnknownOp", "", "lstm", "LSTM ", "Loop", "Scan"];

    private static readonly string[] OtherOps =
        ["Identity", "Relu", "Add", "Mul", "MatMul", "Gemm", "Transpose", "Reshape", "Expand", "Concat", "Gather", "Squeeze", "Unsqueeze",
         "Cast", "Shape", "Slice", "ConstantOfShape", "LSTM", "GRU", "RNN", "Softmax", "LogSoftmax", "Constant", "Tile", "Split", "Range"];

    private const string Missing = "fuzz_missing_value";

    private readonly Dictionary<string, int> _applied = [];

    /// <summary>How many mutations of each kind (by method name) this mutator has applied.</summary>
    public IReadOnlyDictionary<string, int> Applied => _applied;

    /// <summary>A copy of <paramref name="seed"/> with 1–3 mutations, and their description (';'-separated).</summary>
    public (ModelProto Mutant, string Mutation) Mutate(ModelProto seed)
    {
        var mutant = seed.Clone();
        var count = random.Next(6) switch { < 3 => 1, < 5 => 2, _ => 3 }; // one alone half the time: fewer mutants die at the first check
        var applied = new List<string>();
        for (var i = 0; i < count; i++)
        {
            applied.Add(MutateOnce(mutant));
        }

        return (mutant, string.Join("; ", applied));
    }

    /// <summary>Applies one mutation in place (retrying kinds that do not apply to this model) and describes it.</summary>
    public string MutateOnce(ModelProto model)
    {
        Func<ModelProto, string?>[] kinds =
        [
            TensorDims, TensorDataType, TensorData, TensorValue, AttributeValue, AttributeTypeChange, AttributeRemovedOrDuplicated,
            NodeInputs, NodeOutputs, NodeOpType, NodeName, NodeOrder, GraphInput, GraphOutput, Initializer, Opset,
        ];
        for (var attempt = 0; attempt < 64; attempt++)
        {
            var kind = kinds[random.Next(kinds.Length)];
            if (kind(model) is { } description)
            {
                _applied[kind.Method.Name] = _applied.GetValueOrDefault(kind.Method.Name) + 1;
                return description;
            }
        }

        throw new InvalidOperationException("No mutation applies to this model.");
    }

    // ---- tensors (initializers and tensor attributes, e.g. Constant's value) ----

    private List<(TensorProto Tensor, string Where)> Tensors(ModelProto model)
    {
        var list = model.Graph.Initializer.Select(t => (t, $"initializer '{t.Name}'")).ToList();
        foreach (var node in model.Graph.Node)
        {
            foreach (var attribute in node.Attribute)
            {
                if (attribute.T is not null)
                {
                    list.Add((attribute.T, $"node '{node.Name}' attribute '{attribute.Name}'"));
                }

                list.AddRange(attribute.Tensors.Select((t, k) => (t, $"node '{node.Name}' attribute '{attribute.Name}'[{k}]")));
            }
        }

        return list;
    }

    private string? TensorDims(ModelProto model) => Tensors(model) is { Count: > 0 } tensors ? TensorDims(Pick(tensors)) : null;

    private string TensorDims((TensorProto Tensor, string Where) target)
    {
        var (t, where) = target;
        var before = Format(t.Dims);
        switch (random.Next(5))
        {
            case 0 or 1 when t.Dims.Count > 0:
                var k = random.Next(t.Dims.Count);
                t.Dims[k] = Pick(ExtremeIntegers);
                break;
            case 2:
                t.Dims.Insert(random.Next(t.Dims.Count + 1), random.Next(2) == 0 ? 1 : Pick(ExtremeIntegers));
                break;
            case 3 when t.Dims.Count > 0:
                t.Dims.RemoveAt(random.Next(t.Dims.Count));
                break;
            default:
                if (random.Next(2) == 0 || t.Dims.Count == 0)
                {
                    t.Dims.Clear();
                }
                else
                {
                    var value = Pick(ExtremeIntegers);
                    for (var i = 0; i < t.Dims.Count; i++)
                    {
                        t.Dims[i] = value;
                    }
                }

                break;
        }

        return $"{where} dims {before} -> {Format(t.Dims)}";
    }

    private string? TensorDataType(ModelProto model) => Tensors(model) is { Count: > 0 } tensors ? TensorDataType(Pick(tensors)) : null;

    private string TensorDataType((TensorProto Tensor, string Where) target)
    {
        var before = target.Tensor.DataType;
        target.Tensor.DataType = Pick(DataTypes);
        return $"{target.Where} data_type {before} -> {target.Tensor.DataType}";
    }

    private string? TensorData(ModelProto model) => Tensors(model) is { Count: > 0 } tensors ? TensorData(Pick(tensors)) : null;

    /// <summary>Makes the stored data disagree with the dims: raw_data cut, grown, emptied, duplicated into a typed field, or moved to missing external data.</summary>
    private string TensorData((TensorProto Tensor, string Where) target)
    {
        var (t, where) = target;
        var raw = t.RawData.ToByteArray();
        switch (random.Next(7))
        {
            case 0 when raw.Length > 0:
                var cut = random.Next(2) == 0 ? raw.Length - 1 : random.Next(raw.Length);
                t.RawData = ByteString.CopyFrom(raw, 0, cut);
                return $"{where} raw_data cut from {raw.Length} to {cut} bytes";
            case 1:
                var grown = new byte[raw.Length + 1 + random.Next(8)];
                raw.CopyTo(grown, 0);
                t.RawData = ByteString.CopyFrom(grown);
                return $"{where} raw_data grown from {raw.Length} to {grown.Length} bytes";
            case 2 when raw.Length > 0:
                t.RawData = ByteString.CopyFrom([.. raw, .. raw]);
                return $"{where} raw_data doubled to {2 * raw.Length} bytes";
            case 3:
                t.RawData = ByteString.Empty;
                t.ClearRawData();
                return $"{where} raw_data removed ({raw.Length} bytes)";
            case 4:
                // Both raw_data and a typed field hold values (or only the typed one, with a count off by one).
                var count = Math.Max(0, raw.Length / 4 + random.Next(3) - 1);
                t.FloatData.AddRange(Enumerable.Range(0, count).Select(i => (float)i));
                t.Int64Data.AddRange(Enumerable.Range(0, random.Next(3)).Select(i => (long)i));
                return $"{where} float_data with {count} values and int64_data added beside {raw.Length} raw bytes";
            case 5:
                t.DataLocation = TensorProto.Types.DataLocation.External;
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = Pick(["missing.bin", "../../../../etc/passwd", "", "/dev/zero"]) });
                if (random.Next(2) == 0)
                {
                    t.ExternalData.Add(new StringStringEntryProto { Key = Pick(["offset", "length"]), Value = Pick(ExtremeIntegers).ToString() });
                }

                return $"{where} moved to external data {string.Join(",", t.ExternalData.Select(e => $"{e.Key}={e.Value}"))}";
            default:
                t.StringData.Add(ByteString.CopyFromUtf8(Pick(OddStrings)));
                return $"{where} string_data added";
        }
    }

    private string? TensorValue(ModelProto model) => Tensors(model) is { Count: > 0 } tensors ? TensorValue(Pick(tensors)) : null;

    /// <summary>Writes an extreme value into one element (or, for float tensors, sometimes every element).</summary>
    private string TensorValue((TensorProto Tensor, string Where) target)
    {
        var (t, where) = target;
        var raw = t.RawData.ToByteArray();
        var size = t.DataType switch { 1 or 6 or 12 => 4, 7 or 11 or 13 => 8, 4 or 5 or 10 or 16 => 2, 2 or 3 or 9 => 1, _ => 1 };
        if (raw.Length >= size)
        {
            var all = t.DataType == 1 && random.Next(4) == 0;
            var k = random.Next(raw.Length / size);
            string written;
            switch (t.DataType)
            {
                case 1:
                    var f = Pick(ExtremeFloats);
                    for (var e = all ? 0 : k; e < (all ? raw.Length / 4 : k + 1); e++)
                    {
                        BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(4 * e), f);
                    }

                    written = f.ToString("R");
                    break;
                case 7:
                    var l = Pick(ExtremeIntegers);
                    BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(8 * k), l);
                    written = l.ToString();
                    break;
                case 6:
                    var i = (int)Pick(ExtremeIntegers);
                    BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(4 * k), i);
                    written = i.ToString();
                    break;
                default:
                    var b = (byte)random.Next(256);
                    raw[size * k] = b;
                    written = $"byte {b}";
                    break;
            }

            t.RawData = ByteString.CopyFrom(raw);
            return $"{where} element {(all ? "all" : k.ToString())} = {written}";
        }

        if (t.Int64Data.Count > 0)
        {
            var k = random.Next(t.Int64Data.Count);
            t.Int64Data[k] = Pick(ExtremeIntegers);
            return $"{where} int64_data[{k}] = {t.Int64Data[k]}";
        }

        if (t.FloatData.Count > 0)
        {
            var k = random.Next(t.FloatData.Count);
            t.FloatData[k] = Pick(ExtremeFloats);
            return $"{where} float_data[{k}] = {t.FloatData[k]:R}";
        }

        if (t.Int32Data.Count > 0)
        {
            var k = random.Next(t.Int32Data.Count);
            t.Int32Data[k] = (int)Pick(ExtremeIntegers);
            return $"{where} int32_data[{k}] = {t.Int32Data[k]}";
        }

        return TensorData(target);
    }

    // ---- attributes ----

    private (NodeProto Node, AttributeProto Attribute)? PickAttribute(ModelProto model)
    {
        var attributes = model.Graph.Node.SelectMany(n => n.Attribute.Select(a => (n, a))).ToList();
        return attributes.Count == 0 ? null : Pick(attributes);
    }

    private string? AttributeValue(ModelProto model)
    {
        if (PickAttribute(model) is not { } picked)
        {
            return null;
        }

        var (node, a) = picked;

        var where = $"node '{node.Name}' ({node.OpType}) attribute '{a.Name}'";
        switch (a.Type)
        {
            case AttributeType.Int:
                a.I = Pick(ExtremeIntegers);
                return $"{where} = {a.I}";
            case AttributeType.Float:
                a.F = Pick(ExtremeFloats);
                return $"{where} = {a.F:R}";
            case AttributeType.String:
                if (random.Next(4) == 0)
                {
                    a.S = ByteString.CopyFrom(0xff, 0xfe, 0x00, 0xc3);
                    return $"{where} = invalid UTF-8 bytes";
                }

                var s = Pick(OddStrings);
                a.S = ByteString.CopyFromUtf8(s);
                return $"{where} = \"{Shorten(s)}\"";
            case AttributeType.Ints:
                return $"{where} {MutateList(a.Ints, () => Pick(ExtremeIntegers))}";
            case AttributeType.Floats:
                return $"{where} {MutateList(a.Floats, () => Pick(ExtremeFloats))}";
            case AttributeType.Strings:
                return $"{where} {MutateList(a.Strings, () => ByteString.CopyFromUtf8(Pick(OddStrings)))}";
            case AttributeType.Tensor when a.T is not null:
                var tensor = (a.T, where);
                return random.Next(4) switch { 0 => TensorDims(tensor), 1 => TensorDataType(tensor), 2 => TensorData(tensor), _ => TensorValue(tensor) };
            default:
                a.I = Pick(ExtremeIntegers);
                return $"{where} (type {a.Type}) i = {a.I}";
        }
    }

    private string MutateList<T>(Google.Protobuf.Collections.RepeatedField<T> list, Func<T> extreme)
    {
        var before = list.Count;
        switch (random.Next(4))
        {
            case 0 when list.Count > 0:
                var k = random.Next(list.Count);
                list[k] = extreme();
                return $"[{k}] = {Shorten(list[k]?.ToString() ?? "")}";
            case 1:
                list.Clear();
                return $"emptied ({before} values)";
            case 2:
                list.Insert(random.Next(list.Count + 1), extreme());
                return $"grown to {list.Count} values";
            default:
                var copy = list.ToArray();
                list.AddRange(copy);
                return $"repeated ({before} -> {list.Count} values)";
        }
    }

    private string? AttributeTypeChange(ModelProto model)
    {
        if (PickAttribute(model) is not { } picked)
        {
            return null;
        }

        var (node, a) = picked;

        var before = a.Type;
        a.Type = Pick(AttributeTypes);
        if (random.Next(2) == 0)
        {
            // The value moved to the new type's field too, as a careless converter would write it.
            switch (a.Type)
            {
                case AttributeType.Float: a.F = before == AttributeType.Int ? a.I : 1.5f; break;
                case AttributeType.Int: a.I = before == AttributeType.Float ? (long)a.F : 1; break;
                case AttributeType.String: a.S = ByteString.CopyFromUtf8(a.I.ToString()); break;
                case AttributeType.Ints: a.Ints.Add(a.I); break;
                case AttributeType.Floats: a.Floats.Add(a.F); break;
                case AttributeType.Tensor: a.T ??= new TensorProto { DataType = 1 }; break;
            }

            return $"node '{node.Name}' ({node.OpType}) attribute '{a.Name}' type {before} -> {a.Type}, value converted";
        }

        return $"node '{node.Name}' ({node.OpType}) attribute '{a.Name}' type {before} -> {a.Type}";
    }

    private string? AttributeRemovedOrDuplicated(ModelProto model)
    {
        if (PickAttribute(model) is not { } picked)
        {
            return null;
        }

        var (node, a) = picked;

        var where = $"node '{node.Name}' ({node.OpType}) attribute '{a.Name}'";
        switch (random.Next(4))
        {
            case 0:
                node.Attribute.Remove(a);
                return $"{where} removed";
            case 1:
                node.Attribute.Insert(random.Next(node.Attribute.Count + 1), a.Clone());
                return $"{where} duplicated";
            case 2:
                var changed = a.Clone();
                changed.I = Pick(ExtremeIntegers);
                changed.F = Pick(ExtremeFloats);
                node.Attribute.Add(changed);
                return $"{where} duplicated with i = {changed.I}, f = {changed.F:R}";
            default:
                var (other, foreign) = PickAttribute(model)!.Value;
                var target = Pick(model.Graph.Node);
                target.Attribute.Add(foreign.Clone());
                return $"attribute '{foreign.Name}' of node '{other.Name}' ({other.OpType}) copied to node '{target.Name}' ({target.OpType})";
        }
    }

    // ---- nodes ----

    private string? NodeInputs(ModelProto model)
    {
        var nodes = model.Graph.Node;
        var candidates = Enumerable.Range(0, nodes.Count).Where(i => nodes[i].Input.Count > 0).ToList();
        if (candidates.Count == 0)
        {
            return null;
        }

        var index = Pick(candidates);
        var node = nodes[index];
        var inputs = node.Input;
        var k = random.Next(inputs.Count);
        var where = $"node '{node.Name}' ({node.OpType})";
        switch (random.Next(9))
        {
            case 0 when inputs.Count > 1:
                var j = (k + 1 + random.Next(inputs.Count - 1)) % inputs.Count;
                (inputs[k], inputs[j]) = (inputs[j], inputs[k]);
                return $"{where} inputs {k} and {j} swapped";
            case 7:
                // Optional inputs given as new int64 constants (Slice's axes and steps, Squeeze's axes, a Reshape's
                // shape...), as long as the node's second input where that is a small constant.
                var length = random.Next(3) == 0 ? 1 : ConstantLength(model, inputs.Count > 1 ? inputs[1] : inputs[0]);
                var appended = new List<string>();
                for (var a = 1 + random.Next(2); a > 0; a--)
                {
                    var constant = new TensorProto { Name = $"fuzz_constant_{model.Graph.Initializer.Count}", DataType = 7 };
                    constant.Dims.Add(length);
                    constant.Int64Data.AddRange(Enumerable.Range(0, length).Select(_ => random.Next(3) == 0 ? 1 : Pick(ExtremeIntegers)));
                    model.Graph.Initializer.Add(constant);
                    inputs.Add(constant.Name);
                    appended.Add($"{constant.Name} = {Format(constant.Int64Data)}");
                }

                return $"{where} int64 constant inputs appended: {string.Join(", ", appended)}";
            case 1:
                inputs[k] = Missing;
                return $"{where} input {k} renamed to nonexistent '{Missing}'";
            case 2:
                inputs.RemoveAt(k);
                return $"{where} input {k} removed";
            case 3:
                inputs.Insert(k, inputs[k]);
                return $"{where} input {k} ('{inputs[k]}') duplicated";
            case 4:
                inputs[k] = "";
                return $"{where} input {k} made empty (an omitted optional input)";
            case 5:
                // A descendant's output (or the node's own): the graph gets a cycle.
                var descendants = Descendants(model, index);
                var producer = descendants.Count > 0 ? nodes[Pick(descendants)] : node;
                var outputs = producer.Output.Where(o => o.Length > 0).ToList();
                if (outputs.Count == 0)
                {
                    return null;
                }

                inputs[k] = Pick(outputs);
                return $"{where} input {k} = '{inputs[k]}', output of {(producer == node ? "itself" : $"later node '{producer.Name}'")} (a cycle)";
            case 6 when index + 1 < nodes.Count:
                var later = nodes[index + 1 + random.Next(nodes.Count - index - 1)];
                if (later.Output.Count == 0)
                {
                    return null;
                }

                inputs[k] = Pick(later.Output);
                return $"{where} input {k} = '{inputs[k]}', output of later node '{later.Name}'";
            default:
                var values = AllValueNames(model);
                inputs.Add(Pick(values));
                return $"{where} extra input '{inputs[^1]}' added";
        }
    }

    private string? NodeOutputs(ModelProto model)
    {
        var candidates = model.Graph.Node.Where(n => n.Output.Count > 0).ToList();
        if (candidates.Count == 0)
        {
            return null;
        }

        var node = Pick(candidates);
        var outputs = node.Output;
        var k = random.Next(outputs.Count);
        var where = $"node '{node.Name}' ({node.OpType})";
        switch (random.Next(8))
        {
            case 0 when outputs.Count > 1:
                var j = (k + 1 + random.Next(outputs.Count - 1)) % outputs.Count;
                (outputs[k], outputs[j]) = (outputs[j], outputs[k]);
                return $"{where} outputs {k} and {j} swapped";
            case 1:
                outputs[k] = "fuzz_orphan_output";
                return $"{where} output {k} renamed to 'fuzz_orphan_output' (its consumers dangle)";
            case 2:
                outputs.RemoveAt(k);
                return $"{where} output {k} removed";
            case 3:
                outputs.Add(outputs[k]);
                return $"{where} output {k} ('{outputs[k]}') listed twice";
            case 4:
                outputs[k] = "";
                return $"{where} output {k} made empty";
            case 5:
                var others = model.Graph.Node.Where(n => n != node).SelectMany(n => n.Output).Where(o => o.Length > 0).ToList();
                if (others.Count == 0)
                {
                    return null;
                }

                outputs[k] = Pick(others);
                return $"{where} output {k} = '{outputs[k]}', another node's output (two producers)";
            case 6 when model.Graph.Input.Count > 0:
                outputs[k] = Pick(model.Graph.Input).Name;
                return $"{where} output {k} = graph input '{outputs[k]}'";
            default:
                if (model.Graph.Initializer.Count == 0)
                {
                    return null;
                }

                outputs[k] = Pick(model.Graph.Initializer).Name;
                return $"{where} output {k} = initializer '{outputs[k]}'";
        }
    }

    private string? NodeOpType(ModelProto model)
    {
        if (model.Graph.Node.Count == 0)
        {
            return null;
        }

        var node = Pick(model.Graph.Node);
        var before = $"node '{node.Name}' op_type {node.OpType}";
        switch (random.Next(4))
        {
            case 0:
                var ops = model.Graph.Node.Select(n => n.OpType).Distinct().Where(o => o != node.OpType).ToList();
                if (ops.Count == 0)
                {
                    return null;
                }

                node.OpType = Pick(ops);
                return $"{before} -> {node.OpType} (another op of the graph)";
            case 1:
                node.OpType = Pick(UnknownOps);
                return $"{before} -> '{node.OpType}' (unknown)";
            case 2:
                node.OpType = Pick(OtherOps);
                return $"{before} -> {node.OpType}";
            default:
                node.Domain = Pick(["com.microsoft", "ai.onnx", "fuzz.unknown", "ai.onnx.ml"]);
                return $"{before} domain -> '{node.Domain}'";
        }
    }

    private string? NodeName(ModelProto model)
    {
        var nodes = model.Graph.Node;
        if (nodes.Count == 0)
        {
            return null;
        }

        var node = Pick(nodes);
        var before = node.Name;
        switch (random.Next(4))
        {
            case 0 when nodes.Count > 1:
                node.Name = Pick(nodes.Where(n => n != node).ToList()).Name;
                return $"node '{before}' ({node.OpType}) renamed to '{node.Name}', another node's name";
            case 1:
                node.Name = "";
                return $"node '{before}' ({node.OpType}) name emptied";
            case 2:
                foreach (var n in nodes)
                {
                    n.Name = "";
                }

                return "every node's name emptied";
            default:
                var same = Pick(nodes.Where(n => n.OpType is "LSTM" or "GRU" or "RNN" or "MatMul" or "Gather").DefaultIfEmpty(node).ToList()).Name;
                foreach (var n in nodes.Where(n => random.Next(2) == 0))
                {
                    n.Name = same;
                }

                return $"about half the nodes renamed to '{same}'";
        }
    }

    private string? NodeOrder(ModelProto model)
    {
        var nodes = model.Graph.Node;
        if (nodes.Count < 2)
        {
            return null;
        }

        int i = random.Next(nodes.Count), j = random.Next(nodes.Count);
        switch (random.Next(3))
        {
            case 0:
                (nodes[i], nodes[j]) = (nodes[j], nodes[i]);
                return $"nodes {i} ('{nodes[j].Name}') and {j} ('{nodes[i].Name}') swapped in order";
            case 1:
                var removed = nodes[i];
                nodes.RemoveAt(i);
                return $"node '{removed.Name}' ({removed.OpType}) removed";
            default:
                nodes.Insert(j, nodes[i].Clone());
                return $"node '{nodes[j].Name}' ({nodes[j].OpType}) duplicated at {j}";
        }
    }

    // ---- graph inputs, outputs, initializers, opset ----

    private string? GraphInput(ModelProto model)
    {
        var inputs = model.Graph.Input;
        if (inputs.Count == 0)
        {
            return null;
        }

        var k = random.Next(inputs.Count);
        var input = inputs[k];
        var where = $"graph input '{input.Name}'";
        var tensorType = input.Type?.TensorType;
        var dims = tensorType?.Shape?.Dim;
        switch (random.Next(8))
        {
            case 0 when tensorType is not null:
                var before = tensorType.ElemType;
                tensorType.ElemType = Pick(DataTypes);
                return $"{where} elem_type {before} -> {tensorType.ElemType}";
            case 1 or 2 when dims is { Count: > 0 }:
                var d = random.Next(dims.Count);
                var dim = dims[d];
                if (random.Next(3) == 0)
                {
                    dim.DimParam = Pick(["", "fuzz_symbol", "batch"]);
                    return $"{where} dim {d} = '{dim.DimParam}'";
                }

                dim.DimValue = Pick(ExtremeIntegers);
                return $"{where} dim {d} = {dim.DimValue}";
            case 3 when dims is not null:
                if (dims.Count > 0 && random.Next(2) == 0)
                {
                    dims.RemoveAt(random.Next(dims.Count));
                    return $"{where} one dim removed";
                }

                dims.Add(new TensorShapeProto.Types.Dimension { DimValue = random.Next(2) == 0 ? 1 : Pick(ExtremeIntegers) });
                return $"{where} dim added ({dims[^1].DimValue})";
            case 4 when tensorType is not null:
                tensorType.Shape = random.Next(2) == 0 ? null : new TensorShapeProto();
                return $"{where} shape {(tensorType.Shape is null ? "removed" : "made scalar")}";
            case 5:
                input.Type = random.Next(2) == 0 ? null : new TypeProto { SequenceType = new TypeProto.Types.Sequence { ElemType = input.Type } };
                return $"{where} type {(input.Type is null ? "removed" : "made a sequence")}";
            case 6:
                inputs.RemoveAt(k);
                return $"{where} removed";
            default:
                if (random.Next(2) == 0)
                {
                    inputs.Insert(k, input.Clone());
                    return $"{where} duplicated";
                }

                input.Name = random.Next(2) == 0 ? Missing : "";
                return $"{where} renamed to '{input.Name}'";
        }
    }

    private string? GraphOutput(ModelProto model)
    {
        var outputs = model.Graph.Output;
        var k = random.Next(outputs.Count);
        var output = outputs[k];
        var where = $"graph output '{output.Name}'";
        switch (random.Next(5))
        {
            case 0:
                output.Name = Pick([Missing, ""]);
                return $"{where} renamed to '{output.Name}'";
            case 1 when outputs.Count > 1:
                outputs.RemoveAt(k);
                return $"{where} removed";
            case 2:
                outputs.Add(output.Clone());
                return $"{where} duplicated";
            case 3 when output.Type?.TensorType is { } tensorType:
                tensorType.ElemType = Pick(DataTypes);
                return $"{where} elem_type -> {tensorType.ElemType}";
            default:
                var names = model.Graph.Input.Select(i => i.Name).Concat(model.Graph.Initializer.Select(i => i.Name)).ToList();
                if (names.Count == 0)
                {
                    return null;
                }

                output.Name = Pick(names);
                return $"{where} renamed to '{output.Name}' (a graph input or initializer)";
        }
    }

    private string? Initializer(ModelProto model)
    {
        var initializers = model.Graph.Initializer;
        if (initializers.Count == 0)
        {
            return null;
        }

        var k = random.Next(initializers.Count);
        var initializer = initializers[k];
        var where = $"initializer '{initializer.Name}'";
        switch (random.Next(7))
        {
            case 0:
                initializers.RemoveAt(k);
                return $"{where} removed";
            case 1:
                initializers.Add(initializer.Clone());
                return $"{where} duplicated";
            case 2:
                // A second initializer of the same name with other dims (and so a data length that disagrees).
                var other = initializer.Clone();
                initializers.Add(other);
                return $"{where} duplicated, the copy's {TensorDims((other, "dims"))}";
            case 3:
                initializer.Name = Pick([Missing, ""]);
                return $"{where} renamed to '{initializer.Name}'";
            case 4 when initializers.Count > 1:
                initializer.Name = initializers[(k + 1 + random.Next(initializers.Count - 1)) % initializers.Count].Name;
                return $"{where} renamed to '{initializer.Name}', another initializer's name";
            case 5 when model.Graph.Input.Count > 0:
                initializer.Name = Pick(model.Graph.Input).Name;
                return $"{where} renamed to graph input '{initializer.Name}'";
            default:
                var produced = model.Graph.Node.SelectMany(n => n.Output).Where(o => o.Length > 0).ToList();
                if (produced.Count == 0)
                {
                    return null;
                }

                initializer.Name = Pick(produced);
                return $"{where} renamed to '{initializer.Name}', a node's output";
        }
    }

    private string? Opset(ModelProto model)
    {
        var imports = model.OpsetImport;
        switch (random.Next(5))
        {
            case 0 or 1 when imports.Count > 0:
                var import = Pick(imports);
                var before = import.Version;
                import.Version = Pick([0L, 1, 6, 7, 9, 11, 13, 14, 17, 21, 22, 23, 100, -1, long.MaxValue, long.MinValue]);
                return $"opset '{import.Domain}' version {before} -> {import.Version}";
            case 2 when imports.Count > 0:
                var removed = imports[0];
                imports.RemoveAt(0);
                imports.Add(new OperatorSetIdProto { Domain = "fuzz.unknown", Version = 1 });
                return $"opset '{removed.Domain}' removed (only 'fuzz.unknown' imported instead)";
            case 3:
                imports.Add(new OperatorSetIdProto { Domain = Pick(["", "ai.onnx"]), Version = Pick([1L, 7, 22, 100]) });
                return $"opset '{imports[^1].Domain}' version {imports[^1].Version} imported besides";
            default:
                var ir = model.IrVersion;
                model.IrVersion = Pick([1L, 3, 4, 10, 11, 100, long.MaxValue]);
                return $"ir_version {ir} -> {model.IrVersion}";
        }
    }

    // ---- helpers ----

    private static List<int> Descendants(ModelProto model, int index)
    {
        var nodes = model.Graph.Node;
        var reached = new HashSet<string>(nodes[index].Output.Where(o => o.Length > 0));
        var found = new List<int>();
        for (var changed = true; changed;)
        {
            changed = false;
            for (var i = 0; i < nodes.Count; i++)
            {
                if (i != index && !found.Contains(i) && nodes[i].Input.Any(reached.Contains))
                {
                    found.Add(i);
                    reached.UnionWith(nodes[i].Output.Where(o => o.Length > 0));
                    changed = true;
                }
            }
        }

        found.Sort();
        return found;
    }

    /// <summary>The element count of the initializer or Constant that holds <paramref name="value"/>, if 1–8; else 1.</summary>
    private static int ConstantLength(ModelProto model, string value)
    {
        var tensor = model.Graph.Initializer.FirstOrDefault(t => t.Name == value)
            ?? model.Graph.Node.FirstOrDefault(n => n.OpType == "Constant" && n.Output.Contains(value))?.Attribute.FirstOrDefault(a => a.T is not null)?.T;
        var count = tensor?.Dims.Aggregate(1L, (p, d) => p * d) ?? 1;
        return count is >= 1 and <= 8 ? (int)count : 1;
    }

    private static List<string> AllValueNames(ModelProto model) =>
        [.. model.Graph.Input.Select(i => i.Name), .. model.Graph.Initializer.Select(i => i.Name), .. model.Graph.Node.SelectMany(n => n.Output), Missing];

    private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

    private static string Format(IEnumerable<long> dims) => $"[{string.Join(", ", dims)}]";

    private static string Shorten(string text) => (text.Length > 24 ? text[..24] + $"…({text.Length} chars)" : text).Replace("\0", "\\0").Replace("\n", "\\n");
}
