using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Weights in Constant nodes inside a branch become main-graph initializers; a branch that reads a main-graph
/// initializer directly keeps reading it under its own name (no copy); the hoisted model computes what the original does.
/// </summary>
public sealed class WeightHoistingTests
{
    [Fact]
    public void ABranchConstantIsHoistedAndAMainInitializerReadInABranchIsNotCopied()
    {
        var w = new Tensor<float>([4, 3], Enumerable.Range(0, 12).Select(i => i / 10f).ToArray());
        var other = new Tensor<float>([4, 3], Enumerable.Range(0, 12).Select(i => 1 - i / 7f).ToArray());
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
        var model = OnnxModel.Parse(proto.ToByteArray(), "branches.onnx");

        var hoisted = WeightHoisting.Hoist(model, NativeEngine.Instance);
        Assert.Equal(["w", "else_matmul.B"], hoisted.Graph.InitializerNames.Order(StringComparer.Ordinal).Reverse().ToArray());
        var weights = WeightFinder.FindWeights(hoisted);
        Assert.Equal(3, weights.Count);
        Assert.Equal(2, weights.Count(x => x.Initializer == "w"));
        Assert.Equal("choose.else_branch", weights.Single(x => x.Initializer == "else_matmul.B").GraphPath);

        var x = new Tensor<float>([2, 4], [1, -2, 3, 0.5f, -1, 0, 2, 1]);
        foreach (var condition in new[] { true, false })
        {
            var before = new NativeModel(model).Run(x, Tensor<bool>.Scalar(condition));
            var after = new NativeModel(hoisted).Run(x, Tensor<bool>.Scalar(condition));
            Assert.All(before.Zip(after), p => Assert.True(TensorComparer.AreClose(p.Second, p.First)));
        }
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
