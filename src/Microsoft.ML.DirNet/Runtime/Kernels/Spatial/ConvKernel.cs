using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime.Operators;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.Spatial;

/// <summary>
/// ONNX Conv on float32, any number of spatial axes (1-D and 2-D in practice): X [N, C, …], W [M, C / group, k…],
/// optional B [M]; groups, strides, dilations, pads and auto_pad. Each image and group is one matrix product of W's
/// rows with the unfolded input windows (im2col): with few output positions (a streaming call's frame) the filters
/// as a packed matrix times each window, as a recurrent cell multiplies its state.
/// </summary>
internal sealed class ConvKernel(OnnxNode node) : IKernel
{
    private readonly SpatialAttributes _window = new(node);
    private readonly long _group = node.GetInt("group", 1);

    /// <summary>From how many output positions the windows are laid out as columns (see Execute).</summary>
    private const int PositionsForColumns = 64;

    /// <summary>From how long a contiguous window is copied whole rather than element by element (a pointwise Conv's windows are single values).</summary>
    private const int WholeWindowCopy = 8;

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
        var (positions, contiguous) = Windows(geometry);
        var y = new Tensor<float>([batch, filters, .. geometry.Output]);
        // Few output positions (a streaming call's frame): one contiguous window per position, multiplied by the packed
        // filters as a recurrent state is; many positions: the windows as columns, the vectors along them.
        var byPosition = outputSize < PositionsForColumns;
        var columns = new float[groupChannels * kernelSize * outputSize];
        var width = groupChannels * kernelSize;
        var byFilter = byPosition ? new float[outputSize * groupFilters] : [];
        CompressedMatrix[]? filterMatrices = null;
        // A pointwise filter on a single position (a frame, as DTLN's Conv1D layers see it): the channels are the window.
        var wholeInput = byPosition && kernelSize == 1 && inputSize == 1 && outputSize == 1 && contiguous[0];
        for (var n = 0; n < batch; n++)
        {
            for (var g = 0; g < groups; g++)
            {
                var windows = wholeInput ? x.Data.AsSpan((n * channels + g * groupChannels) * inputSize, groupChannels) : columns;
                for (var c = 0; c < groupChannels && !wholeInput; c++)
                {
                    var image = x.Data.AsSpan((n * channels + g * groupChannels + c) * inputSize, inputSize);
                    if (byPosition)
                    {
                        for (var o = 0; o < outputSize; o++)
                        {
                            var at = o * width + c * kernelSize;
                            if (contiguous[o] && kernelSize >= WholeWindowCopy)
                            {
                                image.Slice(positions[o], kernelSize).CopyTo(columns.AsSpan(at, kernelSize));
                                continue;
                            }

                            for (var k = 0; k < kernelSize; k++)
                            {
                                var from = positions[k * outputSize + o];
                                columns[at + k] = from < 0 ? 0f : image[from];
                            }
                        }

                        continue;
                    }

                    for (var k = 0; k < kernelSize; k++)
                    {
                        var from = positions.AsSpan(k * outputSize, outputSize);
                        var q = c * kernelSize + k;
                        for (var o = 0; o < outputSize; o++)
                        {
                            columns[q * outputSize + o] = from[o] < 0 ? 0f : image[from[o]];
                        }
                    }
                }

                var target = y.Data.AsSpan((n * filters + g * groupFilters) * outputSize, groupFilters * outputSize);
                if (byPosition)
                {
                    // The group's filters as a packed matrix (made once per W tensor), times each window; then by filter.
                    filterMatrices ??= _filters.For(w, groups, groupFilters, width);
                    filterMatrices[g].Multiply(windows, outputSize, byFilter, accumulate: false);
                    for (var m = 0; m < groupFilters; m++)
                    {
                        var offset = b is null ? 0f : b.Data[g * groupFilters + m];
                        for (var o = 0; o < outputSize; o++)
                        {
                            target[m * outputSize + o] = byFilter[o * groupFilters + m] + offset;
                        }
                    }

                    continue;
                }

                MatrixMultiply.Multiply(w.Data.AsSpan(g * groupFilters * width, groupFilters * width), groupFilters, width, columns, outputSize, target, accumulate: false);

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

    /// <summary>
    /// The window table of <paramref name="geometry"/> (<see cref="WindowGeometry.InputPositions"/>) and, per output
    /// position, whether its window is one contiguous run of the input, kept for the next run of the same shapes (a
    /// streaming call's shapes repeat).
    /// </summary>
    private (int[] Positions, bool[] Contiguous) Windows(WindowGeometry geometry)
    {
        if (_windows is { } known && known.Input.SequenceEqual(geometry.Input) && known.Kernel.SequenceEqual(geometry.Kernel))
        {
            return (known.Positions, known.Contiguous);
        }

        var positions = geometry.InputPositions();
        var (kernelSize, outputSize) = (geometry.KernelSize, geometry.OutputSize);
        var contiguous = new bool[outputSize];
        for (var o = 0; o < outputSize; o++)
        {
            var first = positions[o];
            contiguous[o] = first >= 0 && Enumerable.Range(1, kernelSize - 1).All(k => positions[k * outputSize + o] == first + k);
        }

        _windows = new WindowTable(geometry.Input, geometry.Kernel, positions, contiguous);
        return (positions, contiguous);
    }

    private sealed record WindowTable(int[] Input, int[] Kernel, int[] Positions, bool[] Contiguous);

    private WindowTable? _windows;

    /// <summary>W's filters per group as matrices [filters / group × channels / group · kernel], kept between runs.</summary>
    private readonly WeightViews _filters = new();
}
