using MathNet.Numerics.LinearAlgebra;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// GPTQ (Frantar et al. 2022, arXiv 2210.17323) onto a <see cref="LowBitGrid"/>: W [rows × columns] is quantized
/// column by column, left to right, and each column's rounding error is spread over the columns not yet quantized
/// through the upper Cholesky factor of H⁻¹, H = 2·Σ x·xᵀ over the calibration vectors x the matrix multiplies. So
/// the output error ‖(W − Ŵ)·X‖ is minimised rather than the weights' own error; it pays most at 2 bits and below. A
/// group's scale and zero point are chosen (by <see cref="RoundToNearest"/>'s clipping search) on the updated values
/// when its first column is reached, and fixed for the rest of the group.
/// </summary>
/// <remarks>
/// Columns whose inputs are always zero (H's diagonal 0) get H = 1 there and weights 0, which is what they contribute;
/// H is damped by 1 % of its mean diagonal so that the inverse exists. The moment may be Σ x·xᵀ or its mean (as
/// <c>CalibrationStatistics</c> keeps it): a positive factor on H cancels in the updates.
/// </remarks>
internal static class Gptq
{
    /// <summary>
    /// Columns per lazy block: a column's error updates only the rest of its block at once, and the columns after the
    /// block get the whole block's errors in one pass, while those rows are in cache. Group sizes divide it or are
    /// multiples of it, so a group is always entered with every earlier column's error already applied to it.
    /// </summary>
    public const int BlockSize = 128;

    private const double Damping = 0.01;

    /// <summary>
    /// Quantizes row-major <paramref name="values"/> [rows × columns] given the second moment
    /// <paramref name="moment"/> (Σ x·xᵀ or its mean, row-major [columns × columns]) of the inputs it multiplies.
    /// </summary>
    public static GroupQuantizedValues Quantize(ReadOnlySpan<float> values, int rows, int columns, double[] moment, LowBitGrid grid)
    {
        if (values.Length != (long)rows * columns || moment.LongLength != (long)columns * columns)
        {
            throw new ArgumentException($"GPTQ needs a [{rows} × {columns}] matrix and a [{columns} × {columns}] moment; got {values.Length} values and {moment.Length} moments.");
        }

        var w = new double[rows][];
        for (var r = 0; r < rows; r++)
        {
            w[r] = new double[columns];
            for (var c = 0; c < columns; c++)
            {
                w[r][c] = values[r * columns + c];
            }
        }

        var upper = UpperCholeskyOfInverse(moment, columns, w);
        var groupsPerRow = grid.GroupsPerRow(columns);
        var levels = new byte[values.Length];
        var scales = new Half[rows * groupsPerRow];
        var zeroPoints = new byte[grid.HasZeroPoints ? scales.Length : 0];
        var group = new float[grid.GroupSize];
        var scratch = new byte[grid.GroupSize];
        var errors = new double[rows][];
        for (var r = 0; r < rows; r++)
        {
            errors[r] = new double[BlockSize];
        }

        for (var start = 0; start < columns; start += BlockSize)
        {
            var end = Math.Min(start + BlockSize, columns);
            for (var c = start; c < end; c++)
            {
                var g = c / grid.GroupSize;
                if (c % grid.GroupSize == 0)
                {
                    var width = Math.Min(grid.GroupSize, columns - c);
                    for (var r = 0; r < rows; r++)
                    {
                        for (var k = 0; k < width; k++)
                        {
                            group[k] = (float)w[r][c + k];
                        }

                        var (scale, zero) = RoundToNearest.ChooseRange(group.AsSpan(0, width), grid, clippingSearch: true, scratch);
                        scales[r * groupsPerRow + g] = scale;
                        if (grid.HasZeroPoints)
                        {
                            zeroPoints[r * groupsPerRow + g] = (byte)zero;
                        }
                    }
                }

                var pivot = upper[c][c];
                var inBlock = upper[c].AsSpan(c + 1, end - c - 1);
                for (var r = 0; r < rows; r++)
                {
                    var scale = (float)scales[r * groupsPerRow + g];
                    var zero = grid.HasZeroPoints ? zeroPoints[r * groupsPerRow + g] : 1;
                    var level = RoundToNearest.Level((float)w[r][c], grid, scale, zero);
                    levels[r * columns + c] = (byte)level;
                    var error = (w[r][c] - (level - zero) * scale) / pivot;
                    errors[r][c - start] = error;
                    var rest = w[r].AsSpan(c + 1, end - c - 1);
                    TensorPrimitives.MultiplyAdd(inBlock, -error, rest, rest);
                }
            }

            // The block's errors reach the later columns in the same order as column by column, so the result is the
            // same; only the passes over W are fewer.
            for (var r = 0; r < rows; r++)
            {
                var rest = w[r].AsSpan(end);
                for (var c = start; c < end; c++)
                {
                    TensorPrimitives.MultiplyAdd(upper[c].AsSpan(end), -errors[r][c - start], rest, rest);
                }
            }
        }

        return new GroupQuantizedValues(grid, rows, columns, levels, scales, zeroPoints);
    }

