using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX Gather: picks slices of <c>data</c> along <c>axis</c> by int32/int64 indices (negative counts from the end).
/// This is both the embedding lookup and the shape arithmetic's "take dimension k". A compressed embedding table (a
/// bound operator, axis 0) rebuilds only the rows it is asked for.
/// </summary>
internal sealed class GatherKernel(OnnxNode node, CompressedMatrix? boundTable) : IKernel
{
    private readonly long _axis = node.GetInt("axis", 0);

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var indicesTensor = KernelInputs.Required(inputs, 1, "indices");
        var indices = KernelInputs.Integers(indicesTensor, "indices");
        if (boundTable is not null)
        {
            outputs[0] = GatherRows(boundTable, indices, indicesTensor.Shape);
            return;
        }

        var data = KernelInputs.Required(inputs, 0, "data");
        var axis = TensorShape.NormalizeAxis(_axis, data.Rank, "axis");
        var axisLength = data.Shape[axis];
        var outer = TensorShape.ElementCount(data.Shape.AsSpan(0, axis));
        var inner = TensorShape.ElementCount(data.Shape.AsSpan(axis + 1)) * data.ElementSize;
        var shape = data.Shape[..axis].Concat(indicesTensor.Shape).Concat(data.Shape[(axis + 1)..]).ToArray();
        var result = Tensor.Zeros(data.ElementType, shape);
        var src = data.AsBytes();
        var dst = result.AsBytes();
        var written = 0;
        for (var o = 0; o < outer; o++)
        {
            foreach (var raw in indices)
            {
                var index = raw < 0 ? raw + axisLength : raw;
                if (index < 0 || index >= axisLength)
                {
                    throw new ArgumentException($"index {raw} is out of range for axis {axis} of length {axisLength}.");
                }

                src.Slice((int)((o * axisLength + index) * inner), inner).CopyTo(dst.Slice(written, inner));
                written += inner;
            }
        }

        outputs[0] = result;
    }

    private static Tensor<float> GatherRows(CompressedMatrix table, long[] indices, int[] indicesShape)
    {
        var width = table.Columns;
        var result = new Tensor<float>([.. indicesShape, width]);
        for (var i = 0; i < indices.Length; i++)
        {
            var index = indices[i] < 0 ? indices[i] + table.Rows : indices[i];
            if (index < 0 || index >= table.Rows)
            {
                throw new ArgumentException($"index {indices[i]} is out of range for axis 0 of length {table.Rows}.");
            }

            table.ReadRow((int)index, result.Data.AsSpan(i * width, width));
        }

        return result;
    }
}
