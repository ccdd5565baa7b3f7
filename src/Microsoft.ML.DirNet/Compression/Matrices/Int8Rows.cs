using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Symmetric int8 quantization with one float32 scale per row: a row's values become q·s with s = max|v| / 127 and
/// q = round(v / s) in [−127, 127] (a row of zeros gets s = 0). The float32 products q·s are what the native operators
/// multiply by and what the exported rebuild computes (Cast to float, then Mul by the scale), so both agree exactly.
/// A "row" is the first dimension of a 2-D factor (a dictionary atom, a low-rank factor's row, a dense row, an HMD
/// block vector) or a row of the matrix for the values of sparse rows (codes, pruned weights).
/// </summary>
internal static class Int8Rows
{
    /// <summary>The name of the scales stored beside a quantized factor.</summary>
    public static string ScaleName(string factor) => factor + "_scale";

    /// <summary>Where each row starts in a factor's values (length rows + 1), from its shape or its sibling row starts.</summary>
    public static int[] RowStarts(MatrixFactor factor, IEnumerable<MatrixFactor> siblings)
    {
        var tensor = factor.Tensor;
        if (tensor.Rank == 2)
        {
            return MatrixRowStarts(tensor.Shape[0], tensor.Shape[1]);
        }

        const string suffix = "values";
        var starts = factor.Name.EndsWith(suffix, StringComparison.Ordinal)
            ? siblings.FirstOrDefault(s => s.Name == factor.Name[..^suffix.Length] + "row_starts")?.Tensor as Tensor<int>
            : null;
        return starts?.Data ?? throw new InvalidOperationException($"Factor '{factor.Name}' is neither a matrix nor the values of sparse rows.");
    }

    /// <summary>Where each row of a row-major [<paramref name="rows"/> × <paramref name="columns"/>] matrix starts.</summary>
    public static int[] MatrixRowStarts(int rows, int columns) => Enumerable.Range(0, rows + 1).Select(r => r * columns).ToArray();

    /// <summary>Quantizes <paramref name="values"/> row by row; returns the dequantized values and the scales.</summary>
    public static (float[] Values, float[] Scales) Quantize(float[] values, int[] rowStarts)
    {
        var rounded = new float[values.Length];
        var scales = new float[rowStarts.Length - 1];
        for (var r = 0; r < scales.Length; r++)
        {
            var row = values.AsSpan(rowStarts[r], rowStarts[r + 1] - rowStarts[r]);
            var scale = SymmetricInt8.Step(row);
            scales[r] = scale;
            for (var i = 0; i < row.Length; i++)
            {
                rounded[rowStarts[r] + i] = SymmetricInt8.Level(row[i], scale) * scale;
            }
        }

        return (rounded, scales);
    }

    /// <summary>The int8 levels of values already on the grid (<see cref="Quantize"/>'s output) with their scales.</summary>
    public static sbyte[] Levels(float[] values, float[] scales, int[] rowStarts)
    {
        var levels = new sbyte[values.Length];
        for (var r = 0; r < scales.Length; r++)
        {
            for (var i = rowStarts[r]; i < rowStarts[r + 1]; i++)
            {
                levels[i] = (sbyte)SymmetricInt8.Level(values[i], scales[r]);
            }
        }

        return levels;
    }

    /// <summary>Levels times their row's scale, in float32 (as the rebuild's Cast and Mul compute them).</summary>
    public static float[] Dequantize(sbyte[] levels, float[] scales, int[] rowStarts)
    {
        if (rowStarts.Length != scales.Length + 1 || rowStarts[0] != 0 || rowStarts[^1] != levels.Length
            || rowStarts.Zip(rowStarts.Skip(1)).Any(p => p.First > p.Second))
        {
            throw new ArgumentException($"{levels.Length} int8 values with {scales.Length} row scales do not match rows ending at {rowStarts[^1]}.");
        }

        var values = new float[levels.Length];
        for (var r = 0; r < scales.Length; r++)
        {
            for (var i = rowStarts[r]; i < rowStarts[r + 1]; i++)
            {
                values[i] = levels[i] * scales[r];
            }
        }

        return values;
    }
}