    /// <summary>
    /// Quantizes row-major <paramref name="values"/> [rows × columns] given the calibration vectors it multiplies,
    /// row-major [samples × columns] in <paramref name="inputs"/>.
    /// </summary>
    public static GroupQuantizedValues Quantize(ReadOnlySpan<float> values, int rows, int columns, ReadOnlySpan<float> inputs, LowBitGrid grid) =>
        Quantize(values, rows, columns, SecondMoment(inputs, columns), grid);

    /// <summary>Σ x·xᵀ (row-major [columns × columns]) over the vectors x, row-major [samples × columns] in <paramref name="inputs"/>.</summary>
    public static double[] SecondMoment(ReadOnlySpan<float> inputs, int columns)
    {
        if (columns <= 0 || inputs.Length % columns != 0)
        {
            throw new ArgumentException($"{inputs.Length} calibration values are not whole vectors of {columns}.");
        }

        var moment = new double[columns * columns];
        var x = new double[columns];
        for (var t = 0; t < inputs.Length / columns; t++)
        {
            for (var i = 0; i < columns; i++)
            {
                x[i] = inputs[t * columns + i];
            }

            for (var i = 0; i < columns; i++)
            {
                var row = moment.AsSpan(i * columns, columns);
                TensorPrimitives.MultiplyAdd(x, x[i], row, row);
            }
        }

        // Each entry was summed in the same order as its transpose, so the moment is exactly symmetric.
        return moment;
    }

    /// <summary>The upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ·U) by rows, H = 2·moment damped; dead columns of W are zeroed.</summary>
    private static double[][] UpperCholeskyOfInverse(double[] moment, int columns, double[][] w)
    {
        var h = Matrix<double>.Build.Dense(columns, columns, (i, j) => 2 * moment[i * columns + j]);
        for (var i = 0; i < columns; i++)
        {
            if (h[i, i] == 0)
            {
                h[i, i] = 1;
                foreach (var row in w)
                {
                    row[i] = 0;
                }
            }
        }

        var damping = Damping * Enumerable.Range(0, columns).Average(i => h[i, i]);
        for (var i = 0; i < columns; i++)
        {
            h[i, i] += damping;
        }

        try
        {
            var inverse = h.Cholesky().Solve(Matrix<double>.Build.DenseIdentity(columns));
            inverse = (inverse + inverse.Transpose()) / 2; // exactly symmetric, as the factorisation wants
            return inverse.Cholesky().Factor.Transpose().ToRowArrays();
        }
        catch (ArgumentException e)
        {
            throw new DirNetException($"The calibration moment of a [{columns}]-input matrix cannot be factored for GPTQ ({e.Message}); use RTN instead.", e);
        }
    }
}
