using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// The weight inputs of one node that come from a compressed ONNX's factors instead of a tensor: input index → one
/// matrix per direction (one for MatMul, Gemm and Gather). The engine leaves those inputs empty at run time.
/// </summary>
internal sealed class BoundWeights(IReadOnlyDictionary<int, CompressedMatrix[]> byInput)
{
    /// <summary>No bound inputs: every weight is read from its tensor.</summary>
    public static BoundWeights None { get; } = new(new Dictionary<int, CompressedMatrix[]>());

    /// <summary>The matrices bound to input <paramref name="index"/>, or null when it is read as a tensor.</summary>
    public CompressedMatrix[]? For(int index) => byInput.TryGetValue(index, out var matrices) ? matrices : null;
}
