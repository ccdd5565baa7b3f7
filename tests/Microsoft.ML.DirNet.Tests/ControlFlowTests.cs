using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// If, Loop and Scan beyond the conformance cases: subgraphs nested two deep reading values from both enclosing graphs
/// (and initializers and Constant nodes of their own), checked against ONNX Runtime; and the engine's error for an
/// operator it lacks inside a subgraph names that operator.
/// </summary>
public sealed class ControlFlowTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void NestedSubgraphsReadingOuterValuesMatchOnnxRuntime(bool condition)
    {
        var model = NestedModel();
        var random = new Random(7);
        var x = new Tensor<float>([4, 3], Enumerable.Range(0, 12).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray());
        Tensor[] inputs = [x, Tensor<bool>.Scalar(condition), Tensor<long>.Scalar(3)];
        var native = new NativeModel(model).Run(inputs);
        using var ort = new OnnxRuntimeModel(model, optimize: false);
        var reference = ort.Run(inputs);
        Assert.Equal(reference.Length, native.Length);
        for (var k = 0; k < reference.Length; k++)
        {
            Assert.True(TensorComparer.AreClose(native[k], reference[k]),
                $"output {k}: native {native[k]} vs ONNX Runtime {reference[k]}");
        }
    }

    /// <summary>
    /// What a subgraph computes from constants alone, its own or those of an enclosing graph (a main-graph initializer
    /// read two branches down), is computed once at load, not on every run: a run executes only the nodes that depend
    /// on its inputs, and gives ONNX Runtime's result.
    /// </summary>
    [Fact]
    public void ValuesComputedFromOuterConstantsInsideSubgraphsAreFoldedAtLoad()
    {
        var innerThen = Graph("inner_then", [], ["inner"], Node("Neg", ["w2"], ["negated"]), Node("Add", ["x", "negated"], ["inner"]));
        var innerElse = Graph("inner_else", [], ["inner"], Node("Identity", ["x"], ["inner"]));
        var thenBranch = Graph("then_branch", [], ["out"], Constant("two", Tensor<float>.Scalar(2)), Node("Mul", ["w", "two"], ["w2"]),
            IfNode("c", ["inner_out"], innerThen, innerElse), Node("Identity", ["inner_out"], ["out"]));
        var elseBranch = Graph("else_branch", [], ["out"], Node("Identity", ["w"], ["out"]));
        var main = Graph("main", [Value("x", TensorElementType.Float), Value("c", TensorElementType.Bool)], ["out"], IfNode("c", ["out"], thenBranch, elseBranch));
        main.Initializer.Add(TensorProtoConverter.ToProto("w", new Tensor<float>([4, 3], Enumerable.Range(0, 12).Select(i => i / 4f).ToArray())));
        var model = ToModel(main);

        var observer = new RanNodes();
        var engine = new NativeModel(model) { Observer = observer };
        var x = new Tensor<float>([4, 3], Enumerable.Range(0, 12).Select(i => 1 - i / 6f).ToArray());
        Tensor[] inputs = [x, Tensor<bool>.Scalar(true)];
        var native = engine.Run(inputs);
        Assert.Equal(["Add_inner", "Identity_out", "If_inner_out", "If_out"], observer.Names.Order(StringComparer.Ordinal));
        using var ort = new OnnxRuntimeModel(model, optimize: false);
        Assert.True(TensorComparer.AreClose(native[0], ort.Run(inputs)[0]));
    }

    private sealed class RanNodes : INodeObserver
    {
        public List<string> Names { get; } = [];

        public bool Observes(OnnxNode node) => true;

        public void Ran(OnnxNode node, ReadOnlySpan<Tensor?> inputs, ReadOnlySpan<Tensor?> outputs) => Names.Add(node.Name);
    }

    [Fact]
    public void AnUnsupportedOperatorInsideABranchIsNamed()
    {
        var branch = Graph("then_branch", [], ["y"], Node("Det", ["m"], ["y"]), Constant("m", new Tensor<float>([2, 2], [1, 2, 3, 4])));
        var other = Graph("else_branch", [], ["y"], Constant("y", Tensor<float>.Scalar(0)));
        var main = Graph("main", [Value("c", TensorElementType.Bool)], ["out"], IfNode("c", ["out"], branch, other));
        var model = ToModel(main);
        var error = Assert.Throws<UnsupportedOperatorException>(() => new NativeModel(model));
        Assert.Contains("Det", error.Operators.Keys);
        Assert.Contains("Det", error.Message);
    }

    /// <summary>
    /// out0 = If(c): then → Loop(n) over acc (init zeros[3]): acc += x[i mod 4] · scale (an initializer of the body) and,
    /// inside, If(i even) adds x's column sums (x read two graphs up) else subtracts one (a Constant of the branch);
    /// else → Scan over x's rows: running sum plus the outer n cast to float, scanning out each running sum.
    /// out1 = the Loop's scan output (acc per iteration) or the Scan's.
    /// </summary>
    private static OnnxModel NestedModel()
    {
        var innerThen = Graph("inner_then", [], ["delta"], Constant("zero_axis", new Tensor<long>([1], [0])),
            Node("ReduceSum", ["x", "zero_axis"], ["delta"], Int("keepdims", 0)));
        var innerElse = Graph("inner_else", [], ["delta"], Constant("delta", new Tensor<float>([3], [-1, -1, -1])));
        var body = Graph("body", [Value("i", TensorElementType.Int64), Value("cond_in", TensorElementType.Bool), Value("acc", TensorElementType.Float)],
            ["cond_out", "acc_out", "acc_scan"],
            Constant("four", Tensor<long>.Scalar(4)), Constant("two", Tensor<long>.Scalar(2)), Constant("zero", Tensor<long>.Scalar(0)),
            Node("Identity", ["cond_in"], ["cond_out"]),
            Node("Mod", ["i", "four"], ["row"]),
            Node("Gather", ["x", "row"], ["picked"], Int("axis", 0)),
            Node("Mul", ["picked", "scale"], ["scaled"]),
            Node("Mod", ["i", "two"], ["parity"]),
            Node("Equal", ["parity", "zero"], ["even"]),
            IfNode("even", ["delta"], innerThen, innerElse),
            Node("Add", ["acc", "scaled"], ["partial"]),
            Node("Add", ["partial", "delta"], ["acc_out"]),
            Node("Identity", ["acc_out"], ["acc_scan"]));
        body.Initializer.Add(TensorProtoConverter.ToProto("scale", Tensor<float>.Scalar(0.5f)));
        var thenBranch = Graph("then_branch", [], ["final", "per_step"], Constant("zeros", new Tensor<float>([3], [0, 0, 0])),
            Node("Loop", ["n", "", "zeros"], ["final", "per_step"], GraphAttribute("body", body)));
        var scanBody = Graph("scan_body", [Value("sum_in", TensorElementType.Float), Value("row_in", TensorElementType.Float)], ["sum_out", "sum_scan"],
            Node("Cast", ["n"], ["n_float"], Int("to", (long)TensorElementType.Float)),
            Node("Add", ["sum_in", "row_in"], ["plain"]),
            Node("Add", ["plain", "n_float"], ["sum_out"]),
            Node("Identity", ["sum_out"], ["sum_scan"]));
        var elseBranch = Graph("else_branch", [], ["final", "per_step"], Constant("zeros", new Tensor<float>([3], [0, 0, 0])),
            Node("Scan", ["zeros", "x"], ["final", "per_step"], GraphAttribute("body", scanBody), Int("num_scan_inputs", 1)));
        var main = Graph("main", [Value("x", TensorElementType.Float), Value("c", TensorElementType.Bool), Value("n", TensorElementType.Int64)],
            ["out0", "out1"], IfNode("c", ["out0", "out1"], thenBranch, elseBranch));
        return ToModel(main);
    }

    private static OnnxModel ToModel(GraphProto graph)
    {
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 14 });
        return OnnxModel.Parse(model.ToByteArray(), "control_flow.onnx");
    }

    private static GraphProto Graph(string name, ValueInfoProto[] inputs, string[] outputs, params NodeProto[] nodes)
    {
        var graph = new GraphProto { Name = name };
        graph.Input.Add(inputs);
        graph.Output.Add(outputs.Select(o => Value(o, o == "cond_out" ? TensorElementType.Bool : TensorElementType.Float)));
        graph.Node.Add(nodes);
        return graph;
    }

    /// <summary>The subgraphs' values of fixed shape (ONNX Runtime needs the shapes of Loop and Scan bodies' values): scalars and rows of 3.</summary>
    private static readonly Dictionary<string, int[]> BodyShapes = new()
    {
        ["i"] = [], ["cond_in"] = [], ["cond_out"] = [], ["acc"] = [3], ["acc_out"] = [3], ["acc_scan"] = [3],
        ["sum_in"] = [3], ["row_in"] = [3], ["sum_out"] = [3], ["sum_scan"] = [3], ["delta"] = [3],
    };

    private static ValueInfoProto Value(string name, TensorElementType type)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type };
        if (BodyShapes.TryGetValue(name, out var dims))
        {
            tensor.Shape = new TensorShapeProto();
            tensor.Shape.Dim.Add(dims.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    private static NodeProto Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = $"{op}_{string.Join("_", outputs)}" };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        node.Attribute.Add(attributes);
        return node;
    }

    private static NodeProto IfNode(string condition, string[] outputs, GraphProto thenBranch, GraphProto elseBranch) =>
        Node("If", [condition], outputs, GraphAttribute("then_branch", thenBranch), GraphAttribute("else_branch", elseBranch));

    private static NodeProto Constant(string output, Tensor value) =>
        Node("Constant", [], [output], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = TensorProtoConverter.ToProto("", value) });

    private static AttributeProto GraphAttribute(string name, GraphProto graph) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Graph, G = graph };

    private static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
}
