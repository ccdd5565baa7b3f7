using System.Numerics;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>The elementwise float functions the engine supports.</summary>
internal enum UnaryFunction
{
    Relu,
    Tanh,
    Sigmoid,
    Exp,
    Log,
    Neg,
    Sqrt,
    Abs,
    Floor,
    Ceil,
    Reciprocal,
    Sign,
    Erf,
    Softplus,
    Softsign,
    HardSwish,

    /// <summary>x where x ≥ 0, else alpha·x.</summary>
    LeakyRelu,

    /// <summary>x where x ≥ 0, else alpha·(eˣ − 1).</summary>
    Elu,

    /// <summary>max(0, min(1, alpha·x + beta)).</summary>
    HardSigmoid,

    /// <summary>beta·x where x > 0, else beta·alpha·(eˣ − 1) (ONNX's gamma is beta here).</summary>
    Selu,
}

/// <summary>
/// ONNX's elementwise float functions (Relu, Tanh, Sigmoid, Exp, Log, Neg, Sqrt, Abs, Floor, Ceil, Reciprocal, Sign,
/// Erf, Softplus, Softsign, HardSwish, and LeakyRelu, Elu, HardSigmoid and Selu with their attributes as
/// <paramref name="alpha"/> and <paramref name="beta"/>) on float32 tensors; vectorized by TensorPrimitives where it
/// has the function. Neg, Abs and Sign also take every other numeric type.
/// </summary>
internal sealed class UnaryFloatKernel(UnaryFunction function, float alpha = 0, float beta = 0) : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        if (function is UnaryFunction.Neg or UnaryFunction.Abs or UnaryFunction.Sign && KernelInputs.Required(inputs, 0, "X") is not Tensor<float>)
        {
            // These three are defined on every numeric type (shape arithmetic negates int64 axes).
            outputs[0] = NumericDispatch.Invoke(inputs[0]!, new Numeric(function), "input 'X'");
            return;
        }

        var x = KernelInputs.RequiredFloat(inputs, 0, "X");
        var y = new Tensor<float>(x.Shape);
        switch (function)
        {
            case UnaryFunction.Relu: TensorPrimitives.Max(x.Data, 0f, y.Data); break;
            case UnaryFunction.Tanh: TensorPrimitives.Tanh(x.Data, y.Data); break;
            case UnaryFunction.Sigmoid: TensorPrimitives.Sigmoid(x.Data, y.Data); break;
            case UnaryFunction.Exp: TensorPrimitives.Exp(x.Data, y.Data); break;
            case UnaryFunction.Log: TensorPrimitives.Log(x.Data, y.Data); break;
            case UnaryFunction.Neg: TensorPrimitives.Negate(x.Data, y.Data); break;
            case UnaryFunction.Sqrt: TensorPrimitives.Sqrt(x.Data, y.Data); break;
            case UnaryFunction.Abs: TensorPrimitives.Abs(x.Data, y.Data); break;
            case UnaryFunction.Floor: TensorPrimitives.Floor(x.Data, y.Data); break;
            case UnaryFunction.Ceil: TensorPrimitives.Ceiling(x.Data, y.Data); break;
            case UnaryFunction.Reciprocal: TensorPrimitives.Reciprocal(x.Data, y.Data); break;
            default:
                for (var i = 0; i < x.Length; i++)
                {
                    y.Data[i] = Scalar(x.Data[i]);
                }

                break;
        }

        outputs[0] = y;
    }

    private readonly struct Numeric(UnaryFunction function) : INumericFunction<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged, INumber<T>
        {
            var y = new Tensor<T>(x.Shape);
            for (var i = 0; i < x.Length; i++)
            {
                var v = x.Data[i];
                y.Data[i] = function switch
                {
                    UnaryFunction.Neg => -v,
                    UnaryFunction.Abs => T.Abs(v),
                    _ => T.IsNaN(v) ? v : T.CreateTruncating(T.Sign(v)),
                };
            }

            return y;
        }
    }

    private float Scalar(float x) => function switch
    {
        UnaryFunction.Sign => float.IsNaN(x) ? x : MathF.Sign(x),
        UnaryFunction.Erf => (float)MathNet.Numerics.SpecialFunctions.Erf(x),
        // log(1 + eˣ) without overflow: x + log(1 + e⁻ˣ) for positive x.
        UnaryFunction.Softplus => x > 0 ? x + float.LogP1(MathF.Exp(-x)) : float.LogP1(MathF.Exp(x)),
        UnaryFunction.Softsign => x / (1 + MathF.Abs(x)),
        UnaryFunction.HardSwish => x * System.Math.Clamp(x / 6 + 0.5f, 0f, 1f),
        UnaryFunction.LeakyRelu => x >= 0 ? x : alpha * x,
        UnaryFunction.Elu => x >= 0 ? x : alpha * (MathF.Exp(x) - 1),
        UnaryFunction.HardSigmoid => System.Math.Clamp(alpha * x + beta, 0f, 1f),
        UnaryFunction.Selu => x > 0 ? beta * x : beta * alpha * (MathF.Exp(x) - 1),
        _ => throw new InvalidOperationException($"{function} has no scalar form."),
    };
}
