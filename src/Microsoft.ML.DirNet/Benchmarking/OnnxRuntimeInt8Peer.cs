using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Benchmarking;

/// <summary>
/// The model as a user would quantize it for ONNX Runtime instead of compressing it here: int8 weights run by ONNX
/// Runtime's own contrib operators, which quantize the activations on each call (as its <c>quantize_dynamic</c> tool
/// writes them with per-channel weights). Every LSTM whose W and R are main-graph initializers becomes com.microsoft
/// DynamicQuantizeLSTM, W and R transposed to [directions, input, 4·hidden] int8; every MatMul whose B is a 2-D
/// main-graph initializer becomes com.microsoft DynamicQuantizeMatMul with B int8. Weights are quantized
/// symmetrically (zero points 0) with one scale per output (each gate row of each direction, each column of B), the
/// most accurate form these operators take. The peer exists to be timed and compared against; the native engine does
/// not run these operators.
/// </summary>
internal static class OnnxRuntimeInt8Peer
{
    /// <summary>The name <c>dirnet bench --peer</c> takes.</summary>
    public const string Name = "ort-int8";

    private const string Domain = "com.microsoft";

    /// <summary>
    /// The peer of <paramref name="model"/> (which is not modified) and how many LSTM and MatMul nodes it quantizes.
    /// </summary>
    /// <exception cref="DirNetException">The model has no LSTM or MatMul node with its weights in initializers.</exception>
    public static (OnnxModel Model, int Lstms, int MatMuls) Write(OnnxModel model)
    {
        var proto = model.Proto.Clone();
        var graph = proto.Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var graphInputs = graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        TensorProto? Weight(NodeProto node, int index, int rank) =>
            index < node.Input.Count && initializers.TryGetValue(node.Input[index], out var t) && !graphInputs.Contains(t.Name)
                && t.DataType == (int)TensorElementType.Float && t.Dims.Count == rank ? t : null;

        var (lstms, matMuls) = (0, 0);
        var added = new List<TensorProto>();
        foreach (var node in graph.Node.Where(n => n.Domain is "" or "ai.onnx"))
        {
            var prefix = string.IsNullOrEmpty(node.Name) ? $"{node.OpType}_{graph.Node.IndexOf(node)}" : node.Name;
            // DynamicQuantizeLSTM has no layout attribute: a batch-first LSTM stays float.
            if (node.OpType == "LSTM" && Weight(node, 1, 3) is { } w && Weight(node, 2, 3) is { } r && node.Attribute.All(a => a.Name != "layout" || a.I == 0))
            {
                var inputs = Enumerable.Range(0, 8).Select(i => i < node.Input.Count ? node.Input[i] : "").ToArray();
                inputs[1] = Add(added, QuantizeGateRows(w, $"{prefix}.W_int8"), out var wScale, out var wZero);
                inputs[2] = Add(added, QuantizeGateRows(r, $"{prefix}.R_int8"), out var rScale, out var rZero);
                node.Input.Clear();
                node.Input.AddRange(inputs.Concat([wScale, wZero, rScale, rZero]));
                (node.OpType, node.Domain) = ("DynamicQuantizeLSTM", Domain);
                lstms++;
            }
            else if (node.OpType == "MatMul" && Weight(node, 1, 2) is { } b)
            {
                node.Input[1] = Add(added, QuantizeColumns(b, $"{prefix}.B_int8"), out var scale, out var zero);
                node.Input.AddRange([scale, zero]);
                (node.OpType, node.Domain) = ("DynamicQuantizeMatMul", Domain);
                matMuls++;
            }
        }

        if (lstms + matMuls == 0)
        {
            throw new DirNetException(
                $"'{model.SourceName}' has no LSTM or MatMul node whose weights are main-graph initializers, which ONNX Runtime's int8 operators (DynamicQuantizeLSTM, DynamicQuantizeMatMul) would take.");
        }

        graph.Initializer.AddRange(added);
        // The float weights nothing reads any more (a subgraph may still read one from the outer scope: it stays).
        var read = new HashSet<string>(StringComparer.Ordinal);
        void Reads(GraphProto g)
        {
            foreach (var n in g.Node)
            {
                read.UnionWith(n.Input);
                foreach (var attribute in n.Attribute.Where(a => a.G is not null)) Reads(attribute.G);
            }
        }

        Reads(graph);
        var unread = graph.Initializer.Where(t => initializers.ContainsKey(t.Name) && !read.Contains(t.Name) && !graphInputs.Contains(t.Name)).ToList();
        foreach (var tensor in unread)
        {
            graph.Initializer.Remove(tensor);
        }

        if (proto.OpsetImport.All(o => o.Domain != Domain))
        {
            proto.OpsetImport.Add(new OperatorSetIdProto { Domain = Domain, Version = 1 });
        }

        return (OnnxModel.FromProto(proto, model.SourceName), lstms, matMuls);
    }

