using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>Pieces of the small hand-built graphs the tests compress: [batch, features] float values, and the model (opset 14).</summary>
internal static class BatchGraphs
{
    /// <summary>A float graph value of shape [batch, <paramref name="features"/>], batch symbolic.</summary>
    public static ValueInfoProto Value(string name, int features)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = features });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorElementType.Float, Shape = shape } },
        };
    }

    /// <summary>The graph as a model importing opset 14, named after the graph.</summary>
    public static OnnxModel ToModel(GraphProto graph)
    {
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 14 });
        return OnnxModel.Parse(model.ToByteArray(), $"{graph.Name}.onnx");
    }
}
