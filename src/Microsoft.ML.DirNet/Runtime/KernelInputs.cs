using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime;

/// <summary>Checked access to a kernel's inputs, so every kernel reports missing or mistyped inputs the same way.</summary>
internal static class KernelInputs
{
    /// <summary>The required input at <paramref name="index"/>.</summary>
    public static Tensor Required(ReadOnlySpan<Tensor?> inputs, int index, string name) =>
        index < inputs.Length && inputs[index] is { } t
            ? t
            : throw new ArgumentException($"required input {index} ('{name}') is missing.");

    /// <summary>The required float32 input at <paramref name="index"/>.</summary>
    public static Tensor<float> RequiredFloat(ReadOnlySpan<Tensor?> inputs, int index, string name) =>
        Float(Required(inputs, index, name), name);

    /// <summary>The optional input at <paramref name="index"/>, or null.</summary>
    public static Tensor? Optional(ReadOnlySpan<Tensor?> inputs, int index) =>
        index < inputs.Length ? inputs[index] : null;

    /// <summary>Views a tensor as float32 or throws naming the input.</summary>
    public static Tensor<float> Float(Tensor tensor, string name) =>
        tensor as Tensor<float> ?? throw new ArgumentException(
            $"input '{name}' must be float32 but is {tensor.ElementType}{TensorShape.Format(tensor.Shape)}.");

    /// <summary>Reads an int32 or int64 tensor (shapes, axes, indices) as longs.</summary>
    public static long[] Integers(Tensor tensor, string name) => tensor switch
    {
        Tensor<long> t => t.Data,
        Tensor<int> t => Array.ConvertAll(t.Data, v => (long)v),
        _ => throw new ArgumentException(
            $"input '{name}' must be int64 or int32 but is {tensor.ElementType}{TensorShape.Format(tensor.Shape)}."),
    };

    /// <summary>A shape input (int64 or int32) as dimensions, refusing values a tensor dimension cannot take.</summary>
    public static int[] Dimensions(Tensor tensor, string name) => Array.ConvertAll(Integers(tensor, name), d => d is >= int.MinValue and <= int.MaxValue
        ? (int)d
        : throw new ArgumentException($"input '{name}' holds the dimension {d}, beyond what one tensor can hold."));

    /// <summary>
    /// Inputs 0 and 1 of an elementwise binary operator, checked to share an element type and broadcast to their
    /// common shape (numpy rules).
    /// </summary>
    public static (Tensor Left, Tensor Right) BroadcastPair(ReadOnlySpan<Tensor?> inputs)
    {
        var a = Required(inputs, 0, "A");
        var b = Required(inputs, 1, "B");
        if (a.ElementType != b.ElementType)
        {
            throw new ArgumentException($"inputs 'A' ({a.ElementType}) and 'B' ({b.ElementType}) must have the same element type.");
        }

        var shape = TensorShape.Broadcast(a.Shape, b.Shape);
        return (Kernels.StridedCopy.Broadcast(a, shape), Kernels.StridedCopy.Broadcast(b, shape));
    }

    /// <summary>Checks a tensor's shape, naming the input and both shapes when they differ.</summary>
    public static void ExpectShape(Tensor tensor, string name, params int[] expected)
    {
        if (!TensorShape.SameAs(tensor.Shape, expected))
        {
            throw new ArgumentException(
                $"input '{name}' should have shape {TensorShape.Format(expected)} but has {TensorShape.Format(tensor.Shape)}.");
        }
    }
}
