using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime.Kernels;
using Microsoft.ML.DirNet.Runtime.Kernels.Recurrent;
using Microsoft.ML.DirNet.Runtime.Operators;

namespace Microsoft.ML.DirNet.Runtime;

/// <summary>
/// The operators the native engine declares, each with the factory that builds its kernel from a node. Only the
/// default ONNX domain is supported. The list covers what PyTorch 1.13 exports (opsets 13-17) for recurrent models:
/// the cells, embeddings, linear layers, (log-)softmax, inference dropout and the shape arithmetic of dynamic axes.
/// </summary>
internal static class OperatorRegistry
{
    private static readonly Dictionary<string, Func<OnnxNode, long, BoundWeights, IKernel>> Factories = new(StringComparer.Ordinal)
    {
        ["LSTM"] = (n, _, b) => new LstmKernel(n, b),
        ["GRU"] = (n, _, b) => new GruKernel(n, b),
        ["RNN"] = (n, _, b) => new RnnKernel(n, b),
        ["MatMul"] = (_, _, b) => new MatMulKernel(b.For(1)?[0]),
        ["Gemm"] = (n, _, b) => new GemmKernel(n, b.For(1)?[0]),
        ["Gather"] = (n, _, b) => new GatherKernel(n, b.For(0)?[0]),
        ["Add"] = (_, _, _) => new BinaryArithmeticKernel(ArithmeticOperator.Add),
        ["Sub"] = (_, _, _) => new BinaryArithmeticKernel(ArithmeticOperator.Sub),
        ["Mul"] = (_, _, _) => new BinaryArithmeticKernel(ArithmeticOperator.Mul),
        ["Div"] = (_, _, _) => new BinaryArithmeticKernel(ArithmeticOperator.Div),
        ["Equal"] = (_, _, _) => new EqualKernel(),
        ["Where"] = (_, _, _) => new WhereKernel(),
        ["Relu"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Relu),
        ["Tanh"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Tanh),
        ["Sigmoid"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Sigmoid),
        ["Exp"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Exp),
        ["Log"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Log),
        ["Neg"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Neg),
        ["Sqrt"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Sqrt),
        ["Softmax"] = (n, opset, _) => new SoftmaxKernel(n, opset, log: false),
        ["LogSoftmax"] = (n, opset, _) => new SoftmaxKernel(n, opset, log: true),
        ["Shape"] = (n, _, _) => new ShapeKernel(n),
        ["Reshape"] = (n, _, _) => new ReshapeKernel(n),
        ["Squeeze"] = (n, opset, _) => new SqueezeKernel(n, opset, unsqueeze: false),
        ["Unsqueeze"] = (n, opset, _) => new SqueezeKernel(n, opset, unsqueeze: true),
        ["Flatten"] = (n, _, _) => new FlattenKernel(n),
        ["Concat"] = (n, _, _) => new ConcatKernel(n),
        ["Slice"] = (n, opset, _) => new SliceKernel(n, opset),
        ["Transpose"] = (n, _, _) => new TransposeKernel(n),
        ["Expand"] = (_, _, _) => new ExpandKernel(),
        ["Cast"] = (n, _, _) => new CastKernel(n),
        ["Constant"] = (n, _, _) => new ConstantKernel(n),
        ["ConstantOfShape"] = (n, _, _) => new ConstantOfShapeKernel(n),
        ["Identity"] = (_, _, _) => new PassThroughKernel(isDropout: false),
        ["Dropout"] = (_, _, _) => new PassThroughKernel(isDropout: true),
    };

    /// <summary>The declared operator types, sorted.</summary>
    public static IReadOnlyList<string> SupportedOperators { get; } = Factories.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>True when the engine runs this node's operator (default ONNX domain only).</summary>
    public static bool IsSupported(OnnxNode node) =>
        node.Domain is "" or "ai.onnx" && Factories.ContainsKey(node.OpType);

    /// <summary>
    /// The operators whose weight input can be a <see cref="Compression.CompressedMatrix"/> (a compressed ONNX's factors), with that
    /// input's index: the recurrent cells' W (1) and R (2), MatMul's and Gemm's B (1), Gather's table (0).
    /// </summary>
    public static bool TakesOperator(OnnxNode node, int inputIndex) => node.OpType switch
    {
        "LSTM" or "GRU" or "RNN" => inputIndex is 1 or 2,
        "MatMul" or "Gemm" => inputIndex == 1,
        "Gather" => inputIndex == 0 && node.GetInt("axis", 0) == 0,
        _ => false,
    };

    /// <summary>Builds the kernel for a node; the caller has checked <see cref="IsSupported"/>.</summary>
    public static IKernel Create(OnnxNode node, long opset, BoundWeights bound) => Factories[node.OpType](node, opset, bound);
}
