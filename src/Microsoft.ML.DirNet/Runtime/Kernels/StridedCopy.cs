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

        // The innermost dimension is copied as one block when it is contiguous in the source.
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

    /// <summary>Reads <paramref name="source"/> broadcast to <paramref name="shape"/> (returns it as is when equal).</summary>
    public static Tensor Broadcast(Tensor source, int[] shape) =>
        TensorShape.SameAs(source.Shape, shape)
            ? source
            : Copy(source, 0, TensorShape.BroadcastStrides(source.Shape, shape), shape);
}
