using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.Spatial;

/// <summary>
/// ONNX Conv on float32, any number of spatial axes (1-D and 2-D in practice): X [N, C, …], W [M, C / group, k…],
/// optional B [M]; groups, strides, dilations, pads and auto_pad. Each image and group is one matrix product of W's
/// rows with the unfolded input windows (im2col).
/// </summary>
internal sealed class ConvKernel(OnnxNode node) : IKernel
{
    private readonly SpatialAttributes _window = new(node);
    private readonly long _group = node.GetInt("group", 1);

    /// <summary>From how many output positions the windows are laid out as columns (see Execute).</summary>
    private const int PositionsForColumns = 64;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.RequiredFloat(inputs, 0, "X");
        var w = KernelInputs.RequiredFloat(inputs, 1, "W");
        var b = KernelInputs.Optional(inputs, 2) is { } bias ? KernelInputs.Float(bias, "B") : null;
        if (x.Rank < 3 || w.Rank != x.Rank)
        {
            throw new ArgumentException($"X {TensorShape.Format(x.Shape)} and W {TensorShape.Format(w.Shape)} must both be [batch or filters, channels, spatial…] of one rank, at least 3.");
        }

        int batch = x.Shape[0], channels = x.Shape[1], filters = w.Shape[0];
        if (_group < 1 || channels % _group != 0 || filters % _group != 0 || w.Shape[1] != channels / _group)
        {
            throw new ArgumentException($"group {_group} does not divide X's {channels} channels and W's {filters} filters into W's {w.Shape[1]} channels per group.");
        }

        if (b is not null && b.Length != filters)
        {
            throw new ArgumentException($"input 'B' has {b.Length} values where W has {filters} filters.");
        }

        var kernel = w.Shape[2..];
        if (_window.KernelShape is { } declared && !declared.SequenceEqual(kernel.Select(k => (long)k)))
        {
            throw new ArgumentException($"attribute 'kernel_shape' [{string.Join(", ", declared)}] differs from W's {TensorShape.Format(kernel)}.");
        }

        var geometry = _window.Resolve(x.Shape[2..], kernel);
        var groups = (int)_group;
        int groupChannels = channels / groups, groupFilters = filters / groups;
        int inputSize = geometry.InputSize, kernelSize = geometry.KernelSize, outputSize = geometry.OutputSize;
        var positions = geometry.InputPositions();
        var y = new Tensor<float>([batch, filters, .. geometry.Output]);
        // Few output positions (a streaming call's frame): one contiguous window per position, dotted with each filter,
        // so the vectors run along the long window; many positions: the windows as columns, the vectors along them.
        var byPosition = outputSize < PositionsForColumns;
        var columns = new float[groupChannels * kernelSize * outputSize];
        var width = groupChannels * kernelSize;
        for (var n = 0; n < batch; n++)
        {
            for (var g = 0; g < groups; g++)
            {
                for (var c = 0; c < groupChannels; c++)
                {
                    var image = x.Data.AsSpan((n * channels + g * groupChannels + c) * inputSize, inputSize);
                    for (var k = 0; k < kernelSize; k++)
                    {
                        var from = positions.AsSpan(k * outputSize, outputSize);
                        var q = c * kernelSize + k;
                        for (var o = 0; o < outputSize; o++)
                        {
                            columns[byPosition ? o * width + q : q * outputSize + o] = from[o] < 0 ? 0f : image[from[o]];
                        }
                    }
                }

                var target = y.Data.AsSpan((n * filters + g * groupFilters) * outputSize, groupFilters * outputSize);
                var weights = w.Data.AsSpan(g * groupFilters * width, groupFilters * width);
                if (byPosition)
                {
                    MatrixMultiply.MultiplyByTransposed(weights, groupFilters, width, columns, outputSize, target, accumulate: false);
                }
                else
                {
                    MatrixMultiply.Multiply(weights, groupFilters, width, columns, outputSize, target, accumulate: false);
                }

                if (b is not null)
                {
                    for (var m = 0; m < groupFilters; m++)
                    {
                        TensorPrimitives.Add(target.Slice(m * outputSize, outputSize), b.Data[g * groupFilters + m], target.Slice(m * outputSize, outputSize));
                    }
                }
            }
        }

        outputs[0] = y;
    }
}
