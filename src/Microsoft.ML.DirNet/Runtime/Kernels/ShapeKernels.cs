using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>ONNX Shape: the input's dimensions as int64, optionally sliced by <c>start</c>/<c>end</c> (opset 15).</summary>
internal sealed class ShapeKernel(OnnxNode node) : IKernel
{
    private readonly long _start = node.GetInt("start", 0);
    private readonly long? _end = node.HasAttribute("end") ? node.GetInt("end", 0) : null;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var rank = KernelInputs.Required(inputs, 0, "data").Rank;
        var shape = inputs[0]!.Shape;
        long Clamp(long v) => System.Math.Clamp(v < 0 ? v + rank : v, 0, rank);
        var start = (int)Clamp(_start);
        var end = (int)Clamp(_end ?? rank);
        var dims = start < end ? shape[start..end].Select(d => (long)d).ToArray() : [];
        outputs[0] = new Tensor<long>([dims.Length], dims);
    }
}

/// <summary>ONNX Size: the input's element count as an int64 scalar.</summary>
internal sealed class SizeKernel : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs) =>
        outputs[0] = Tensor<long>.Scalar(KernelInputs.Required(inputs, 0, "data").Length);
}

/// <summary>ONNX Reshape: 0 copies the input dimension (unless <c>allowzero</c>), -1 is inferred.</summary>
internal sealed class ReshapeKernel(OnnxNode node) : IKernel
{
    private readonly bool _allowZero = node.GetInt("allowzero", 0) != 0;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var data = KernelInputs.Required(inputs, 0, "data");
        var requested = KernelInputs.Integers(KernelInputs.Required(inputs, 1, "shape"), "shape");
        var shape = new int[requested.Length];
        var inferred = -1;
        for (var i = 0; i < requested.Length; i++)
        {
            var d = requested[i];
            if (d == -1)
            {
                if (inferred >= 0) throw new ArgumentException("shape has more than one -1.");
                inferred = i;
                shape[i] = 1;
            }
            else if (d == 0 && !_allowZero)
            {
                if (i >= data.Rank) throw new ArgumentException($"shape[{i}] is 0 (copy) but the input has rank {data.Rank}.");
                shape[i] = data.Shape[i];
            }
            else if (d < 0)
            {
                throw new ArgumentException($"shape[{i}] is {d}.");
            }
            else if (d > int.MaxValue)
            {
                // Never truncated to 32 bits: [2^32 + 1] must not read as [1].
                throw new ArgumentException($"shape[{i}] is {d}, beyond what one tensor can hold.");
            }
            else
            {
                shape[i] = (int)d;
            }
        }

        if (inferred >= 0)
        {
            var known = TensorShape.ElementCount(shape);
            if (known == 0 || data.Length % known != 0)
            {
                throw new ArgumentException($"cannot infer the -1 in [{string.Join(", ", requested)}] for {data.Length} elements.");
            }

            shape[inferred] = data.Length / known;
        }

        outputs[0] = ViewAs(data, shape, requested);
    }

    /// <summary>Reshapes without copying, or throws naming both shapes.</summary>
    internal static Tensor ViewAs(Tensor data, int[] shape, object requested)
    {
        if (TensorShape.ElementCount(shape) != data.Length)
        {
            var text = requested is long[] r ? "[" + string.Join(", ", r) + "]" : TensorShape.Format(shape);
            throw new ArgumentException($"cannot reshape {TensorShape.Format(data.Shape)} ({data.Length} elements) to {text}.");
        }

        return data.Reshape(shape);
    }
}

/// <summary>ONNX Squeeze and Unsqueeze: axes as an attribute before opset 13 and as an input from 13.</summary>
internal sealed class SqueezeKernel(OnnxNode node, long opset, bool unsqueeze) : IKernel
{
    private readonly long[]? _axes = opset < 13 ? node.GetInts("axes") : null;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var data = KernelInputs.Required(inputs, 0, "data");
        var axes = opset < 13
            ? _axes
            : KernelInputs.Optional(inputs, 1) is { } a ? KernelInputs.Integers(a, "axes") : null;
        outputs[0] = unsqueeze ? Unsqueeze(data, axes ?? throw new ArgumentException("Unsqueeze needs axes.")) : Squeeze(data, axes);
    }

    private static Tensor Squeeze(Tensor data, long[]? axes)
    {
        var remove = axes?.Select(a => TensorShape.NormalizeAxis(a, data.Rank, "axes")).ToHashSet()
            ?? Enumerable.Range(0, data.Rank).Where(d => data.Shape[d] == 1).ToHashSet();
        foreach (var axis in remove)
        {
            if (data.Shape[axis] != 1)
            {
                throw new ArgumentException($"cannot squeeze axis {axis} of shape {TensorShape.Format(data.Shape)}: it is not 1.");
            }
        }

        return data.Reshape(Enumerable.Range(0, data.Rank).Where(d => !remove.Contains(d)).Select(d => data.Shape[d]).ToArray());
    }

    private static Tensor Unsqueeze(Tensor data, long[] axes)
    {
        var rank = data.Rank + axes.Length;
        var inserted = axes.Select(a => TensorShape.NormalizeAxis(a, rank, "axes")).ToHashSet();
        if (inserted.Count != axes.Length)
        {
            throw new ArgumentException($"axes [{string.Join(", ", axes)}] repeat an axis.");
        }

        var shape = new int[rank];
        var next = 0;
        for (var d = 0; d < rank; d++)
        {
            shape[d] = inserted.Contains(d) ? 1 : data.Shape[next++];
        }

        return data.Reshape(shape);
    }
}

/// <summary>ONNX Flatten: [d0..d(axis-1)] and [d(axis)..] become the two dimensions of a matrix.</summary>
internal sealed class FlattenKernel(OnnxNode node) : IKernel
{
    private readonly long _axis = node.GetInt("axis", 1);

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var data = KernelInputs.Required(inputs, 0, "input");
        var axis = _axis < 0 ? _axis + data.Rank : _axis;
        if (axis < 0 || axis > data.Rank)
        {
            throw new ArgumentException($"axis {_axis} is out of range for rank {data.Rank}.");
        }

        var outer = TensorShape.ElementCount(data.Shape.AsSpan(0, (int)axis));
        outputs[0] = data.Reshape([outer, outer == 0 ? 0 : data.Length / outer]);
    }
}