    /// <summary>Adds the quantized weight, its scales and its zero points; returns the weight's name.</summary>
    private static string Add(List<TensorProto> added, (TensorProto Values, TensorProto Scales, TensorProto Zeros) quantized, out string scales, out string zeros)
    {
        added.AddRange([quantized.Values, quantized.Scales, quantized.Zeros]);
        (scales, zeros) = (quantized.Scales.Name, quantized.Zeros.Name);
        return quantized.Values.Name;
    }

    /// <summary>
    /// ONNX W or R [directions, 4·hidden, columns] as int8 [directions, columns, 4·hidden] with one scale per direction
    /// and gate row ([directions, 4·hidden]).
    /// </summary>
    private static (TensorProto, TensorProto, TensorProto) QuantizeGateRows(TensorProto weight, string name)
    {
        var values = TensorProtoConverter.ToTensor(weight).As<float>().Data;
        var (directions, rows, columns) = ((int)weight.Dims[0], (int)weight.Dims[1], (int)weight.Dims[2]);
        var levels = new sbyte[values.Length];
        var scales = new float[directions * rows];
        for (var d = 0; d < directions; d++)
        {
            for (var row = 0; row < rows; row++)
            {
                var source = values.AsSpan((d * rows + row) * columns, columns);
                var scale = scales[d * rows + row] = SymmetricInt8.Step(source);
                for (var c = 0; c < columns; c++)
                {
                    levels[(d * columns + c) * rows + row] = (sbyte)SymmetricInt8.Level(source[c], scale);
                }
            }
        }

        return (TensorProtoConverter.ToProto(name, new Tensor<sbyte>([directions, columns, rows], levels)),
            TensorProtoConverter.ToProto(name + "_scale", new Tensor<float>([directions, rows], scales)),
            TensorProtoConverter.ToProto(name + "_zero_point", new Tensor<sbyte>([directions, rows])));
    }

    /// <summary>MatMul's B [inner, columns] as int8 with one scale per column.</summary>
    private static (TensorProto, TensorProto, TensorProto) QuantizeColumns(TensorProto weight, string name)
    {
        var values = TensorProtoConverter.ToTensor(weight).As<float>().Data;
        var (inner, columns) = ((int)weight.Dims[0], (int)weight.Dims[1]);
        var levels = new sbyte[values.Length];
        var scales = new float[columns];
        var column = new float[inner];
        for (var c = 0; c < columns; c++)
        {
            for (var k = 0; k < inner; k++)
            {
                column[k] = values[k * columns + c];
            }

            var scale = scales[c] = SymmetricInt8.Step(column);
            for (var k = 0; k < inner; k++)
            {
                levels[k * columns + c] = (sbyte)SymmetricInt8.Level(column[k], scale);
            }
        }

        return (TensorProtoConverter.ToProto(name, new Tensor<sbyte>([inner, columns], levels)),
            TensorProtoConverter.ToProto(name + "_scale", new Tensor<float>([columns], scales)),
            TensorProtoConverter.ToProto(name + "_zero_point", new Tensor<sbyte>([columns])));
    }
}
