using System.Numerics;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>The four arithmetic operators with numpy broadcasting, for every numeric element type.</summary>
internal enum ArithmeticOperator
{
    Add,
    Sub,
    Mul,
    Div,

    /// <summary>The remainder with the divisor's sign (numpy's mod; ONNX Mod with fmod 0).</summary>
    Mod,

    /// <summary>The remainder with the dividend's sign (C's fmod; ONNX Mod with fmod 1).</summary>
    FMod,
}

/// <summary>ONNX Add, Sub, Mul, Div and Mod: both inputs of one numeric type, multidirectional broadcasting.</summary>
internal sealed class BinaryArithmeticKernel(ArithmeticOperator op) : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var (left, right) = KernelInputs.BroadcastPair(inputs);
        outputs[0] = NumericDispatch.Invoke(left, new Apply(op, right), "input 'A'");
    }

    private readonly struct Apply(ArithmeticOperator op, Tensor right) : INumericFunction<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> left) where T : unmanaged, INumber<T>
        {
            var b = right.As<T>().Data;
            var result = new Tensor<T>(left.Shape);
            switch (op)
            {
                case ArithmeticOperator.Add: TensorPrimitives.Add<T>(left.Data, b, result.Data); break;
                case ArithmeticOperator.Sub: TensorPrimitives.Subtract<T>(left.Data, b, result.Data); break;
                case ArithmeticOperator.Mul: TensorPrimitives.Multiply<T>(left.Data, b, result.Data); break;
                case ArithmeticOperator.Div: TensorPrimitives.Divide<T>(left.Data, b, result.Data); break;
                default:
                    for (var i = 0; i < b.Length; i++)
                    {
                        var r = left.Data[i] % b[i];
                        result.Data[i] = op == ArithmeticOperator.Mod && !T.IsZero(r) && T.IsNegative(r) != T.IsNegative(b[i]) ? r + b[i] : r;
                    }

                    break;
            }

            return result;
        }
    }
}
