using System.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX Cast between every numeric type, bool, float16 and bfloat16 (string tensors are not supported). Conversions
/// follow C#'s unchecked casts, which match numpy's for values in range: floats truncate toward zero into integers,
/// any non-zero becomes true, and float16 rounds to nearest.
/// </summary>
internal sealed class CastKernel(OnnxNode node) : IKernel
{
    private readonly TensorElementType _to = TargetType(node);

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        outputs[0] = Convert(KernelInputs.Required(inputs, 0, "input"), _to);
    }

    /// <summary>Converts a tensor to another element type (returns it as is when the type already matches).</summary>
    public static Tensor Convert(Tensor source, TensorElementType to)
    {
        if (source.ElementType == to)
        {
            return source;
        }

        // bool and bfloat16 are not INumber types: route them through a numeric type first.
        if (source is Tensor<bool> b)
        {
            return Convert(new Tensor<byte>(b.Shape, b.Data.Select(v => v ? (byte)1 : (byte)0).ToArray()), to);
        }

        if (source is Tensor<BFloat16> bf)
        {
            return Convert(new Tensor<float>(bf.Shape, bf.Data.Select(v => v.ToSingle()).ToArray()), to);
        }

        if (to == TensorElementType.Bool)
        {
            return NumericDispatch.Invoke(source, new ToBool(), "input");
        }

        if (to == TensorElementType.BFloat16)
        {
            var asFloat = Convert(source, TensorElementType.Float).As<float>();
            return new Tensor<BFloat16>(asFloat.Shape, asFloat.Data.Select(BFloat16.FromSingle).ToArray());
        }

        return NumericDispatch.Invoke(Tensor.Zeros(to, []), new ToNumber(source), "target");
    }

    private static TensorElementType TargetType(OnnxNode node)
    {
        var code = (int)node.GetInt("to", 0);
        return Enum.IsDefined(typeof(TensorElementType), code)
            ? (TensorElementType)code
            : throw new ArgumentException($"Cast to ONNX type code {code} is not supported (string and complex tensors are not).");
    }

    private readonly struct ToBool : INumericFunction<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> tensor) where T : unmanaged, INumber<T> =>
            new Tensor<bool>(tensor.Shape, tensor.Data.Select(v => !T.IsZero(v)).ToArray());
    }

    /// <summary>Invoked with an empty tensor of the target type, so both element types are generic parameters.</summary>
    private readonly struct ToNumber(Tensor source) : INumericFunction<Tensor>
    {
        public Tensor Invoke<TTo>(Tensor<TTo> target) where TTo : unmanaged, INumber<TTo> =>
            NumericDispatch.Invoke(source, new From<TTo>(), "input");
    }

    private readonly struct From<TTo> : INumericFunction<Tensor> where TTo : unmanaged, INumber<TTo>
    {
        public Tensor Invoke<TFrom>(Tensor<TFrom> tensor) where TFrom : unmanaged, INumber<TFrom>
        {
            var result = new Tensor<TTo>(tensor.Shape);
            for (var i = 0; i < tensor.Length; i++)
            {
                result.Data[i] = TTo.CreateTruncating(tensor.Data[i]);
            }

            return result;
        }
    }
}
