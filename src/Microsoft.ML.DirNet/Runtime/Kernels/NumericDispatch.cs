using System.Numerics;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>A computation written once for every numeric element type.</summary>
internal interface INumericFunction<out TResult>
{
    TResult Invoke<T>(Tensor<T> tensor) where T : unmanaged, INumber<T>;
}

/// <summary>Calls an <see cref="INumericFunction{TResult}"/> with a tensor's concrete numeric element type.</summary>
internal static class NumericDispatch
{
    public static TResult Invoke<TResult>(Tensor tensor, INumericFunction<TResult> function, string what) => tensor switch
    {
        Tensor<float> t => function.Invoke(t),
        Tensor<double> t => function.Invoke(t),
        Tensor<Half> t => function.Invoke(t),
        Tensor<long> t => function.Invoke(t),
        Tensor<int> t => function.Invoke(t),
        Tensor<short> t => function.Invoke(t),
        Tensor<sbyte> t => function.Invoke(t),
        Tensor<byte> t => function.Invoke(t),
        Tensor<ushort> t => function.Invoke(t),
        Tensor<uint> t => function.Invoke(t),
        Tensor<ulong> t => function.Invoke(t),
        _ => throw new ArgumentException($"{what} must be numeric but is {tensor.ElementType}."),
    };
}
