using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.Spatial;

/// <summary>
/// ONNX ConvTranspose on float32, any number of spatial axes: X [N, C, …], W [C, M / group, k…], optional B [M]; groups,
/// strides, dilations, pads, output_padding, output_shape and auto_pad. Input position i and kernel offset k add into
/// output position i · stride − pad_begin + k · dilation. Where output_shape or auto_pad fixes the output size, the
/// total padding is split as the ONNX spec splits it: the odd unit at the start for SAME_LOWER, at the end otherwise.
/// </summary>
internal sealed class ConvTransposeKernel(OnnxNode node) : IKernel
{
    private readonly SpatialAttributes _window = new(node);
    private readonly long _group = node.GetInt("group", 1);
    private readonly long[]? _outputPadding = node.GetInts("output_padding");
    private readonly long[]? _outputShape = node.GetInts("output_shape");

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.RequiredFloat(inputs, 0, "X");
        var w = KernelInputs.RequiredFloat(inputs, 1, "W");
        var b = KernelInputs.Optional(inputs, 2) is { } bias ? KernelInputs.Float(bias, "B") : null;
        if (x.Rank < 3 || w.Rank != x.Rank)
        {
            throw new ArgumentException($"X {TensorShape.Format(x.Shape)} and W {TensorShape.Format(w.Shape)} must both be [batch or channels, channels or filters, spatial…] of one rank, at least 3.");
        }

        int batch = x.Shape[0], channels = x.Shape[1];
        var groups = (int)_group;
        if (groups < 1 || w.Shape[0] != channels || channels % groups != 0)
        {
            throw new ArgumentException($"W {TensorShape.Format(w.Shape)} must have X's {channels} channels first, divisible by group {_group}.");
        }

        int groupChannels = channels / groups, groupFilters = w.Shape[1], filters = groupFilters * groups;
        if (b is not null && b.Length != filters)
        {
            throw new ArgumentException($"input 'B' has {b.Length} values where the output has {filters} channels.");
        }

        var geometry = Resolve(x.Shape[2..], w.Shape[2..]);
        // The geometry is seen from X (see Resolve): its "input" is Y's image, its "output" X's.
        int inputSize = geometry.OutputSize, kernelSize = geometry.KernelSize, outputSize = geometry.InputSize;
        var positions = geometry.InputPositions();

        // transposed[(m·K + k), c] = W[c, m, k]: one group's weights as the left factor of columns = Wᵀ · X.
        var transposed = new float[groupFilters * kernelSize * groupChannels];
        var columns = new float[groupFilters * kernelSize * inputSize];
        var y = new Tensor<float>([batch, filters, .. geometry.Input]);
        for (var g = 0; g < groups; g++)
        {
            for (var c = 0; c < groupChannels; c++)
            {
                for (var mk = 0; mk < groupFilters * kernelSize; mk++)
                {
                    transposed[mk * groupChannels + c] = w.Data[(g * groupChannels + c) * groupFilters * kernelSize + mk];
                }
            }

            for (var n = 0; n < batch; n++)
            {
                MatrixMultiply.Multiply(transposed, groupFilters * kernelSize, groupChannels,
                    x.Data.AsSpan((n * channels + g * groupChannels) * inputSize, groupChannels * inputSize), inputSize, columns, accumulate: false);
                for (var m = 0; m < groupFilters; m++)
                {
                    var image = y.Data.AsSpan((n * filters + g * groupFilters + m) * outputSize, outputSize);
                    for (var k = 0; k < kernelSize; k++)
                    {
                        var row = columns.AsSpan((m * kernelSize + k) * inputSize, inputSize);
                        var to = positions.AsSpan(k * inputSize, inputSize);
                        for (var i = 0; i < inputSize; i++)
                        {
                            if (to[i] >= 0) image[to[i]] += row[i];
                        }
                    }

                    if (b is not null)
                    {
                        TensorPrimitives.Add(image, b.Data[g * groupFilters + m], image);
                    }
                }
            }
        }

        outputs[0] = y;
    }

    /// <summary>
    /// The geometry seen from the input: "input" here is the output image, so that <see cref="WindowGeometry.InputPositions"/>
    /// gives, for kernel offset k and input position i, the output position they add into (or −1 outside it).
    /// </summary>
    private WindowGeometry Resolve(int[] input, int[] kernel)
    {
        var rank = input.Length;
        if (_window.KernelShape is { } declared && !declared.SequenceEqual(kernel.Select(k => (long)k)))
        {
            throw new ArgumentException($"attribute 'kernel_shape' [{string.Join(", ", declared)}] differs from W's {TensorShape.Format(kernel)}.");
        }

        var strides = SpatialAttributes.Values(_window.Strides, rank, "strides", 1);
        var dilations = SpatialAttributes.Values(_window.Dilations, rank, "dilations", 1);
        var extra = _outputPadding is null ? new long[rank] : _outputPadding.Length == rank
            ? _outputPadding
            : throw new ArgumentException($"attribute 'output_padding' holds {_outputPadding.Length} values where {rank} are needed.");
        var requested = _outputShape is null ? null : _outputShape.Length >= rank
            ? _outputShape[^rank..]
            : throw new ArgumentException($"attribute 'output_shape' holds {_outputShape.Length} values where {rank} are needed.");
        var output = new int[rank];
        var begin = new int[rank];
        for (var d = 0; d < rank; d++)
        {
            var full = strides[d] * (input[d] - 1) + (int)extra[d] + (kernel[d] - 1) * dilations[d] + 1;
            var target = requested is not null ? (int)requested[d]
                : _window.AutoPad is "SAME_UPPER" or "SAME_LOWER" ? input[d] * strides[d] : -1;
            if (target >= 0)
            {
                var total = full - target;
                begin[d] = _window.AutoPad == "SAME_LOWER" ? total - total / 2 : total / 2;
                output[d] = target;
            }
            else
            {
                var pads = _window.AutoPad == "VALID" ? null : _window.Pads;
                if (pads is not null && pads.Length != 2 * rank)
                {
                    throw new ArgumentException($"attribute 'pads' holds {pads.Length} values where {2 * rank} are needed.");
                }

                begin[d] = pads is null ? 0 : (int)pads[d];
                output[d] = full - begin[d] - (pads is null ? 0 : (int)pads[d + rank]);
            }

            if (output[d] <= 0)
            {
                throw new ArgumentException($"the output would be {output[d]} long on spatial axis {d}.");
            }
        }

        // Seen from the input positions (the window's "output"): i · stride − begin + k · dilation lands in the output.
        return new WindowGeometry(output, kernel, strides, dilations, begin, input);
    }
}
