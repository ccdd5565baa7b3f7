using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.Spatial;

/// <summary>The ONNX pooling operators.</summary>
internal enum Pooling
{
    Max,
    Average,
    GlobalMax,
    GlobalAverage,
}

/// <summary>
/// ONNX MaxPool (with its optional Indices output, row- or column-major), AveragePool (count_include_pad) and
/// GlobalMaxPool / GlobalAveragePool over X [N, C, spatial…], any number of spatial axes. Float32; MaxPool also takes
/// the other numeric types through float32 (exact for 8- and 16-bit integers).
/// </summary>
internal sealed class PoolKernel(OnnxNode node, Pooling pooling) : IKernel
{
    private readonly SpatialAttributes _window = new(node);
    private readonly bool _countIncludePad = node.GetInt("count_include_pad", 0) != 0;
    private readonly bool _columnMajor = node.GetInt("storage_order", 0) != 0;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var given = KernelInputs.Required(inputs, 0, "X");
        var x = given is Tensor<float> f ? f
            : pooling == Pooling.Max && given.ElementType != TensorElementType.Bool ? CastKernel.Convert(given, TensorElementType.Float).As<float>()
            : KernelInputs.Float(given, "X");
        if (x.Rank < 3)
        {
            throw new ArgumentException($"input 'X' {TensorShape.Format(x.Shape)} must be [batch, channels, spatial…].");
        }

        var spatial = x.Shape[2..];
        var kernel = pooling is Pooling.GlobalMax or Pooling.GlobalAverage ? spatial
            : _window.KernelShape is { } declared ? SpatialAttributes.Values(declared, spatial.Length, "kernel_shape", 1)
            : throw new ArgumentException("attribute 'kernel_shape' is required.");
        var geometry = pooling is Pooling.GlobalMax or Pooling.GlobalAverage
            ? new WindowGeometry(spatial, spatial, Ones(spatial.Length), Ones(spatial.Length), new int[spatial.Length], Ones(spatial.Length))
            : _window.Resolve(spatial, kernel);
        int planes = x.Shape[0] * x.Shape[1], inputSize = geometry.InputSize, kernelSize = geometry.KernelSize, outputSize = geometry.OutputSize;
        var positions = geometry.InputPositions();
        var counts = pooling == Pooling.Average && _countIncludePad ? geometry.PaddedWindowSizes() : null;
        var y = new Tensor<float>([x.Shape[0], x.Shape[1], .. geometry.Output]);
        var indices = outputs.Length > 1 ? new Tensor<long>(y.Shape) : null;
        for (var plane = 0; plane < planes; plane++)
        {
            var image = x.Data.AsSpan(plane * inputSize, inputSize);
            for (var o = 0; o < outputSize; o++)
            {
                var best = float.NegativeInfinity;
                var bestAt = -1;
                var sum = 0.0;
                var inside = 0;
                for (var k = 0; k < kernelSize; k++)
                {
                    var at = positions[k * outputSize + o];
                    if (at < 0) continue;
                    var v = image[at];
                    inside++;
                    sum += v;
                    if (bestAt < 0 || v > best || float.IsNaN(v))
                    {
                        (best, bestAt) = (v, at);
                    }
                }

                y.Data[plane * outputSize + o] = pooling is Pooling.Max or Pooling.GlobalMax
                    ? best
                    : (float)(sum / (counts?[o] ?? System.Math.Max(inside, 1)));
                if (indices is not null)
                {
                    indices.Data[plane * outputSize + o] = (long)plane * inputSize + (bestAt < 0 ? 0 : StorageIndex(bestAt, spatial));
                }
            }
        }

        outputs[0] = given is Tensor<float> ? y : CastKernel.Convert(y, given.ElementType);
        if (indices is not null)
        {
            outputs[1] = indices;
        }
    }

    /// <summary>A flat row-major spatial position as the Indices output stores it (column-major with storage_order 1).</summary>
    private int StorageIndex(int rowMajor, int[] spatial)
    {
        if (!_columnMajor)
        {
            return rowMajor;
        }

        // Column-major: the first spatial axis varies fastest.
        var column = 0;
        var stride = 1;
        for (var d = 0; d < spatial.Length; d++)
        {
            var after = 1;
            for (var e = d + 1; e < spatial.Length; e++) after *= spatial[e];
            column += rowMajor / after % spatial[d] * stride;
            stride *= spatial[d];
        }

        return column;
    }

    private static int[] Ones(int rank) => Enumerable.Repeat(1, rank).ToArray();
}
