using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime.Kernels;
using Microsoft.ML.DirNet.Runtime.Kernels.ControlFlow;
using Microsoft.ML.DirNet.Runtime.Kernels.Recurrent;
using Microsoft.ML.DirNet.Runtime.Kernels.Spatial;
using Microsoft.ML.DirNet.Runtime.Operators;

namespace Microsoft.ML.DirNet.Runtime;

/// <summary>
/// The operators the native engine declares, each with the factory that builds its kernel from a node. Only the
/// default ONNX domain is supported. The list covers what PyTorch 1.13 exports (opsets 13-17) for recurrent models:
/// the cells, embeddings, linear layers, (log-)softmax, inference dropout and the shape arithmetic of dynamic axes,
/// and the activations, comparisons, logic and elementwise arithmetic that public recurrent models use around them.
/// </summary>
internal static class OperatorRegistry
{
    private static readonly Dictionary<string, Func<OnnxNode, long, BoundWeights, IKernel>> Factories = new(StringComparer.Ordinal)
    {
        ["LSTM"] = (n, _, b) => new LstmKernel(n, b),
        ["GRU"] = (n, _, b) => new GruKernel(n, b),
        ["RNN"] = (n, _, b) => new RnnKernel(n, b),
        ["If"] = (n, opset, _) => new IfKernel(n, opset),
        ["Loop"] = (n, opset, _) => new LoopKernel(n, opset),
        ["Scan"] = (n, opset, _) => new ScanKernel(n, opset),
        ["MatMul"] = (_, _, b) => new MatMulKernel(b.For(1)?[0]),
        ["Gemm"] = (n, _, b) => new GemmKernel(n, b.For(1)?[0]),
        ["Gather"] = (n, _, b) => new GatherKernel(n, b.For(0)?[0]),
        ["Add"] = (_, _, _) => new BinaryArithmeticKernel(ArithmeticOperator.Add),
        ["Sub"] = (_, _, _) => new BinaryArithmeticKernel(ArithmeticOperator.Sub),
        ["Mul"] = (_, _, _) => new BinaryArithmeticKernel(ArithmeticOperator.Mul),
        ["Div"] = (_, _, _) => new BinaryArithmeticKernel(ArithmeticOperator.Div),
        ["Mod"] = (n, _, _) => new BinaryArithmeticKernel(n.GetInt("fmod", 0) != 0 ? ArithmeticOperator.FMod : ArithmeticOperator.Mod),
        ["Pow"] = (_, _, _) => new PowKernel(),
        ["Min"] = (_, _, _) => new VariadicKernel(VariadicOperator.Min),
        ["Max"] = (_, _, _) => new VariadicKernel(VariadicOperator.Max),
        ["Sum"] = (_, _, _) => new VariadicKernel(VariadicOperator.Sum),
        ["Mean"] = (_, _, _) => new VariadicKernel(VariadicOperator.Mean),
        ["Equal"] = (_, _, _) => new ComparisonKernel(Comparison.Equal),
        ["Greater"] = (_, _, _) => new ComparisonKernel(Comparison.Greater),
        ["Less"] = (_, _, _) => new ComparisonKernel(Comparison.Less),
        ["GreaterOrEqual"] = (_, _, _) => new ComparisonKernel(Comparison.GreaterOrEqual),
        ["LessOrEqual"] = (_, _, _) => new ComparisonKernel(Comparison.LessOrEqual),
        ["And"] = (_, _, _) => new LogicalKernel(LogicalOperator.And),
        ["Or"] = (_, _, _) => new LogicalKernel(LogicalOperator.Or),
        ["Xor"] = (_, _, _) => new LogicalKernel(LogicalOperator.Xor),
        ["Not"] = (_, _, _) => new LogicalKernel(LogicalOperator.Not),
        ["Where"] = (_, _, _) => new WhereKernel(),
        ["Relu"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Relu),
        ["Tanh"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Tanh),
        ["Sigmoid"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Sigmoid),
        ["Exp"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Exp),
        ["Log"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Log),
        ["Neg"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Neg),
        ["Sqrt"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Sqrt),
        ["Abs"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Abs),
        ["Floor"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Floor),
        ["Ceil"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Ceil),
        ["Reciprocal"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Reciprocal),
        ["Sign"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Sign),
        ["Erf"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Erf),
        ["Softplus"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Softplus),
        ["Softsign"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.Softsign),
        ["HardSwish"] = (_, _, _) => new UnaryFloatKernel(UnaryFunction.HardSwish),
        ["LeakyRelu"] = (n, _, _) => new UnaryFloatKernel(UnaryFunction.LeakyRelu, n.GetFloat("alpha", 0.01f)),
        ["Elu"] = (n, _, _) => new UnaryFloatKernel(UnaryFunction.Elu, n.GetFloat("alpha", 1f)),
        ["HardSigmoid"] = (n, _, _) => new UnaryFloatKernel(UnaryFunction.HardSigmoid, n.GetFloat("alpha", 0.2f), n.GetFloat("beta", 0.5f)),
        ["Selu"] = (n, _, _) => new UnaryFloatKernel(UnaryFunction.Selu, n.GetFloat("alpha", 1.67326319217681884765625f), n.GetFloat("gamma", 1.05070102214813232421875f)),
        ["PRelu"] = (_, _, _) => new PReluKernel(),
        ["Clip"] = (n, opset, _) => new ClipKernel(n, opset),
        ["ReduceSum"] = (n, opset, _) => new ReduceKernel(n, opset, Reduction.Sum),
        ["ReduceMean"] = (n, opset, _) => new ReduceKernel(n, opset, Reduction.Mean),
        ["ReduceMax"] = (n, opset, _) => new ReduceKernel(n, opset, Reduction.Max),
        ["ReduceMin"] = (n, opset, _) => new ReduceKernel(n, opset, Reduction.Min),
        ["ReduceProd"] = (n, opset, _) => new ReduceKernel(n, opset, Reduction.Prod),
        ["ReduceL1"] = (n, opset, _) => new ReduceKernel(n, opset, Reduction.L1),
        ["ReduceL2"] = (n, opset, _) => new ReduceKernel(n, opset, Reduction.L2),
        ["ReduceLogSum"] = (n, opset, _) => new ReduceKernel(n, opset, Reduction.LogSum),
        ["ReduceLogSumExp"] = (n, opset, _) => new ReduceKernel(n, opset, Reduction.LogSumExp),
        ["ReduceSumSquare"] = (n, opset, _) => new ReduceKernel(n, opset, Reduction.SumSquare),
        ["Softmax"] = (n, opset, _) => new SoftmaxKernel(n, opset, log: false),
        ["LogSoftmax"] = (n, opset, _) => new SoftmaxKernel(n, opset, log: true),
        ["Shape"] = (n, _, _) => new ShapeKernel(n),
        ["Size"] = (_, _, _) => new SizeKernel(),
        ["Range"] = (_, _, _) => new RangeKernel(),
        ["Reshape"] = (n, _, _) => new ReshapeKernel(n),
        ["Squeeze"] = (n, opset, _) => new SqueezeKernel(n, opset, unsqueeze: false),
        ["Unsqueeze"] = (n, opset, _) => new SqueezeKernel(n, opset, unsqueeze: true),
        ["Flatten"] = (n, _, _) => new FlattenKernel(n),
        ["Concat"] = (n, _, _) => new ConcatKernel(n),
        ["Slice"] = (n, opset, _) => new SliceKernel(n, opset),
        ["Split"] = (n, opset, _) => new SplitKernel(n, opset),
        ["Pad"] = (n, opset, _) => new PadKernel(n, opset),
        ["Resize"] = (n, opset, _) => new ResizeKernel(n, opset),
        ["ScatterND"] = (n, _, _) => new ScatterNDKernel(n),
        ["Conv"] = (n, _, _) => new ConvKernel(n),
        ["ConvTranspose"] = (n, _, _) => new ConvTransposeKernel(n),
        ["MaxPool"] = (n, _, _) => new PoolKernel(n, Pooling.Max),
        ["AveragePool"] = (n, _, _) => new PoolKernel(n, Pooling.Average),
        ["GlobalMaxPool"] = (n, _, _) => new PoolKernel(n, Pooling.GlobalMax),
        ["GlobalAveragePool"] = (n, _, _) => new PoolKernel(n, Pooling.GlobalAverage),
        ["BatchNormalization"] = (n, _, _) => new BatchNormalizationKernel(n),
        ["InstanceNormalization"] = (n, _, _) => new InstanceNormalizationKernel(n),
        ["LayerNormalization"] = (n, _, _) => new LayerNormalizationKernel(n),
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
