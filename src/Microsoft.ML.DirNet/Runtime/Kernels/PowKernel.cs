using System.Numerics;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX Pow: X raised to Y elementwise with broadcasting, where Y may be of another numeric type than X and the result
/// has X's. Integer X with an integer exponent is raised exactly (wrapping as numpy does); otherwise in double
/// precision and converted back, truncating toward zero for integer X.
/// </summary>
internal sealed class PowKernel : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.Required(inputs, 0, "X");
        var y = KernelInputs.Required(inputs, 1, "Y");
        if (x is Tensor<float> floats && y.Length == 1 && y.Rank <= x.Rank)
        {
            // The common case (x², √x of float activations) without broadcasting copies: squaring in float is the
            // correctly rounded x², as the double path gives it.
            var e = NumericDispatch.Invoke(y, new AsDoubles(), "input 'Y'")[0];
            var raised = new Tensor<float>(TensorShape.Broadcast(x.Shape, y.Shape));
            if (e == 2)
            {
                TensorPrimitives.Multiply(floats.Data, floats.Data, raised.Data);
            }
            else
            {
                for (var i = 0; i < floats.Data.Length; i++)
                {
                    raised.Data[i] = (float)System.Math.Pow(floats.Data[i], e);
                }
            }

            outputs[0] = raised;
            return;
        }

        var shape = TensorShape.Broadcast(x.Shape, y.Shape);
        var exponents = NumericDispatch.Invoke(StridedCopy.Broadcast(y, shape), new AsDoubles(), "input 'Y'");
        outputs[0] = NumericDispatch.Invoke(StridedCopy.Broadcast(x, shape), new Raise(exponents), "input 'X'");
    }

    private readonly struct AsDoubles : INumericFunction<double[]>
    {
        public double[] Invoke<T>(Tensor<T> tensor) where T : unmanaged, INumber<T> =>
            Array.ConvertAll(tensor.Data, double.CreateTruncating);
    }

    private readonly struct Raise(double[] exponents) : INumericFunction<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> tensor) where T : unmanaged, INumber<T>
        {
            var result = new Tensor<T>(tensor.Shape);
            // One half is zero only in an integer type.
            var integer = T.IsZero(T.One / (T.One + T.One));
            for (var i = 0; i < exponents.Length; i++)
            {
                var e = exponents[i];
                result.Data[i] = integer && e >= 0 && e == System.Math.Floor(e) && e <= long.MaxValue
                    ? IntegerPower(tensor.Data[i], (long)e)
                    : T.CreateTruncating(System.Math.Pow(double.CreateTruncating(tensor.Data[i]), e));
            }

            return result;
        }

        private static T IntegerPower<T>(T value, long exponent) where T : INumber<T>
        {
            var result = T.One;
            while (exponent > 0)
            {
                if ((exponent & 1) != 0) result = unchecked(result * value);
                value = unchecked(value * value);
                exponent >>= 1;
            }

            return result;
        }
    }
}
