using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime;

/// <summary>
/// The executable form of one graph node. A kernel reads its attributes once when built and is then stateless:
/// <see cref="Execute"/> may run on many threads at once, so per-run scratch memory is allocated inside it.
/// </summary>
internal interface IKernel
{
    /// <summary>
    /// Computes the node's outputs. <paramref name="inputs"/> holds null for an omitted optional input; every
    /// non-empty output slot must be assigned. Throws <see cref="ArgumentException"/> (naming the input and what was
    /// expected) for inputs the operator cannot take; the engine adds the node's name.
    /// </summary>
    void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs);
}
