using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX Pad, any element type: <c>pads</c> (begin values of every padded axis, then end values; negative ones crop)
/// and the constant value as inputs from opset 11 (with <c>axes</c> from 18), as attributes before. Modes constant
/// (default 0), reflect (mirrored without repeating the edge), edge (the edge repeated) and wrap.
/// </summary>
internal sealed class PadKernel(OnnxNode node, long opset) : IKernel
{
    private readonly string _mode = node.GetString("mode", "constant");
    private readonly long[]? _padsAttribute = opset < 11 ? node.GetInts("pads") ?? node.GetInts("paddings") : null;
    private readonly float _valueAttribute = node.GetFloat("value", 0f);

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var data = KernelInputs.Required(inputs, 0, "data");
        var rank = data.Rank;
        var given = _padsAttribute ?? KernelInputs.Integers(KernelInputs.Required(inputs, 1, "pads"), "pads");
        var axes = opset >= 18 && KernelInputs.Optional(inputs, 3) is { } a
            ? KernelInputs.Integers(a, "axes").Select(x => TensorShape.NormalizeAxis(x, rank, "axes")).ToArray()
            : Enumerable.Range(0, rank).ToArray();
        if (given.Length != 2 * axes.Length)
        {
            throw new ArgumentException($"'pads' holds {given.Length} values where {2 * axes.Length} (begin and end of {axes.Length} axes) are needed.");
        }

        var begin = new int[rank];
        var shape = (int[])data.Shape.Clone();
        for (var k = 0; k < axes.Length; k++)
        {
            begin[axes[k]] = checked((int)given[k]);
            shape[axes[k]] = checked(shape[axes[k]] + (int)given[k] + (int)given[k + axes.Length]);
            if (shape[axes[k]] < 0)
            {
                throw new ArgumentException($"'pads' crops axis {axes[k]} of length {data.Shape[axes[k]]} below zero.");
            }

            if (_mode != "constant" && data.Shape[axes[k]] == 0 && shape[axes[k]] > 0)
            {
                throw new ArgumentException($"mode '{_mode}' cannot pad the empty axis {axes[k]}.");
            }

            if (_mode == "reflect" && data.Shape[axes[k]] == 1 && shape[axes[k]] > 1)
            {
                throw new ArgumentException($"mode 'reflect' cannot pad axis {axes[k]} of length 1.");
            }
        }

        if (_mode is not ("constant" or "reflect" or "edge" or "wrap"))
        {
            throw new ArgumentException($"mode '{_mode}' is not one of constant, reflect, edge, wrap.");
        }

        var result = Tensor.Zeros(data.ElementType, shape);
        var fill = ConstantValue(inputs, data);
        var size = data.ElementSize;
        var source = data.AsBytes();
        var target = result.AsBytes();
        outputs[0] = result;
        if (result.Length == 0)
        {
            return;
        }

        if (rank == 0)
        {
            source.CopyTo(target);
            return;
        }

        // One output row (along the last axis) at a time: its source row is found once, the part of it inside the
        // source is one block copy, and only the padded ends go element by element (a streaming model pads a few
        // hundred values per call, and per-element index arithmetic over every axis showed in its time).
        var strides = TensorShape.Strides(data.Shape);
        var (width, length, offset) = (shape[rank - 1], data.Shape[rank - 1], begin[rank - 1]);
        var (inside, insideEnd) = (System.Math.Clamp(offset, 0, width), System.Math.Clamp(offset + length, 0, width));
        var index = new int[rank];
        for (var row = 0; row < result.Length / width; row++)
        {
            var from = 0;
            for (var d = 0; d < rank - 1 && from >= 0; d++)
            {
                var s = Source(index[d] - begin[d], data.Shape[d]);
                from = s < 0 ? -1 : from + s * strides[d];
            }

            var to = target.Slice(row * width * size, width * size);
            for (var j = 0; j < width; j++)
            {
                if (from >= 0 && j == inside && insideEnd > inside)
                {
                    source.Slice((from + inside - offset) * size, (insideEnd - inside) * size).CopyTo(to.Slice(inside * size));
                    j = insideEnd - 1;
                    continue;
                }

                var s = from < 0 ? -1 : Source(j - offset, length);
                (s < 0 ? fill : source.Slice((from + s) * size, size)).CopyTo(to.Slice(j * size, size));
            }

            for (var d = rank - 2; d >= 0 && ++index[d] == shape[d]; d--)
            {
                index[d] = 0;
            }
        }
    }

    /// <summary>The source index along an axis of <paramref name="length"/> for position <paramref name="i"/> (may be outside), or −1 for the constant.</summary>
    private int Source(int i, int length)
    {
        if (i >= 0 && i < length) return i;
        switch (_mode)
        {
            case "edge": return System.Math.Clamp(i, 0, length - 1);
            case "wrap": return ((i % length) + length) % length;
            case "reflect":
                var period = 2 * (length - 1);
                var m = ((i % period) + period) % period;
                return m < length ? m : period - m;
            default: return -1;
        }
    }

    private ReadOnlySpan<byte> ConstantValue(ReadOnlySpan<Tensor?> inputs, Tensor data)
    {
        var value = opset < 11 ? CastKernel.Convert(Tensor<float>.Scalar(_valueAttribute), data.ElementType) : KernelInputs.Optional(inputs, 2);
        if (value is null)
        {
            return new byte[data.ElementSize];
        }

        if (value.Length != 1 || value.ElementType != data.ElementType)
        {
            throw new ArgumentException($"input 'constant_value' must be one {data.ElementType} value but is {value}.");
        }

        return value.AsBytes();
    }
}
