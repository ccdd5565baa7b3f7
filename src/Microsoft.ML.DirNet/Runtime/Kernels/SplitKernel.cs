using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX Split along <c>axis</c> (default 0), any element type: into the lengths of <c>split</c> (an input from opset
/// 13, an attribute before), or else into as many equal parts as the node has outputs (from opset 18,
/// <c>num_outputs</c> parts of ceil(length / num_outputs), the last one shorter).
/// </summary>
internal sealed class SplitKernel(OnnxNode node, long opset) : IKernel
{
    private readonly long _axis = node.GetInt("axis", 0);
    private readonly long[]? _splitAttribute = opset < 13 ? node.GetInts("split") : null;
    private readonly long? _numOutputs = node.HasAttribute("num_outputs") ? node.GetInt("num_outputs", 0) : null;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var input = KernelInputs.Required(inputs, 0, "input");
        var axis = TensorShape.NormalizeAxis(_axis, input.Rank, "axis");
        var length = input.Shape[axis];
        var lengths = _splitAttribute
            ?? (KernelInputs.Optional(inputs, 1) is { } split ? KernelInputs.Integers(split, "split") : EqualParts(length, (int)(_numOutputs ?? outputs.Length)));
        if (lengths.Length != outputs.Length || lengths.Any(l => l < 0) || lengths.Sum() != length)
        {
            throw new ArgumentException(
                $"'split' [{string.Join(", ", lengths)}] must be {outputs.Length} non-negative lengths adding up to axis {axis}'s {length}.");
        }

        var strides = TensorShape.Strides(input.Shape);
        var start = 0;
        for (var k = 0; k < outputs.Length; k++)
        {
            var shape = (int[])input.Shape.Clone();
            shape[axis] = (int)lengths[k];
            outputs[k] = StridedCopy.Copy(input, start * strides[axis], strides, shape);
            start += shape[axis];
        }
    }

    private static long[] EqualParts(int length, int parts)
    {
        if (parts <= 0)
        {
            throw new ArgumentException($"cannot split into {parts} parts.");
        }

        var part = (length + parts - 1) / parts;
        return Enumerable.Range(0, parts).Select(k => (long)System.Math.Clamp(length - k * part, 0, part)).ToArray();
    }
}
