using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.ControlFlow;

/// <summary>The per-iteration values of a Loop's or Scan's scan outputs stacked along a new axis.</summary>
internal static class Stacking
{
    /// <summary>
    /// <paramref name="slices"/> (one shape and type) stacked along a new <paramref name="axis"/>; with no slices, an
    /// empty tensor of the declared type with the declared dimensions where known.
    /// </summary>
    public static Tensor Stack(IReadOnlyList<Tensor> slices, int axis, OnnxValueInfo declared, string what)
    {
        if (slices.Count == 0)
        {
            var dims = declared.Dimensions is { } d && d.All(x => x.Value is not null) ? d.Select(x => (int)x.Value!.Value).ToArray() : [];
            return Tensor.Zeros(declared.ElementType ?? TensorElementType.Float, [0, .. dims]);
        }

        var first = slices[0];
        foreach (var s in slices)
        {
            if (s.ElementType != first.ElementType || !TensorShape.SameAs(s.Shape, first.Shape))
            {
                throw new ArgumentException($"{what} changes from {first} to {s} between iterations; its values cannot be stacked.");
            }
        }

        axis = TensorShape.NormalizeAxis(axis, first.Rank + 1, $"the axis of {what}");
        int[] shape = [.. first.Shape[..axis], slices.Count, .. first.Shape[axis..]];
        var result = Tensor.Zeros(first.ElementType, shape);
        var size = first.ElementSize;
        var outer = TensorShape.ElementCount(first.Shape.AsSpan(0, axis));
        var inner = first.Length / System.Math.Max(outer, 1);
        var target = result.AsBytes();
        for (var k = 0; k < slices.Count; k++)
        {
            var source = slices[k].AsBytes();
            for (var o = 0; o < outer; o++)
            {
                source.Slice(o * inner * size, inner * size).CopyTo(target.Slice(((o * slices.Count + k) * inner) * size, inner * size));
            }
        }

        return result;
    }
}
