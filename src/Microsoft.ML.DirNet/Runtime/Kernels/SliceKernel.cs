using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX Slice: starts/ends/axes/steps as inputs (opset 10+) or attributes (before), with ONNX's clamping of
/// out-of-range bounds and negative steps.
/// </summary>
internal sealed class SliceKernel(OnnxNode node, long opset) : IKernel
{
    private readonly long[]? _starts = opset < 10 ? node.GetInts("starts") : null;
    private readonly long[]? _ends = opset < 10 ? node.GetInts("ends") : null;
    private readonly long[]? _axes = opset < 10 ? node.GetInts("axes") : null;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var data = KernelInputs.Required(inputs, 0, "data");
        long[] starts, ends;
        long[]? axes, steps = null;
        if (opset < 10)
        {
            (starts, ends, axes) = (_starts ?? [], _ends ?? [], _axes);
        }
        else
        {
            starts = KernelInputs.Integers(KernelInputs.Required(inputs, 1, "starts"), "starts");
            ends = KernelInputs.Integers(KernelInputs.Required(inputs, 2, "ends"), "ends");
            axes = KernelInputs.Optional(inputs, 3) is { } a ? KernelInputs.Integers(a, "axes") : null;
            steps = KernelInputs.Optional(inputs, 4) is { } s ? KernelInputs.Integers(s, "steps") : null;
        }

        axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        if (ends.Length != starts.Length || axes.Length != starts.Length || (steps is not null && steps.Length != starts.Length))
        {
            throw new ArgumentException("starts, ends, axes and steps must have the same length.");
        }

        var shape = (int[])data.Shape.Clone();
        var strides = TensorShape.Strides(data.Shape);
        var sourceStrides = (int[])strides.Clone();
        var offset = 0;
        for (var i = 0; i < starts.Length; i++)
        {
            var axis = TensorShape.NormalizeAxis(axes[i], data.Rank, "axes");
            long dim = data.Shape[axis];
            var step = steps?[i] ?? 1;
            if (step == 0)
            {
                throw new ArgumentException("steps must not be 0.");
            }

            // A step longer than the axis takes one element at most; bounding it by the axis first keeps the arithmetic
            // below within 64 bits for any step, ±(2^63 − 1) included.
            var boundedStep = System.Math.Clamp(step, -(dim + 1), dim + 1);
            long start = starts[i] < 0 ? starts[i] + dim : starts[i];
            long end = ends[i] < 0 ? ends[i] + dim : ends[i];
            long count;
            if (boundedStep > 0)
            {
                start = System.Math.Clamp(start, 0, dim);
                end = System.Math.Clamp(end, 0, dim);
                count = end > start ? (end - start + boundedStep - 1) / boundedStep : 0;
            }
            else
            {
                start = System.Math.Clamp(start, 0, dim - 1);
                end = System.Math.Clamp(end, -1, dim - 1);
                count = start > end ? (start - end - boundedStep - 1) / -boundedStep : 0;
            }

            shape[axis] = (int)count;
            sourceStrides[axis] = count > 1 ? (int)(strides[axis] * boundedStep) : 0;
            offset += count > 0 ? (int)(start * strides[axis]) : 0;
        }

        outputs[0] = StridedCopy.Copy(data, offset, sourceStrides, shape);
    }
}
