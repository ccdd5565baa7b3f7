using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>ONNX Transpose: permutes the axes (reverses them when <c>perm</c> is absent).</summary>
internal sealed class TransposeKernel(OnnxNode node) : IKernel
{
    private readonly long[]? _perm = node.GetInts("perm");

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.Required(inputs, 0, "data");
        var perm = _perm?.Select(p => (int)p).ToArray() ?? Enumerable.Range(0, x.Rank).Reverse().ToArray();
        if (perm.Length != x.Rank || perm.Order().Where((p, i) => p != i).Any())
        {
            throw new ArgumentException($"perm [{string.Join(", ", perm)}] is not a permutation of the {x.Rank} axes.");
        }

        var strides = TensorShape.Strides(x.Shape);
        outputs[0] = StridedCopy.Copy(x, 0, perm.Select(p => strides[p]).ToArray(), perm.Select(p => x.Shape[p]).ToArray());
    }
}
