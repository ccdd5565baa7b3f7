using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>A model of one node (opset 14 unless given): its graph inputs typed as given, its outputs float.</summary>
internal static class SingleNodeModel
{
    public static OnnxModel Build(NodeProto node, IEnumerable<(string Name, TensorElementType Type)> inputs, IEnumerable<string> outputs, long opset = 14)
    {
        var graph = new GraphProto { Name = "single_node" };
        graph.Node.Add(node);
        foreach (var (name, type) in inputs)
        {
            graph.Input.Add(ValueInfo(name, type));
        }

        foreach (var name in outputs)
        {
            graph.Output.Add(ValueInfo(name, TensorElementType.Float));
        }

        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return OnnxModel.Parse(model.ToByteArray(), "single_node.onnx");
    }

    private static ValueInfoProto ValueInfo(string name, TensorElementType type) =>
        new() { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type } } };
}
