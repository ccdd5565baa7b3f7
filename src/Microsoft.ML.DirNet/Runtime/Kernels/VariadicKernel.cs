using System.Numerics;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>The ONNX operators that fold any number of inputs elementwise.</summary>
internal enum VariadicOperator
{
    Min,
    Max,
    Sum,
    Mean,
}

/// <summary>
/// ONNX Min, Max, Sum and Mean: one or more inputs of one numeric type, broadcast together (numpy rules); Min and Max
/// propagate NaN, as numpy's minimum and maximum do.
/// </summary>
internal sealed class VariadicKernel(VariadicOperator op) : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var given = new List<Tensor>();
        for (var k = 0; k < inputs.Length; k++)
        {
            given.Add(KernelInputs.Required(inputs, k, $"data_{k}"));
        }

        if (given.Count == 0)
        {
            throw new ArgumentException($"{op} needs at least one input.");
        }

        var shape = given[0].Shape;
        foreach (var t in given)
        {
            if (t.ElementType != given[0].ElementType)
            {
                throw new ArgumentException($"every input must be {given[0].ElementType}, but one is {t.ElementType}.");
            }

            shape = TensorShape.Broadcast(shape, t.Shape);
        }

        var broadcast = given.Select(t => StridedCopy.Broadcast(t, shape)).ToArray();
        outputs[0] = NumericDispatch.Invoke(broadcast[0], new Apply(op, broadcast), "input 'data_0'");
    }

    private readonly struct Apply(VariadicOperator op, Tensor[] inputs) : INumericFunction<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> first) where T : unmanaged, INumber<T>
        {
            var result = new Tensor<T>(first.Shape, (T[])first.Data.Clone());
            var y = result.Data;
            foreach (var input in inputs.Skip(1))
            {
                var x = input.As<T>().Data;
                for (var i = 0; i < y.Length; i++)
                {
                    y[i] = op switch
                    {
                        VariadicOperator.Min => T.IsNaN(x[i]) || x[i] < y[i] ? x[i] : y[i],
                        VariadicOperator.Max => T.IsNaN(x[i]) || x[i] > y[i] ? x[i] : y[i],
                        _ => y[i] + x[i],
                    };
                }
            }

            if (op == VariadicOperator.Mean)
            {
                var count = T.CreateChecked(inputs.Length);
                for (var i = 0; i < y.Length; i++)
                {
                    y[i] /= count;
                }
            }

            return result;
        }
    }
}
