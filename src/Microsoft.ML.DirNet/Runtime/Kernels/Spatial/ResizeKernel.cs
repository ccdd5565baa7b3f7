using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.Spatial;

/// <summary>
/// ONNX Resize on float32 data: modes nearest (round_prefer_floor, round_prefer_ceil, floor, ceil), linear and cubic
/// (cubic_coeff_a, exclude_outside), every coordinate_transformation_mode (half_pixel, half_pixel_symmetric,
/// pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize with roi and extrapolation_value), the output
/// size from scales (floor(scale × length)) or from sizes (with axes and keep_aspect_ratio_policy from opset 18).
/// Opset 10's form (X, scales; asymmetric coordinates) is taken too. Interpolation is separable: each resized axis
/// in turn, every output position a weighted sum of its neighbours along that axis (2 for nearest and linear, 4 for
/// cubic), indices beyond the edge reading the edge, as the ONNX reference defines it. antialias is refused.
/// </summary>
internal sealed class ResizeKernel(OnnxNode node, long opset) : IKernel
{
    private readonly string _mode = node.GetString("mode", "nearest");
    private readonly string _transform = opset < 11 ? "asymmetric" : node.GetString("coordinate_transformation_mode", "half_pixel");
    private readonly string? _nearestMode = opset < 11 ? null : node.GetString("nearest_mode", "round_prefer_floor");
    private readonly double _cubicA = node.GetFloat("cubic_coeff_a", -0.75f);
    private readonly bool _excludeOutside = node.GetInt("exclude_outside", 0) != 0;
    private readonly float _extrapolation = node.GetFloat("extrapolation_value", 0f);
    private readonly long[]? _axes = opset >= 18 ? node.GetInts("axes") : null;
    private readonly string _aspectPolicy = opset >= 18 ? node.GetString("keep_aspect_ratio_policy", "stretch") : "stretch";
    private readonly bool _antialias = opset >= 18 && node.GetInt("antialias", 0) != 0;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var data = KernelInputs.RequiredFloat(inputs, 0, "X");
        if (_antialias)
        {
            throw new NotSupportedException("antialias 1 is not supported by the native engine.");
        }

        if (_mode is not ("nearest" or "linear" or "cubic"))
        {
            throw new ArgumentException($"mode '{_mode}' is not one of nearest, linear, cubic.");
        }

        var rank = data.Rank;
        var axes = _axes is null ? Enumerable.Range(0, rank).ToArray() : _axes.Select(a => TensorShape.NormalizeAxis(a, rank, "axes")).ToArray();
        var (scales, sizes) = OutputGeometry(inputs, data.Shape, axes);
        var roi = Roi(inputs, rank, axes);
        var values = data.Data;
        var shape = (int[])data.Shape.Clone();
        foreach (var axis in axes)
        {
            var taps = Taps(shape[axis], sizes[axis], scales[axis], roi[axis], roi[rank + axis]);
            if (taps is not null)
            {
                values = Apply(values, shape, axis, sizes[axis], taps);
                shape[axis] = sizes[axis];
            }
        }

