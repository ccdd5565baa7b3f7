using System.Numerics;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>ONNX Equal: elementwise ==, with broadcasting, on numeric or bool inputs; the output is bool.</summary>
internal sealed class EqualKernel : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var (left, right) = KernelInputs.BroadcastPair(inputs);
        outputs[0] = left is Tensor<bool> l
            ? Compare(l.Data, right.As<bool>().Data, l.Shape, (x, y) => x == y)
            : NumericDispatch.Invoke(left, new Apply(right), "input 'A'");
    }

    private static Tensor<bool> Compare<T>(T[] a, T[] b, int[] shape, Func<T, T, bool> equal)
    {
        var result = new Tensor<bool>(shape);
        for (var i = 0; i < a.Length; i++)
        {
            result.Data[i] = equal(a[i], b[i]);
        }

        return result;
    }

    private readonly struct Apply(Tensor right) : INumericFunction<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> left) where T : unmanaged, INumber<T> =>
            Compare(left.Data, right.As<T>().Data, left.Shape, (x, y) => x == y);
    }
}
