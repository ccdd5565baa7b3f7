using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>The low-bit members of <see cref="FactorPrecision"/> and the grids they store values on.</summary>
internal static class LowBitPrecision
{
    /// <summary>Whether values at <paramref name="precision"/> are stored per group on a <see cref="LowBitGrid"/>.</summary>
    public static bool IsLowBit(FactorPrecision precision) => precision is FactorPrecision.Int4 or FactorPrecision.Int3 or FactorPrecision.Int2 or FactorPrecision.Ternary;

    /// <summary>
    /// The group size a precision uses when none is asked for: the sizes at which each one measured best per byte on the
    /// language-model sample (smaller groups cost scale bytes that the coarser grids need more).
    /// </summary>
    public static int DefaultGroupSize(FactorPrecision precision) => precision switch
    {
        FactorPrecision.Int4 => 128,
        FactorPrecision.Int3 => 64,
        _ => 32,
    };

    /// <summary>The grid of a low-bit precision with groups of <paramref name="groupSize"/> (0: the default).</summary>
    /// <exception cref="DirNetException">The group size is not one of <see cref="LowBitGrid.GroupSizes"/>.</exception>
    public static LowBitGrid Grid(FactorPrecision precision, int groupSize)
    {
        var size = groupSize == 0 ? DefaultGroupSize(precision) : groupSize;
        if (!LowBitGrid.GroupSizes.Contains(size))
        {
            throw new DirNetException($"Group size {groupSize} is not one of {string.Join(", ", LowBitGrid.GroupSizes)}.");
        }

        return precision switch
        {
            FactorPrecision.Int4 => LowBitGrid.Integer(4, size),
            FactorPrecision.Int3 => LowBitGrid.Integer(3, size),
            FactorPrecision.Int2 => LowBitGrid.Integer(2, size),
            FactorPrecision.Ternary => LowBitGrid.Ternary(size),
            _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "Not a low-bit precision."),
        };
    }

    /// <summary>
    /// Quantizes one value array onto <paramref name="grid"/> in its layout (<see cref="CompressedMatrix.LowBitLayout"/>):
    /// by GPTQ when its inputs' moment is given, else to nearest.
    /// </summary>
    public static GroupQuantizedValues Quantize(MatrixFactor factor, double[]? moment, LowBitGrid grid)
    {
        var values = factor.Tensor.As<float>().Data;
        var (rows, columns) = CompressedMatrix.LowBitLayout(factor.Tensor.Shape);
        return moment is null ? RoundToNearest.Quantize(values, rows, columns, grid) : Gptq.Quantize(values, rows, columns, moment, grid);
    }

    /// <summary>The precision a grid stores.</summary>
    public static FactorPrecision Of(LowBitGrid grid) => grid.IsTernary ? FactorPrecision.Ternary : grid.Bits switch
    {
        4 => FactorPrecision.Int4,
        3 => FactorPrecision.Int3,
        _ => FactorPrecision.Int2,
    };
}
