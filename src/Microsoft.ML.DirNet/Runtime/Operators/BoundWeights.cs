namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// The weight inputs of one node that come from a compressed ONNX's factors instead of a tensor: input index → one
/// operator per direction (one for MatMul, Gemm and Gather). The engine leaves those inputs empty at run time.
/// </summary>
internal sealed class BoundWeights(IReadOnlyDictionary<int, WeightOperator[]> byInput)
{
    /// <summary>No bound inputs: every weight is read from its tensor.</summary>
    public static BoundWeights None { get; } = new(new Dictionary<int, WeightOperator[]>());

    /// <summary>The operators bound to input <paramref name="index"/>, or null when it is read as a tensor.</summary>
    public WeightOperator[]? For(int index) => byInput.TryGetValue(index, out var operators) ? operators : null;
}
