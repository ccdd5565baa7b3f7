using Microsoft.ML.DirNet.Runtime.Kernels;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The one strided copy behind Transpose, Slice and broadcasting, against its definition (element i of the result is
/// source[offset + Σ i_d · strides_d]) on views whose size-1 axes it drops and whose contiguous runs it merges: size-1
/// axes moved, whole rows sliced, a stepped slice, a broadcast axis (stride 0) beside a contiguous one, and views of
/// 4-byte and 8-byte elements.
/// </summary>
public sealed class StridedCopyTests
{
    public static IEnumerable<object[]> Views() =>
    [
        [new[] { 1, 1, 512 }, 0, new[] { 512, 1, 512 }, new[] { 1, 512, 1 }],      // Transpose [1,1,512] → [1,512,1]
        [new[] { 1, 2, 128, 2 }, 1, new[] { 512, 256, 2, 1 }, new[] { 1, 1, 128, 1 }], // Slice of the last axis, step over it
        [new[] { 3, 4, 5 }, 5, new[] { 20, 5, 1 }, new[] { 2, 3, 5 }],            // whole rows: merges to one run per outer index
        [new[] { 3, 4, 5 }, 1, new[] { 20, 10, 2 }, new[] { 3, 2, 2 }],           // steps on two axes
        [new[] { 4, 6 }, 0, new[] { 0, 6, 1 }, new[] { 3, 4, 6 }],                // broadcast axis in front of contiguous ones
        [new[] { 2, 3 }, 0, new[] { 1, 2, 0 }, new[] { 3, 2, 4 }],                 // transposed, then broadcast innermost
        [new[] { 1 }, 0, new[] { 0, 0 }, new[] { 1, 1 }],                          // every axis of size 1
    ];

    [Theory]
    [MemberData(nameof(Views))]
    public void CopiesAreTheDefinition(int[] sourceShape, int offset, int[] strides, int[] shape)
    {
        var count = TensorShape.ElementCount(sourceShape);
        var floats = new Tensor<float>(sourceShape, Enumerable.Range(0, count).Select(i => i * 0.5f).ToArray());
        var longs = new Tensor<long>(sourceShape, Enumerable.Range(0, count).Select(i => (long)i << 33).ToArray());
        var copiedFloats = StridedCopy.Copy(floats, offset, strides, shape).As<float>();
        var copiedLongs = StridedCopy.Copy(longs, offset, strides, shape).As<long>();
        Assert.Equal(shape, copiedFloats.Shape);
        var index = new int[shape.Length];
        for (var i = 0; i < copiedFloats.Length; i++)
        {
            var at = offset;
            for (var d = 0; d < shape.Length; d++)
            {
                at += index[d] * strides[d];
            }

            Assert.Equal(floats.Data[at], copiedFloats.Data[i]);
            Assert.Equal(longs.Data[at], copiedLongs.Data[i]);
            for (var d = shape.Length - 1; d >= 0 && ++index[d] == shape[d]; d--)
            {
                index[d] = 0;
            }
        }
    }
}
