using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// Gathers a strided view of a tensor into a new contiguous tensor of any element type. Transpose (permuted strides),
/// Slice (scaled strides and an offset) and Expand / broadcasting (zero strides) are all this one copy.
/// </summary>
internal static class StridedCopy
{
    /// <summary>
    /// Creates a tensor of <paramref name="shape"/> whose element at index i is
    /// <c>source[offset + Σ i_d · strides_d]</c>.
    /// </summary>
    public static Tensor Copy(Tensor source, int offset, ReadOnlySpan<int> strides, int[] shape)
    {
        var result = Tensor.Zeros(source.ElementType, shape);
        if (result.Length == 0)
        {
            return result;
        }

        var size = source.ElementSize;
        var src = source.AsBytes();
        var dst = result.AsBytes();
        var rank = shape.Length;
        if (rank == 0)
        {
            src.Slice(offset * size, size).CopyTo(dst);
            return result;
        }

        // Dimensions of size 1 move nothing, and a dimension that continues the next one's run in the source merges
        // with it: a Transpose that only moves size-1 axes (as TensorFlow exports write around their layers) or a Slice
        // of whole rows is then one block copy instead of one per element.
        (var view, var viewStrides) = Collapse(shape, strides);
        shape = view;
        strides = viewStrides;
        rank = shape.Length;
        var inner = shape[rank - 1];
        var innerStride = strides[rank - 1];
        var index = new int[rank];
        var written = 0;
        var outerCount = result.Length / inner;
        for (var outer = 0; outer < outerCount; outer++)
        {
            var start = offset;
            for (var d = 0; d < rank - 1; d++)
            {
                start += index[d] * strides[d];
            }

            if (innerStride == 1)
            {
                src.Slice(start * size, inner * size).CopyTo(dst.Slice(written * size, inner * size));
            }
            else if (size == sizeof(float))
            {
                // Four-byte elements (float, int32) as ints: one move each instead of a span copy each.
                var from = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(src);
                var to = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(dst).Slice(written, inner);
                for (var i = 0; i < inner; i++)
                {
                    to[i] = from[start + i * innerStride];
                }
            }
            else
            {
                for (var i = 0; i < inner; i++)
                {
                    src.Slice((start + i * innerStride) * size, size).CopyTo(dst.Slice((written + i) * size, size));
                }
            }

            written += inner;
            for (var d = rank - 2; d >= 0; d--)
            {
                if (++index[d] < shape[d])
                {
                    break;
                }

                index[d] = 0;
            }
        }

        return result;
    }

    /// <summary>
    /// The same view with its size-1 dimensions dropped and each dimension whose source run continues the next one's
    /// (stride = next stride × next size) merged into it; at least one dimension is left.
    /// </summary>
    private static (int[] Shape, int[] Strides) Collapse(int[] shape, ReadOnlySpan<int> strides)
    {
        var (sizes, steps) = (new List<int>(shape.Length), new List<int>(shape.Length));
        for (var d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1)
            {
                continue;
            }

            if (sizes.Count > 0 && steps[^1] == strides[d] * shape[d])
            {
                sizes[^1] *= shape[d];
                steps[^1] = strides[d];
                continue;
            }

            sizes.Add(shape[d]);
            steps.Add(strides[d]);
        }

        return sizes.Count == 0 ? ([1], [1]) : (sizes.ToArray(), steps.ToArray());
    }

    /// <summary>Reads <paramref name="source"/> broadcast to <paramref name="shape"/> (returns it as is when equal).</summary>
    public static Tensor Broadcast(Tensor source, int[] shape) =>
        TensorShape.SameAs(source.Shape, shape)
            ? source
            : Copy(source, 0, TensorShape.BroadcastStrides(source.Shape, shape), shape);
}
