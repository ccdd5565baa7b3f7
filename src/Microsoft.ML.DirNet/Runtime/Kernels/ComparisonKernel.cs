using System.Numerics;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>The elementwise comparisons of ONNX.</summary>
internal enum Comparison
{
    Equal,
    Greater,
    Less,
    GreaterOrEqual,
    LessOrEqual,
}

/// <summary>
/// ONNX Equal, Greater, Less, GreaterOrEqual and LessOrEqual: elementwise, with broadcasting, on numeric inputs (Equal
/// also on bool); the output is bool.
/// </summary>
internal sealed class ComparisonKernel(Comparison comparison) : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var (left, right) = KernelInputs.BroadcastPair(inputs);
        if (left is Tensor<bool> l)
        {
            if (comparison != Comparison.Equal)
            {
                throw new ArgumentException($"{comparison} takes numeric inputs, not bool.");
            }

            var r = right.As<bool>().Data;
            var result = new Tensor<bool>(l.Shape);
            for (var i = 0; i < r.Length; i++)
            {
                result.Data[i] = l.Data[i] == r[i];
            }

            outputs[0] = result;
            return;
        }

        outputs[0] = NumericDispatch.Invoke(left, new Apply(comparison, right), "input 'A'");
    }

    private readonly struct Apply(Comparison comparison, Tensor right) : INumericFunction<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> left) where T : unmanaged, INumber<T>
        {
            var a = left.Data;
            var b = right.As<T>().Data;
            var result = new Tensor<bool>(left.Shape);
            var y = result.Data;
            for (var i = 0; i < a.Length; i++)
            {
                y[i] = comparison switch
                {
                    Comparison.Equal => a[i] == b[i],
                    Comparison.Greater => a[i] > b[i],
                    Comparison.Less => a[i] < b[i],
                    Comparison.GreaterOrEqual => a[i] >= b[i],
                    _ => a[i] <= b[i],
                };
            }

            return result;
        }
    }
}
