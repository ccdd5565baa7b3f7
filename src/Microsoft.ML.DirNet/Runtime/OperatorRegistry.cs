using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime.Kernels;
using Microsoft.ML.DirNet.Runtime.Kernels.Recurrent;

namespace Microsoft.ML.DirNet.Runtime;

/// <summary>
/// The operators the native engine declares, each with the factory that builds its kernel from a node. Only the
/// default ONNX domain is supported. The list covers what PyTorch 1.13 exports (opsets 13-17) for recurrent models:
/// the cells, embeddings, linear layers, (log-)softmax, inference dropout and the shape arithmetic of dynamic axes.
/// </summary>
internal static class OperatorRegistry
{
    private static readonly Dictionary<string, Func<OnnxNode, long, IKernel>> Factories = new(StringComparer.Ordinal)
    {
        ["LSTM"] = (n, _) => new LstmKernel(n),
        ["GRU"] = (n, _) => new GruKernel(n),
        ["RNN"] = (n, _) => new RnnKernel(n),
        ["MatMul"] = (_, _) => new MatMulKernel(),
        ["Gemm"] = (n, _) => new GemmKernel(n),
        ["Gather"] = (n, _) => new GatherKernel(n),
        ["Add"] = (_, _) => new BinaryArithmeticKernel(ArithmeticOperator.Add),
        ["Sub"] = (_, _) => new BinaryArithmeticKernel(ArithmeticOperator.Sub),
        ["Mul"] = (_, _) => new BinaryArithmeticKernel(ArithmeticOperator.Mul),
        ["Div"] = (_, _) => new BinaryArithmeticKernel(ArithmeticOperator.Div),
        ["Equal"] = (_, _) => new EqualKernel(),
        ["Where"] = (_, _) => new WhereKernel(),
        ["Relu"] = (_, _) => new UnaryFloatKernel(UnaryFunction.Relu),
        ["Tanh"] = (_, _) => new UnaryFloatKernel(UnaryFunction.Tanh),
        ["Sigmoid"] = (_, _) => new UnaryFloatKernel(UnaryFunction.Sigmoid),
        ["Exp"] = (_, _) => new UnaryFloatKernel(UnaryFunction.Exp),
        ["Log"] = (_, _) => new UnaryFloatKernel(UnaryFunction.Log),
        ["Neg"] = (_, _) => new UnaryFloatKernel(UnaryFunction.Neg),
        ["Sqrt"] = (_, _) => new UnaryFloatKernel(UnaryFunction.Sqrt),
        ["Softmax"] = (n, opset) => new SoftmaxKernel(n, opset, log: false),
        ["LogSoftmax"] = (n, opset) => new SoftmaxKernel(n, opset, log: true),
        ["Shape"] = (n, _) => new ShapeKernel(n),
        ["Reshape"] = (n, _) => new ReshapeKernel(n),
        ["Squeeze"] = (n, opset) => new SqueezeKernel(n, opset, unsqueeze: false),
        ["Unsqueeze"] = (n, opset) => new SqueezeKernel(n, opset, unsqueeze: true),
        ["Flatten"] = (n, _) => new FlattenKernel(n),
        ["Concat"] = (n, _) => new ConcatKernel(n),
        ["Slice"] = (n, opset) => new SliceKernel(n, opset),
        ["Transpose"] = (n, _) => new TransposeKernel(n),
        ["Expand"] = (_, _) => new ExpandKernel(),
        ["Cast"] = (n, _) => new CastKernel(n),
        ["Constant"] = (n, _) => new ConstantKernel(n),
        ["ConstantOfShape"] = (n, _) => new ConstantOfShapeKernel(n),
        ["Identity"] = (_, _) => new PassThroughKernel(isDropout: false),
        ["Dropout"] = (_, _) => new PassThroughKernel(isDropout: true),
    };

    /// <summary>The declared operator types, sorted.</summary>
    public static IReadOnlyList<string> SupportedOperators { get; } = Factories.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>True when the engine runs this node's operator (default ONNX domain only).</summary>
    public static bool IsSupported(OnnxNode node) =>
        node.Domain is "" or "ai.onnx" && Factories.ContainsKey(node.OpType);

    /// <summary>Builds the kernel for a node; the caller has checked <see cref="IsSupported"/>.</summary>
    public static IKernel Create(OnnxNode node, long opset) => Factories[node.OpType](node, opset);
}
