namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// Round-to-nearest quantization onto a <see cref="LowBitGrid"/> with a clipping search per group (METHODS.md,
/// "Precision"): the range [min, max] of a group (max |v| for ternary) is tried at <see cref="Candidates"/> shrinkings,
/// each rounded to nearest, and the one with the least squared error is kept. Clipping a few large values costs less
/// than the coarser steps a full range forces on all the others, most of all at 2 and 3 bits. The error of each
/// candidate is measured with its scale rounded to float16, as stored, so the choice is the stored result's. A group
/// whose values are all equal is also tried at one step of that value, so a constant row is kept exactly (to float16).
/// </summary>
internal static class RoundToNearest
{
    /// <summary>Shrinkings tried per group: 1, 0.975, …, 0.525 of the full range (the first is plain min/max rounding).</summary>
    public const int Candidates = 20;

    private const float ShrinkStep = 0.025f;

    /// <summary>Quantizes row-major <paramref name="values"/> [rows × columns]; <paramref name="clippingSearch"/> false rounds on the full range only.</summary>
    public static GroupQuantizedValues Quantize(ReadOnlySpan<float> values, int rows, int columns, LowBitGrid grid, bool clippingSearch = true)
    {
        if (values.Length != (long)rows * columns)
        {
            throw new ArgumentException($"{values.Length} values do not make a [{rows} × {columns}] matrix.");
        }

        var groupsPerRow = grid.GroupsPerRow(columns);
        var levels = new byte[values.Length];
        var scales = new Half[rows * groupsPerRow];
        var zeroPoints = new byte[grid.HasZeroPoints ? scales.Length : 0];
        var candidate = new byte[grid.GroupSize];
        for (var r = 0; r < rows; r++)
        {
            for (var g = 0; g < groupsPerRow; g++)
            {
                var start = r * columns + g * grid.GroupSize;
                var group = values.Slice(start, Math.Min(grid.GroupSize, columns - g * grid.GroupSize));
                var (scale, zero) = ChooseRange(group, grid, clippingSearch, candidate);
                scales[r * groupsPerRow + g] = scale;
                if (grid.HasZeroPoints)
                {
                    zeroPoints[r * groupsPerRow + g] = (byte)zero;
                }

                Round(group, grid, scale, zero, levels.AsSpan(start, group.Length));
            }
        }

        return new GroupQuantizedValues(grid, rows, columns, levels, scales, zeroPoints);
    }

    /// <summary>
    /// The scale and zero level with the least squared error on <paramref name="group"/> among the clipping candidates
    /// (only the full range without <paramref name="clippingSearch"/>); <paramref name="scratch"/> holds at least the
    /// group's length of levels.
    /// </summary>
    internal static (Half Scale, int Zero) ChooseRange(ReadOnlySpan<float> group, LowBitGrid grid, bool clippingSearch, Span<byte> scratch)
    {
        var best = (Scale: Half.Zero, Zero: 0, Error: double.PositiveInfinity);
        for (var k = 0; k < (clippingSearch ? Candidates : 1); k++)
        {
            var (scale, zero) = Range(group, grid, 1f - k * ShrinkStep);
            var error = Round(group, grid, scale, zero, scratch);
            if (error < best.Error)
            {
                best = (scale, zero, error);
            }
        }

        if (clippingSearch && best.Error > 0 && IsConstant(group))
        {
            // A range that includes 0 puts a constant c at steps·half(c/steps), which float16 rounding moves off c
            // (int4: 0.75 becomes 0.7498). One step of half(|c|) on the side of c is c itself wherever float16 holds c.
            var step = (Half)MathF.Abs(group[0]);
            var zero = grid.IsTernary ? 1 : group[0] > 0 ? 0 : 1;
            var error = Half.IsFinite(step) ? Round(group, grid, step, zero, scratch) : double.PositiveInfinity;
            if (error < best.Error)
            {
                best = (step, zero, error);
            }
        }

        return (best.Scale, best.Zero);
    }

    /// <summary>The level of <paramref name="value"/> on a group's grid.</summary>
    internal static int Level(float value, LowBitGrid grid, float scale, int zero) =>
        scale == 0 ? zero : (int)Math.Clamp(MathF.Round(value / scale) + zero, 0, grid.LevelCount - 1);

    /// <summary>
    /// The float16 scale and the zero level for a group's range shrunk by <paramref name="shrink"/>. The asymmetric
    /// range always includes 0, so that zeros stay exact; a group of zeros gets scale 0.
    /// </summary>
    private static (Half Scale, int Zero) Range(ReadOnlySpan<float> group, LowBitGrid grid, float shrink)
    {
        if (grid.IsTernary)
        {
            return ((Half)(MathF.Abs(TensorPrimitives.MaxMagnitude(group)) * shrink), 1);
        }

        var low = MathF.Min(TensorPrimitives.Min(group), 0f) * shrink;
        var high = MathF.Max(TensorPrimitives.Max(group), 0f) * shrink;
        var steps = grid.LevelCount - 1;
        var scale = (Half)((high - low) / steps);
        if (!Half.IsFinite(scale))
        {
            scale = Half.MaxValue; // a range beyond float16: clipped at its largest scale rather than infinite
        }

        var zero = (float)scale == 0 ? 0 : (int)Math.Clamp(MathF.Round(-low / (float)scale), 0, steps);
        return (scale, zero);
    }

    private static bool IsConstant(ReadOnlySpan<float> group) => TensorPrimitives.Min(group) == TensorPrimitives.Max(group);

    /// <summary>Rounds a group into <paramref name="levels"/>; returns the squared error of the result.</summary>
    private static double Round(ReadOnlySpan<float> group, LowBitGrid grid, Half scale, int zero, Span<byte> levels)
    {
        var s = (float)scale;
        double error = 0;
        for (var i = 0; i < group.Length; i++)
        {
            var level = Level(group[i], grid, s, zero);
            levels[i] = (byte)level;
            var d = (double)group[i] - (level - zero) * s;
            error += d * d;
        }

        return error;
    }
}
