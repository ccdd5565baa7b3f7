using Microsoft.ML.DirNet.Onnx;

namespace Microsoft.ML.DirNet.Runtime.Kernels.Spatial;

/// <summary>
/// The window attributes that ONNX Conv, ConvTranspose and the pooling operators share (auto_pad, kernel_shape,
/// strides, dilations, pads, ceil_mode), read once from the node; <see cref="Resolve"/> fixes them for one input's
/// spatial dimensions.
/// </summary>
internal sealed class SpatialAttributes(OnnxNode node)
{
    public string AutoPad { get; } = node.GetString("auto_pad", "NOTSET");

    public long[]? KernelShape { get; } = node.GetInts("kernel_shape");

    public long[]? Strides { get; } = node.GetInts("strides");

    public long[]? Dilations { get; } = node.GetInts("dilations");

    public long[]? Pads { get; } = node.GetInts("pads");

    public bool CeilMode { get; } = node.GetInt("ceil_mode", 0) != 0;

    /// <summary>
    /// The geometry of a forward window (Conv, pooling) over <paramref name="input"/> spatial dimensions with a kernel
    /// of <paramref name="kernel"/>: each output dimension is floor (or with ceil_mode ceil) of
    /// (input + pads − dilated kernel) / stride + 1; SAME_UPPER / SAME_LOWER pad to ceil(input / stride), the odd
    /// unit at the end or at the start; VALID pads nothing.
    /// </summary>
    public WindowGeometry Resolve(int[] input, int[] kernel)
    {
        var rank = input.Length;
        var strides = Values(Strides, rank, "strides", 1);
        var dilations = Values(Dilations, rank, "dilations", 1);
        var begin = new int[rank];
        var end = new int[rank];
        var output = new int[rank];
        for (var d = 0; d < rank; d++)
        {
            var extent = (kernel[d] - 1) * dilations[d] + 1;
            switch (AutoPad)
            {
                case "SAME_UPPER" or "SAME_LOWER":
                    output[d] = (input[d] + strides[d] - 1) / strides[d];
                    var total = System.Math.Max((output[d] - 1) * strides[d] + extent - input[d], 0);
                    begin[d] = AutoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                    end[d] = total - begin[d];
                    break;
                case "VALID" or "NOTSET":
                    if (AutoPad == "NOTSET" && Pads is { } pads)
                    {
                        if (pads.Length != 2 * rank)
                        {
                            throw new ArgumentException($"attribute 'pads' holds {pads.Length} values where {2 * rank} are needed.");
                        }

                        begin[d] = checked((int)pads[d]);
                        end[d] = checked((int)pads[d + rank]);
                    }

                    var span = input[d] + begin[d] + end[d] - extent;
                    if (span < 0)
                    {
                        throw new ArgumentException($"the window ({extent} wide on spatial axis {d}) is wider than the padded input ({input[d] + begin[d] + end[d]}).");
                    }

                    output[d] = (CeilMode ? (span + strides[d] - 1) / strides[d] : span / strides[d]) + 1;
                    if (CeilMode && (output[d] - 1) * strides[d] >= input[d] + begin[d])
                    {
                        // The last window would start in the end padding only: PyTorch and ONNX Runtime drop it.
                        output[d]--;
                    }

                    break;
                default:
                    throw new ArgumentException($"auto_pad '{AutoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID.");
            }
        }

        return new WindowGeometry(input, kernel, strides, dilations, begin, output) { PadsEnd = end };
    }

    /// <summary>An attribute's values, checked to have one per spatial axis and to be positive; the default where absent.</summary>
    public static int[] Values(long[]? given, int rank, string name, int fallback)
    {
        if (given is null)
        {
            return Enumerable.Repeat(fallback, rank).ToArray();
        }

        if (given.Length != rank || given.Any(v => v < 1 || v > int.MaxValue))
        {
            throw new ArgumentException($"attribute '{name}' [{string.Join(", ", given)}] must hold {rank} positive values, one per spatial axis.");
        }

        return Array.ConvertAll(given, v => (int)v);
    }
}

/// <summary>
/// A window sliding over spatial dimensions: output position o and kernel offset k read input position
/// o · stride − pad_begin + k · dilation on each axis.
/// </summary>
internal sealed record WindowGeometry(int[] Input, int[] Kernel, int[] Strides, int[] Dilations, int[] PadsBegin, int[] Output)
{
    /// <summary>The padding after the input on each axis (for counting padded positions; zeros where not given).</summary>
    public int[] PadsEnd { get; init; } = new int[Input.Length];

    public int InputSize => Tensors.TensorShape.ElementCount(Input);

    public int KernelSize => Tensors.TensorShape.ElementCount(Kernel);

    public int OutputSize => Tensors.TensorShape.ElementCount(Output);

    /// <summary>
    /// For every kernel offset k (row) and output position o (column), the flat input position the window reads, or
    /// −1 where it falls in the padding: [KernelSize × OutputSize].
    /// </summary>
    public int[] InputPositions()
    {
        // The sizes are products over the axes: computed once here, not per position (a streaming call's Conv runs this every call).
        var (rank, kernelSize, outputSize) = (Input.Length, KernelSize, OutputSize);
        var table = new int[kernelSize * outputSize];
        var k = new int[rank];
        var o = new int[rank];
        for (var kernelIndex = 0; kernelIndex < kernelSize; kernelIndex++)
        {
            for (var outputIndex = 0; outputIndex < outputSize; outputIndex++)
            {
                var flat = 0;
                for (var d = 0; d < rank && flat >= 0; d++)
                {
                    var i = o[d] * Strides[d] - PadsBegin[d] + k[d] * Dilations[d];
                    flat = i < 0 || i >= Input[d] ? -1 : flat * Input[d] + i;
                }

                table[kernelIndex * outputSize + outputIndex] = flat;
                Advance(o, Output);
            }

            Advance(k, Kernel);
        }

        return table;
    }

    /// <summary>For every output position, how many of its window's positions lie in the input or its pads (not beyond the end pad).</summary>
    public int[] PaddedWindowSizes()
    {
        var rank = Input.Length;
        var sizes = new int[OutputSize];
        var o = new int[rank];
        for (var outputIndex = 0; outputIndex < sizes.Length; outputIndex++)
        {
            var size = 1;
            for (var d = 0; d < rank; d++)
            {
                var inside = 0;
                for (var k = 0; k < Kernel[d]; k++)
                {
                    var i = o[d] * Strides[d] - PadsBegin[d] + k * Dilations[d];
                    if (i >= -PadsBegin[d] && i < Input[d] + PadsEnd[d]) inside++;
                }

                size *= inside;
            }

            sizes[outputIndex] = size;
            Advance(o, Output);
        }

        return sizes;
    }

    private static void Advance(int[] index, int[] shape)
    {
        for (var d = index.Length - 1; d >= 0 && ++index[d] == shape[d]; d--)
        {
            index[d] = 0;
        }
    }
}
