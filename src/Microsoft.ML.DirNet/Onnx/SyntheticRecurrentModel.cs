using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Onnx;

/// <summary>The recurrent cell of a synthetic model.</summary>
public enum RecurrentCellType
{
    /// <summary>ONNX LSTM.</summary>
    Lstm,
    /// <summary>ONNX GRU (linear_before_reset = 1, as PyTorch exports).</summary>
    Gru,
    /// <summary>ONNX RNN (tanh).</summary>
    Rnn,
}

/// <summary>
/// Builds stacked recurrent ONNX models with seeded random weights, shaped like PyTorch exports (X [seq, batch, input]
/// → LSTM/GRU/RNN → Squeeze → next layer). For benchmarks and tests that need sizes no committed fixture has; random
/// weights have no structure, so they say nothing about compression quality.
/// </summary>
public static class SyntheticRecurrentModel
{
    /// <summary>Creates the model.</summary>
    /// <param name="cell">LSTM, GRU or RNN.</param>
    /// <param name="layers">Stacked layers (≥ 1).</param>
    /// <param name="inputSize">Features of the input X.</param>
    /// <param name="hiddenSize">Hidden units of every layer.</param>
    /// <param name="seed">Seed of the weight generator.</param>
    public static OnnxModel Create(RecurrentCellType cell, int layers, int inputSize, int hiddenSize, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        var gates = cell switch { RecurrentCellType.Lstm => 4, RecurrentCellType.Gru => 3, _ => 1 };
        var random = new Random(seed);
        var scale = 1f / MathF.Sqrt(hiddenSize);
        Tensor<float> Uniform(params int[] shape)
        {
            var t = new Tensor<float>(shape);
            for (var i = 0; i < t.Length; i++) t.Data[i] = (float)(random.NextDouble() * 2 - 1) * scale;
            return t;
        }

        var graph = new GraphProto { Name = $"{cell.ToString().ToLowerInvariant()}_{layers}x{hiddenSize}" };
        graph.Input.Add(ValueInfo("X", "seq", "batch", inputSize));
        graph.Initializer.Add(TensorProtoConverter.ToProto("squeeze_axes", new Tensor<long>([1], [1])));
        var x = "X";
        for (var l = 0; l < layers; l++)
        {
            var width = l == 0 ? inputSize : hiddenSize;
            graph.Initializer.Add(TensorProtoConverter.ToProto($"W{l}", Uniform(1, gates * hiddenSize, width)));
            graph.Initializer.Add(TensorProtoConverter.ToProto($"R{l}", Uniform(1, gates * hiddenSize, hiddenSize)));
            graph.Initializer.Add(TensorProtoConverter.ToProto($"B{l}", Uniform(1, 2 * gates * hiddenSize)));
            var node = new NodeProto { Name = $"{cell}_{l}", OpType = cell.ToString().ToUpperInvariant() };
            node.Input.Add([x, $"W{l}", $"R{l}", $"B{l}"]);
            node.Output.Add($"Y{l}");
            node.Attribute.Add(new AttributeProto { Name = "hidden_size", Type = AttributeProto.Types.AttributeType.Int, I = hiddenSize });
            if (cell == RecurrentCellType.Gru)
            {
                node.Attribute.Add(new AttributeProto { Name = "linear_before_reset", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
            }

            graph.Node.Add(node);
            var squeeze = new NodeProto { Name = $"Squeeze_{l}", OpType = "Squeeze" };
            x = l == layers - 1 ? "output" : $"H{l}";
            squeeze.Input.Add([$"Y{l}", "squeeze_axes"]);
            squeeze.Output.Add(x);
            graph.Node.Add(squeeze);
        }

        graph.Output.Add(ValueInfo("output", "seq", "batch", hiddenSize));
        var model = new ModelProto { IrVersion = 8, ProducerName = "Microsoft.ML.DirNet.SyntheticRecurrentModel", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 14 });
        return OnnxModel.Parse(model.ToByteArray(), $"synthetic {graph.Name}");
    }

    private static ValueInfoProto ValueInfo(string name, string seq, string batch, int features)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = seq });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = batch });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = features });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorElementType.Float, Shape = shape } },
        };
    }
}
