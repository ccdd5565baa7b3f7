using System.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX Clip on every numeric type: each element limited to [min, max]. From opset 11 the bounds are optional scalar
/// inputs (an absent one does not limit); before, float attributes (default: the float range).
/// </summary>
internal sealed class ClipKernel(OnnxNode node, long opset) : IKernel
{
    private readonly float? _minAttribute = opset < 11 ? node.GetFloat("min", float.MinValue) : null;
    private readonly float? _maxAttribute = opset < 11 ? node.GetFloat("max", float.MaxValue) : null;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.Required(inputs, 0, "input");
        var min = Bound(inputs, 1, "min", _minAttribute, x);
        var max = Bound(inputs, 2, "max", _maxAttribute, x);
        outputs[0] = NumericDispatch.Invoke(x, new Apply(min, max), "input 'input'");
    }

    private static Tensor? Bound(ReadOnlySpan<Tensor?> inputs, int index, string name, float? attribute, Tensor x)
    {
        if (attribute is { } value)
        {
            return CastKernel.Convert(Tensor<float>.Scalar(value), x.ElementType);
        }

        var bound = KernelInputs.Optional(inputs, index);
        if (bound is null)
        {
            return null;
        }

        if (bound.Length != 1 || bound.ElementType != x.ElementType)
        {
            throw new ArgumentException($"input '{name}' must be one {x.ElementType} value but is {bound}.");
        }

        return bound;
    }

    private readonly struct Apply(Tensor? min, Tensor? max) : INumericFunction<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> x) where T : unmanaged, INumber<T>
        {
            var lo = min is null ? (T?)null : min.As<T>().Data[0];
            var hi = max is null ? (T?)null : max.As<T>().Data[0];
            var result = new Tensor<T>(x.Shape);
            for (var i = 0; i < x.Length; i++)
            {
                var v = x.Data[i];
                if (lo is { } l && v < l) v = l;
                if (hi is { } h && v > h) v = h;
                result.Data[i] = v;
            }

            return result;
        }
    }
}
