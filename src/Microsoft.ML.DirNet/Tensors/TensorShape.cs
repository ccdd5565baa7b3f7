using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Tensors;

/// <summary>Shape arithmetic shared by the ONNX reader and the engine's kernels.</summary>
public static class TensorShape
{
    /// <summary>
    /// The number of elements of a shape. Throws when a dimension is negative or the product does not fit an
    /// <see cref="int"/>, which is the engine's limit for one tensor.
    /// </summary>
    public static int ElementCount(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Shape {Format(shape)} has a negative dimension.");
            }

            count *= d;
            if (count > int.MaxValue)
            {
                throw new ArgumentException($"Shape {Format(shape)} has more than {int.MaxValue} elements.");
            }
        }

        return (int)count;
    }

    /// <summary>
    /// The element count of a buffer of <paramref name="elementSize"/>-byte elements with dimensions
    /// <paramref name="dimensions"/>, computed in 64 bits; throws, naming <paramref name="what"/>, before anything is
    /// allocated when it exceeds <see cref="BufferSize.MaxBytes"/>. The check itself is <see cref="BufferSize.Length"/>
    /// in Numerics (the scratch buffers beneath the tensors use it too), so there is still one.
    /// </summary>
    internal static int BufferLength(string what, int elementSize, params ReadOnlySpan<long> dimensions) =>
        BufferSize.Length(what, elementSize, dimensions);

    /// <summary>Row-major strides (in elements) of a shape.</summary>
    public static int[] Strides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        var stride = 1;
        for (var i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= shape[i];
        }

        return strides;
    }

    /// <summary>Maps a possibly negative axis into [0, rank), or throws naming the operator.</summary>
    public static int NormalizeAxis(long axis, int rank, string what)
    {
        var normalized = axis < 0 ? axis + rank : axis;
        if (normalized < 0 || normalized >= rank)
        {
            throw new ArgumentException($"{what}: axis {axis} is out of range for rank {rank}.");
        }

        return (int)normalized;
    }

    /// <summary>Numpy-style multidirectional broadcast of two shapes.</summary>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        var rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (var i = 0; i < rank; i++)
        {
            var da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            var db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
            {
                throw new ArgumentException($"Shapes {Format(a)} and {Format(b)} cannot be broadcast together.");
            }

            result[i] = da == 1 ? db : da;
        }

        return result;
    }

    /// <summary>
    /// Strides for reading a tensor of shape <paramref name="shape"/> as if it had the broadcast shape
    /// <paramref name="target"/>: broadcast dimensions get stride 0.
    /// </summary>
    public static int[] BroadcastStrides(ReadOnlySpan<int> shape, ReadOnlySpan<int> target)
    {
        var own = Strides(shape);
        var strides = new int[target.Length];
        var offset = target.Length - shape.Length;
        for (var i = 0; i < shape.Length; i++)
        {
            strides[i + offset] = shape[i] == 1 && target[i + offset] != 1 ? 0 : own[i];
        }

        return strides;
    }

    /// <summary>Formats a shape as <c>[2, 3, 4]</c>.</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>True when both shapes have the same dimensions.</summary>
    public static bool SameAs(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);
}
