using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>A small model with weights inside and outside an If, for the tests of hoisting and calibration.</summary>
internal static class BranchModel
{
    /// <summary>
    /// Inputs X [n, 4] and cond; outputs direct = X·w (main graph) and chosen = X·w (then branch, reading the main
    /// graph's initializer w) or X·c (else branch, c a Constant node there holding <paramref name="other"/>).
    /// </summary>
    public static OnnxModel MatMulsInsideAndOutsideAnIf(Tensor w, Tensor other)
    {
        var thenBranch = Graph("then_branch", Node("MatMul", ["X", "w"], ["y"], "then_matmul"));
        var elseBranch = Graph("else_branch", Constant("c", other), Node("MatMul", ["X", "c"], ["y"], "else_matmul"));
        var main = new GraphProto { Name = "main" };
        main.Input.Add(Value("X", TensorElementType.Float));
        main.Input.Add(Value("cond", TensorElementType.Bool));
        main.Initializer.Add(TensorProtoConverter.ToProto("w", w));
        main.Node.Add(Node("MatMul", ["X", "w"], ["direct"], "main_matmul"));
        var branch = Node("If", ["cond"], ["chosen"], "choose");
        branch.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = thenBranch });
        branch.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = elseBranch });
        main.Node.Add(branch);
        main.Output.Add(Value("direct", TensorElementType.Float));
        main.Output.Add(Value("chosen", TensorElementType.Float));
        var proto = new ModelProto { IrVersion = 8, Graph = main };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 14 });
        return OnnxModel.Parse(proto.ToByteArray(), "branches.onnx");
    }

    private static GraphProto Graph(string name, params NodeProto[] nodes)
    {
        var graph = new GraphProto { Name = name };
        graph.Node.Add(nodes);
        graph.Output.Add(Value("y", TensorElementType.Float));
        return graph;
    }

    private static NodeProto Node(string op, string[] inputs, string[] outputs, string name)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        return node;
    }

    private static NodeProto Constant(string output, Tensor value)
    {
        var node = Node("Constant", [], [output], $"const_{output}");
        node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = TensorProtoConverter.ToProto("", value) });
        return node;
    }

    private static ValueInfoProto Value(string name, TensorElementType type) =>
        new() { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type } } };
}