        outputs[0] = new Tensor<float>(shape, values);
    }

    /// <summary>Per axis, the scale and the output length (axes not resized: 1 and their length).</summary>
    private (double[] Scales, int[] Sizes) OutputGeometry(ReadOnlySpan<Tensor?> inputs, int[] shape, int[] axes)
    {
        var rank = shape.Length;
        var scales = Enumerable.Repeat(1.0, rank).ToArray();
        var sizes = (int[])shape.Clone();
        var scalesInput = KernelInputs.Optional(inputs, opset < 11 ? 1 : 2) is { Length: > 0 } s ? s : null;
        var sizesInput = opset < 11 ? null : KernelInputs.Optional(inputs, 3) is { Length: > 0 } z ? z : null;
        if ((scalesInput is null) == (sizesInput is null))
        {
            throw new ArgumentException("exactly one of 'scales' and 'sizes' must be given (non-empty).");
        }

        if (scalesInput is not null)
        {
            var given = KernelInputs.Float(scalesInput, "scales").Data;
            CheckCount(given.Length, axes.Length, "scales");
            for (var k = 0; k < axes.Length; k++)
            {
                if (!(given[k] > 0) || !float.IsFinite(given[k]))
                {
                    throw new ArgumentException($"'scales' must be positive, but holds {given[k]}.");
                }

                scales[axes[k]] = given[k];
                sizes[axes[k]] = checked((int)System.Math.Floor(shape[axes[k]] * (double)given[k]));
            }

            return (scales, sizes);
        }

        var wanted = KernelInputs.Dimensions(sizesInput!, "sizes");
        CheckCount(wanted.Length, axes.Length, "sizes");
        if (wanted.Any(d => d < 0))
        {
            throw new ArgumentException($"'sizes' must not be negative, but is [{string.Join(", ", wanted)}].");
        }

        if (_aspectPolicy is "not_larger" or "not_smaller")
        {
            var ratios = axes.Select((a, k) => (double)wanted[k] / shape[a]).ToArray();
            var scale = _aspectPolicy == "not_larger" ? ratios.Min() : ratios.Max();
            foreach (var a in axes)
            {
                scales[a] = scale;
                sizes[a] = (int)System.Math.Round(scale * shape[a], MidpointRounding.AwayFromZero);
            }

            return (scales, sizes);
        }

        if (_aspectPolicy != "stretch")
        {
            throw new ArgumentException($"keep_aspect_ratio_policy '{_aspectPolicy}' is not one of stretch, not_larger, not_smaller.");
        }

        for (var k = 0; k < axes.Length; k++)
        {
            sizes[axes[k]] = wanted[k];
            scales[axes[k]] = shape[axes[k]] == 0 ? 1 : (double)wanted[k] / shape[axes[k]];
        }

        return (scales, sizes);
    }

    private static void CheckCount(int given, int axes, string name)
    {
        if (given != axes)
        {
            throw new ArgumentException($"'{name}' holds {given} values for {axes} axes.");
        }
    }

    /// <summary>The region of interest (starts of every axis, then ends) for tf_crop_and_resize; 0…1 elsewhere.</summary>
    private double[] Roi(ReadOnlySpan<Tensor?> inputs, int rank, int[] axes)
    {
        var roi = Enumerable.Repeat(0.0, rank).Concat(Enumerable.Repeat(1.0, rank)).ToArray();
        if (_transform != "tf_crop_and_resize")
        {
            return roi;
        }

        var given = KernelInputs.Optional(inputs, 1) is { Length: > 0 } r
            ? Array.ConvertAll(KernelInputs.Float(r, "roi").Data, v => (double)v)
            : throw new ArgumentException("coordinate_transformation_mode 'tf_crop_and_resize' needs the 'roi' input.");
        CheckCount(given.Length, 2 * axes.Length, "roi");
        for (var k = 0; k < axes.Length; k++)
        {
            roi[axes[k]] = given[k];
            roi[rank + axes[k]] = given[axes.Length + k];
        }

        return roi;
    }

    /// <summary>
    /// For each output position along an axis, the input indices it reads (clamped to the edge) and their weights, or
    /// a negative first index where it takes the extrapolation value; null when the axis comes out unchanged.
    /// </summary>
    private (int[] Index, double[] Weight)[]? Taps(int length, int resized, double scale, double roiStart, double roiEnd)
    {
        var taps = new (int[], double[])[resized];
        var identity = resized == length;
        for (var x = 0; x < resized; x++)
        {
            var original = Original(x, length, resized, scale, roiStart, roiEnd);
            if (_transform == "tf_crop_and_resize" && (original < 0 || original > length - 1))
            {
                taps[x] = ([-1], [0]);
                identity = false;
                continue;
            }

            // The neighbours are those the ONNX reference takes: the n nearest, ties to the left, so that the
            // position sits in (base, base + 1] with its fraction in (0, 1].
            var isInteger = original == System.Math.Floor(original);
            var lower = isInteger ? original - 1 : System.Math.Floor(original);
            var fraction = isInteger ? 1 : original - lower;
            var weights = Weights(fraction, scale);
            var first = (long)lower - weights.Length / 2 + 1;
            var index = new int[weights.Length];
            double total = 0;
            for (var k = 0; k < weights.Length; k++)
            {
                var at = first + k;
                if (_excludeOutside && (at < 0 || at >= length))
                {
                    weights[k] = 0;
                }

                index[k] = (int)System.Math.Clamp(at, 0, length - 1);
                total += weights[k];
            }

            if (_excludeOutside && total != 0)
            {
                for (var k = 0; k < weights.Length; k++)
                {
                    weights[k] /= total;
                }
            }

            taps[x] = (index, weights);
            identity &= Enumerable.Range(0, weights.Length).All(k => weights[k] == 0 || (weights[k] == 1 && index[k] == x));
        }

        return identity ? null : taps;
    }

    /// <summary>
    /// Where output position <paramref name="x"/> sits in the input, by the coordinate transformation mode. As in the
    /// ONNX reference, the resized width in the formulas is scale × length, which is not whole when it comes from scales.
    /// </summary>
    private double Original(int x, int length, int resized, double scale, double roiStart, double roiEnd)
    {
        var width = scale * length;
        return _transform switch
        {
            "half_pixel" => (x + 0.5) / scale - 0.5,
            "half_pixel_symmetric" => length / 2.0 * (1 - resized / width) + (x + 0.5) / scale - 0.5,
            "pytorch_half_pixel" => width != 1 ? (x + 0.5) / scale - 0.5 : 0,
            "align_corners" => width == 1 ? 0 : x * (length - 1) / (width - 1),
            "asymmetric" => x / scale,
            "tf_crop_and_resize" => width != 1
                ? roiStart * (length - 1) + x * (roiEnd - roiStart) * (length - 1) / (width - 1)
                : 0.5 * (roiStart + roiEnd) * (length - 1),
            _ => throw new ArgumentException(
                $"coordinate_transformation_mode '{_transform}' is not one of half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize."),
        };
    }

    /// <summary>The weights of the neighbours at <c>base − n/2 + 1 …</c> for a position <paramref name="fraction"/> past base.</summary>
    private double[] Weights(double fraction, double scale)
    {
        switch (_mode)
        {
            case "linear":
                return [1 - fraction, fraction];
            case "cubic":
                var a = _cubicA;
                double Far(double t) => ((a * t - 5 * a) * t + 8 * a) * t - 4 * a; // 1 < t < 2
                double Near(double t) => ((a + 2) * t - (a + 3)) * t * t + 1;      // t ≤ 1
                return [Far(fraction + 1), Near(fraction), Near(1 - fraction), Far(2 - fraction)];
            default:
                if (fraction == 1)
                {
                    return [0, 1];
                }

                // Opset 10 rounds as ONNX Runtime does there: up when downsampling, down otherwise.
                var up = (_nearestMode ?? (scale < 1 ? "ceil" : "floor")) switch
                {
                    "round_prefer_floor" => fraction > 0.5,
                    "round_prefer_ceil" => fraction >= 0.5,
                    "floor" => false,
                    "ceil" => true,
                    var other => throw new ArgumentException($"nearest_mode '{other}' is not one of round_prefer_floor, round_prefer_ceil, floor, ceil."),
                };
                return up ? [0, 1] : [1, 0];
        }
    }

    /// <summary>Resizes axis <paramref name="axis"/> of row-major <paramref name="values"/> (of <paramref name="shape"/>) to <paramref name="resized"/>.</summary>
    private float[] Apply(float[] values, int[] shape, int axis, int resized, (int[] Index, double[] Weight)[] taps)
    {
        var outer = 1L;
        for (var d = 0; d < axis; d++)
        {
            outer *= shape[d];
        }

        var inner = 1L;
        for (var d = axis + 1; d < shape.Length; d++)
        {
            inner *= shape[d];
        }

        var length = shape[axis];
        var result = new float[checked(outer * resized * inner)];
        for (long o = 0; o < outer; o++)
        {
            for (var x = 0; x < resized; x++)
            {
                var (index, weight) = taps[x];
                var target = result.AsSpan((int)((o * resized + x) * inner), (int)inner);
                if (index[0] < 0)
                {
                    target.Fill(_extrapolation);
                    continue;
                }

                for (long i = 0; i < inner; i++)
                {
                    double sum = 0;
                    for (var k = 0; k < index.Length; k++)
                    {
                        if (weight[k] != 0)
                        {
                            sum += weight[k] * values[(o * length + index[k]) * inner + i];
                        }
                    }

                    target[(int)i] = (float)sum;
                }
            }
        }

        return result;
    }
}
