using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX MatMul on float32 with numpy semantics: 1-D operands are promoted, leading batch dims broadcast. When B is a
/// compressed weight (bound operator W = Bᵀ), every row of A is multiplied by the operator directly.
/// </summary>
internal sealed class MatMulKernel(CompressedMatrix? boundB) : IKernel
{
    /// <summary>Below how many rows of A a 2-D B that is not a constant runs packed, packing it per call (above, the row-major product reads B once per four rows anyway).</summary>
    private const int PackedRows = 16;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var a = KernelInputs.RequiredFloat(inputs, 0, "A");
        if (boundB is not null)
        {
            outputs[0] = MultiplyRows(a, boundB);
            return;
        }

        var b = KernelInputs.RequiredFloat(inputs, 1, "B");
        if (a.Rank == 0 || b.Rank == 0)
        {
            throw new ArgumentException("MatMul does not take scalars.");
        }

        var aShape = a.Rank == 1 ? new[] { 1, a.Shape[0] } : a.Shape;
        var bShape = b.Rank == 1 ? new[] { b.Shape[0], 1 } : b.Shape;
        int m = aShape[^2], k = aShape[^1], n = bShape[^1];
        if (bShape[^2] != k)
        {
            throw new ArgumentException(
                $"inner dimensions differ: A is {TensorShape.Format(a.Shape)} and B is {TensorShape.Format(b.Shape)}.");
        }

        var batchShape = TensorShape.Broadcast(aShape[..^2], bShape[..^2]);
        var outShape = batchShape.Concat(new[] { m, n }).ToArray();
        var result = new Tensor<float>(outShape);
        if (bShape.Length == 2)
        {
            // The common case, a weight matrix: every batch row of A is one row of one big product. A constant B (a
            // weight) runs packed, as a recurrent cell's matrix does, packed once at first use; so does any B for a few
            // rows (a streaming call), packed per call. Chosen by the model and the shapes alone, so a run's result
            // never depends on earlier runs.
            var rows = a.Length / System.Math.Max(k, 1);
            if (b.Rank == 2 && (rows < PackedRows || ConstantArrays.Contains(b.Data)) && PackedMatrix.IsSupported)
            {
                PackedMatrix.ForTransposed(b.Data, k, n).Multiply(a.Data, rows, result.Data, accumulate: false);
            }
            else
            {
                MatrixMultiply.Multiply(a.Data, rows, k, b.Data, n, result.Data, accumulate: false);
            }
        }
        else
        {
            var batch = TensorShape.ElementCount(batchShape);
            var aFull = StridedCopy.Broadcast(a.Reshape(aShape), batchShape.Concat(new[] { m, k }).ToArray()).As<float>().Data;
            var bFull = StridedCopy.Broadcast(b.Reshape(bShape), batchShape.Concat(new[] { k, n }).ToArray()).As<float>().Data;
            for (var i = 0; i < batch; i++)
            {
                MatrixMultiply.Multiply(aFull.AsSpan(i * m * k, m * k), m, k, bFull.AsSpan(i * k * n, k * n), n,
                    result.Data.AsSpan(i * m * n, m * n), accumulate: false);
            }
        }

        // Drop the dimensions that 1-D promotion added.
        var finalShape = outShape.ToList();
        if (b.Rank == 1) finalShape.RemoveAt(finalShape.Count - 1);
        if (a.Rank == 1) finalShape.RemoveAt(finalShape.Count - (b.Rank == 1 ? 1 : 2));
        outputs[0] = result.Reshape(finalShape.ToArray());
    }

    /// <summary>A[..., k]·B for B = Wᵀ held by an operator: [..., k] → [..., W.Rows].</summary>
    private static Tensor<float> MultiplyRows(Tensor<float> a, CompressedMatrix weight)
    {
        if (a.Rank == 0 || a.Shape[^1] != weight.Columns)
        {
            throw new ArgumentException(
                $"inner dimensions differ: A is {TensorShape.Format(a.Shape)} and B is [{weight.Columns}, {weight.Rows}].");
        }

        var rows = a.Length / weight.Columns;
        var result = new Tensor<float>([.. a.Shape[..^1], weight.Rows]);
        weight.Multiply(a.Data, rows, result.Data, accumulate: false);
        return result;
    }
}
