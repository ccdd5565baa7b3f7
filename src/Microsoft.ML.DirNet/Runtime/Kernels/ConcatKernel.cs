using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>ONNX Concat: joins tensors of one element type along <c>axis</c>.</summary>
internal sealed class ConcatKernel(OnnxNode node) : IKernel
{
    private readonly long _axis = node.GetInt("axis", 0);

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var parts = new List<Tensor>();
        for (var i = 0; i < inputs.Length; i++)
        {
            parts.Add(KernelInputs.Required(inputs, i, $"inputs[{i}]"));
        }

        if (parts.Count == 0)
        {
            throw new ArgumentException("Concat needs at least one input.");
        }

        var first = parts[0];
        var axis = TensorShape.NormalizeAxis(_axis, first.Rank, "axis");
        foreach (var part in parts)
        {
            var compatible = part.ElementType == first.ElementType && part.Rank == first.Rank &&
                Enumerable.Range(0, first.Rank).All(d => d == axis || part.Shape[d] == first.Shape[d]);
            if (!compatible)
            {
                throw new ArgumentException(
                    $"cannot concatenate {part} with {first} along axis {axis}: types and all other dimensions must match.");
            }
        }

        var shape = (int[])first.Shape.Clone();
        var joined = parts.Sum(p => (long)p.Shape[axis]);
        shape[axis] = joined <= int.MaxValue
            ? (int)joined
            : throw new ArgumentException($"the joined axis {axis} would have {joined} elements, beyond what one tensor can hold.");
        var result = Tensor.Zeros(first.ElementType, shape);
        var outer = TensorShape.ElementCount(shape.AsSpan(0, axis));
        var size = first.ElementSize;
        var dst = result.AsBytes();
        var written = 0;
        for (var o = 0; o < outer; o++)
        {
            foreach (var part in parts)
            {
                var block = part.Length / System.Math.Max(outer, 1) * size;
                part.AsBytes().Slice(o * block, block).CopyTo(dst.Slice(written, block));
                written += block;
            }
        }

        outputs[0] = result;
    }
}
