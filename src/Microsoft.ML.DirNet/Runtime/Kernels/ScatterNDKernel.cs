using System.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX ScatterND on every numeric type: a copy of data with the slices that indices [..., k] address replaced by
/// updates (reduction none), or combined with them (add, mul, max, min; opset 16 on). Negative indices count from the
/// end. Updates to one slice apply in index order.
/// </summary>
internal sealed class ScatterNDKernel(OnnxNode node) : IKernel
{
    private readonly string _reduction = node.GetString("reduction", "none");

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var data = KernelInputs.Required(inputs, 0, "data");
        var indicesTensor = KernelInputs.Required(inputs, 1, "indices");
        var indices = KernelInputs.Integers(indicesTensor, "indices");
        var updates = KernelInputs.Required(inputs, 2, "updates");
        if (_reduction is not ("none" or "add" or "mul" or "max" or "min"))
        {
            throw new ArgumentException($"reduction '{_reduction}' is not one of none, add, mul, max, min.");
        }

        if (updates.ElementType != data.ElementType)
        {
            throw new ArgumentException($"input 'updates' ({updates.ElementType}) must have data's element type ({data.ElementType}).");
        }

        var depth = indicesTensor.Rank == 0 ? 0 : indicesTensor.Shape[^1];
        if (indicesTensor.Rank == 0 || depth > data.Rank)
        {
            throw new ArgumentException($"input 'indices' {TensorShape.Format(indicesTensor.Shape)} must end in at most data's rank {data.Rank}.");
        }

        int[] expected = [.. indicesTensor.Shape[..^1], .. data.Shape[depth..]];
        KernelInputs.ExpectShape(updates, "updates", expected);
        var strides = TensorShape.Strides(data.Shape);
        var slice = TensorShape.ElementCount(data.Shape.AsSpan(depth));
        var offsets = new int[indices.Length / System.Math.Max(depth, 1)];
        for (var u = 0; u < offsets.Length; u++)
        {
            var offset = 0;
            for (var d = 0; d < depth; d++)
            {
                var i = indices[u * depth + d];
                if (i < -data.Shape[d] || i >= data.Shape[d])
                {
                    throw new ArgumentException($"index {i} is outside axis {d} of data {TensorShape.Format(data.Shape)}.");
                }

                offset += (int)(i < 0 ? i + data.Shape[d] : i) * strides[d];
            }

            offsets[u] = offset;
        }

        outputs[0] = NumericDispatch.Invoke(data, new Apply(_reduction, updates, offsets, slice), "input 'data'");
    }

    private readonly struct Apply(string reduction, Tensor updates, int[] offsets, int slice) : INumericFunction<Tensor>
    {
        public Tensor Invoke<T>(Tensor<T> data) where T : unmanaged, INumber<T>
        {
            var result = new Tensor<T>(data.Shape, (T[])data.Data.Clone());
            var y = result.Data;
            var u = updates.As<T>().Data;
            for (var k = 0; k < offsets.Length; k++)
            {
                for (var j = 0; j < slice; j++)
                {
                    ref var target = ref y[offsets[k] + j];
                    var v = u[k * slice + j];
                    target = reduction switch
                    {
                        "add" => target + v,
                        "mul" => target * v,
                        "max" => T.Max(target, v),
                        "min" => T.Min(target, v),
                        _ => v,
                    };
                }
            }

            return result;
        }
    }
}
