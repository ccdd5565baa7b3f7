using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime.Operators;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX Gemm on float32: Y = alpha · op(A) · op(B) + beta · C, op transposing per transA / transB. When B is a
/// compressed weight, the bound operator holds op(B)ᵀ = W [n × k] and multiplies directly.
/// </summary>
internal sealed class GemmKernel(OnnxNode node, CompressedMatrix? boundB) : IKernel
{
    private readonly float _alpha = node.GetFloat("alpha", 1f);
    private readonly float _beta = node.GetFloat("beta", 1f);
    private readonly bool _transA = node.GetInt("transA", 0) != 0;
    private readonly bool _transB = node.GetInt("transB", 0) != 0;
    private readonly WeightViews _weights = new();

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var a = KernelInputs.RequiredFloat(inputs, 0, "A");
        var b = boundB is null ? KernelInputs.RequiredFloat(inputs, 1, "B") : null;
        if (a.Rank != 2 || (b is not null && b.Rank != 2))
        {
            throw new ArgumentException($"A and B must be 2-D; got {TensorShape.Format(a.Shape)} and {TensorShape.Format(b?.Shape ?? [boundB!.Columns, boundB.Rows])}.");
        }

        var aData = _transA ? StridedCopy.Copy(a, 0, [1, a.Shape[1]], [a.Shape[1], a.Shape[0]]).As<float>().Data : a.Data;
        int m = _transA ? a.Shape[1] : a.Shape[0], k = _transA ? a.Shape[0] : a.Shape[1];
        int kb = b is null ? boundB!.Columns : _transB ? b.Shape[1] : b.Shape[0];
        int n = b is null ? boundB!.Rows : _transB ? b.Shape[0] : b.Shape[1];
        if (k != kb)
        {
            throw new ArgumentException($"inner dimensions differ: op(A) is [{m}, {k}] and op(B) is [{kb}, {n}].");
        }

        var y = new Tensor<float>([m, n]);
        if (b is null)
        {
            boundB!.Multiply(aData, m, y.Data, accumulate: false);
        }
        else if (_transB)
        {
            // B is [outputs, inputs], the layout of a linear layer's weight: the packed kernels apply (packed once per
            // weight array, so a constant weight is packed once per model).
            _weights.For(b, 1, n, k)[0].Multiply(aData, m, y.Data, accumulate: false);
        }
        else
        {
            MatrixMultiply.Multiply(aData, m, k, b.Data, n, y.Data, accumulate: false);
        }

        if (_alpha != 1f)
        {
            TensorPrimitives.Multiply(y.Data, _alpha, y.Data);
        }

        if (KernelInputs.Optional(inputs, 2) is { } cInput && _beta != 0f)
        {
            var c = KernelInputs.Float(cInput, "C");
            var row = c.Length == n && (c.Rank == 1 || (c.Rank == 2 && c.Shape[0] == 1)) ? c.Data : null;
            if (row is not null)
            {
                // A bias vector (a linear layer): added to each output row without materialising the broadcast.
                for (var i = 0; i < m; i++)
                {
                    var yi = y.Data.AsSpan(i * n, n);
                    TensorPrimitives.MultiplyAdd(row, _beta, yi, yi);
                }
            }
            else
            {
                var full = StridedCopy.Broadcast(c, [m, n]).As<float>().Data;
                TensorPrimitives.MultiplyAdd(full, _beta, y.Data, y.Data);
            }
        }

        outputs[0] = y;
    }
}
