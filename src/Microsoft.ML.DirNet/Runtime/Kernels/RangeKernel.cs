using System.Numerics;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX Range: start, start + delta, … up to (not including) limit, from three scalars of one numeric type;
/// max(ceil((limit − start) / delta), 0) elements.
/// </summary>
internal sealed class RangeKernel : IKernel
{
    /// <summary>The most elements a range may have: a limit or delta from damaged data must not allocate gigabytes.</summary>
    private const int MaxElements = 1 << 28;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var start = KernelInputs.Required(inputs, 0, "start");
        var limit = KernelInputs.Required(inputs, 1, "limit");
        var delta = KernelInputs.Required(inputs, 2, "delta");
        foreach (var (t, name) in new[] { (start, "start"), (limit, "limit"), (delta, "delta") })
        {
            if (t.Length != 1 || t.ElementType != start.ElementType)
            {
                throw new ArgumentException($"input '{name}' must be one {start.ElementType} value but is {t}.");
            }
        }

        outputs[0] = NumericDispatch.Invoke(start, new Apply(limit, delta), "input 'start'");
    }

    private readonly struct Apply(Tensor limit, Tensor delta) : INumericFunction<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> start) where T : unmanaged, INumber<T>
        {
            var first = start.Data[0];
            var step = delta.As<T>().Data[0];
            if (T.IsZero(step))
            {
                throw new ArgumentException("input 'delta' is zero.");
            }

            var span = (double.CreateTruncating(limit.As<T>().Data[0]) - double.CreateTruncating(first)) / double.CreateTruncating(step);
            var count = System.Math.Max(System.Math.Ceiling(span), 0);
            if (count > MaxElements)
            {
                throw new ArgumentException($"the range would hold {count:G} elements, more than {MaxElements:N0}.");
            }

            var result = new Tensor<T>([(int)count]);
            for (var i = 0; i < result.Length; i++)
            {
                result.Data[i] = first + T.CreateTruncating(i) * step;
            }

            return result;
        }
    }
}
