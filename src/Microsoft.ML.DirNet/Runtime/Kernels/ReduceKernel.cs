using System.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>The ONNX reductions.</summary>
internal enum Reduction
{
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    LogSum,
    LogSumExp,
    SumSquare,
}

/// <summary>
/// ONNX ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp
/// and ReduceSumSquare on every numeric type. The axes come from the <c>axes</c> attribute, or from the second input
/// where the operator's opset takes them so (ReduceSum from 13, the others from 18); no axes reduce every axis, or none
/// with <c>noop_with_empty_axes</c>. <c>keepdims</c> (default 1) keeps reduced axes as 1. Max and Min are exact in the
/// input's type; the others accumulate in double precision.
/// </summary>
internal sealed class ReduceKernel(OnnxNode node, long opset, Reduction reduction) : IKernel
{
    private readonly bool _axesAsInput = opset >= (reduction == Reduction.Sum ? 13 : 18);
    private readonly long[]? _axesAttribute = node.GetInts("axes");
    private readonly bool _keepDims = node.GetInt("keepdims", 1) != 0;
    private readonly bool _noopWithEmptyAxes = node.GetInt("noop_with_empty_axes", 0) != 0;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var data = KernelInputs.Required(inputs, 0, "data");
        var axes = _axesAsInput
            ? KernelInputs.Optional(inputs, 1) is { } given ? KernelInputs.Integers(given, "axes") : []
            : _axesAttribute ?? [];
        if (axes.Length == 0 && _noopWithEmptyAxes)
        {
            outputs[0] = data;
            return;
        }

        var reduced = new bool[data.Rank];
        foreach (var axis in axes)
        {
            var a = TensorShape.NormalizeAxis(axis, data.Rank, "axes");
            if (reduced[a])
            {
                throw new ArgumentException($"axis {axis} is given twice in 'axes'.");
            }

            reduced[a] = true;
        }

        if (axes.Length == 0)
        {
            Array.Fill(reduced, true);
        }

        outputs[0] = NumericDispatch.Invoke(data, new Apply(reduction, reduced, _keepDims), "input 'data'");
    }

    private readonly struct Apply(Reduction reduction, bool[] reduced, bool keepDims) : INumericFunction<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> data) where T : unmanaged, INumber<T>
        {
            var shape = data.Shape;
            var axes = reduced;
            var kept = shape.Select((d, a) => axes[a] ? 1 : d).ToArray();
            var keptStrides = TensorShape.Strides(kept);
            var target = new int[data.Length];
            var index = new int[shape.Length];
            for (var i = 0; i < data.Length; i++)
            {
                var flat = 0;
                for (var a = 0; a < shape.Length; a++)
                {
                    flat += reduced[a] ? 0 : index[a] * keptStrides[a];
                }

                target[i] = flat;
                for (var a = shape.Length - 1; a >= 0 && ++index[a] == shape[a]; a--)
                {
                    index[a] = 0;
                }
            }

            var outputShape = keepDims ? kept : shape.Where((_, a) => !axes[a]).ToArray();
            var count = TensorShape.ElementCount(kept);
            var result = new Tensor<T>(outputShape);
            if (reduction is Reduction.Max or Reduction.Min)
            {
                if (data.Length == 0 && count > 0)
                {
                    throw new ArgumentException($"Reduce{reduction} of an empty axis has no value.");
                }

                var seen = new bool[count];
                for (var i = 0; i < data.Length; i++)
                {
                    var v = data.Data[i];
                    ref var y = ref result.Data[target[i]];
                    if (!seen[target[i]] || T.IsNaN(v) || (reduction == Reduction.Max ? v > y : v < y))
                    {
                        y = v;
                        seen[target[i]] = true;
                    }
                }

                return result;
            }

            var sums = new double[count];
            Array.Fill(sums, reduction == Reduction.Prod ? 1 : 0);
            var logSumExpShift = new double[count];
            if (reduction == Reduction.LogSumExp)
            {
                // Shift by each output's largest input so that exp cannot overflow.
                Array.Fill(logSumExpShift, double.NegativeInfinity);
                for (var i = 0; i < data.Length; i++)
                {
                    logSumExpShift[target[i]] = System.Math.Max(logSumExpShift[target[i]], double.CreateTruncating(data.Data[i]));
                }
            }

            for (var i = 0; i < data.Length; i++)
            {
                var v = double.CreateTruncating(data.Data[i]);
                ref var s = ref sums[target[i]];
                switch (reduction)
                {
                    case Reduction.Prod: s *= v; break;
                    case Reduction.L1: s += System.Math.Abs(v); break;
                    case Reduction.L2 or Reduction.SumSquare: s += v * v; break;
                    case Reduction.LogSumExp: s += System.Math.Exp(v - logSumExpShift[target[i]]); break;
                    default: s += v; break;
                }
            }

            var perOutput = count == 0 ? 0 : data.Length / count;
            for (var k = 0; k < count; k++)
            {
                var s = sums[k];
                result.Data[k] = T.CreateTruncating(reduction switch
                {
                    Reduction.Mean => s / perOutput,
                    Reduction.L2 => System.Math.Sqrt(s),
                    Reduction.LogSum => System.Math.Log(s),
                    Reduction.LogSumExp => logSumExpShift[k] + System.Math.Log(s),
                    _ => s,
                });
            }

            return result;
        }
    }
}
