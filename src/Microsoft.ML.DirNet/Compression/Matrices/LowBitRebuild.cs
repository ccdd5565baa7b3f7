using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Numerics;
using static Microsoft.ML.DirNet.Onnx.GraphBuilder;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// The standard ONNX ops that turn a low-bit value array (<see cref="LevelPacking"/>'s bytes, float16 group scales and
/// packed zero points) back into float32 values, (level − zero)·scale, exactly as <see cref="GroupQuantizedValues.Dequantize"/>
/// computes them. Only integer Cast, Div, Mod, Mul, Add, Sub, Gather, Concat, Reshape and Slice are used (opset 11), all
/// on constants, so ONNX Runtime folds the whole subgraph when it loads the model.
/// </summary>
internal static class LowBitRebuild
{
    /// <summary>
    /// Adds the nodes computing the values of the array stored as <paramref name="name"/> (levels),
    /// <c>{name}_scale</c> and <c>{name}_zero</c>, of <paramref name="shape"/>; returns their name.
    /// </summary>
    public static string Add(GraphBuilder g, string name, LowBitGrid grid, int[] shape)
    {
        var (rows, columns) = CompressedMatrix.LowBitLayout(shape);
        var levels = g.Op("Reshape", [Unpack(g, name, (long)rows * columns, grid), g.Int64s(rows, columns)]);
        var groupsPerRow = grid.GroupsPerRow(columns);

        // Each column's group, ⌊c / G⌋, picks its scale and zero point out of the row's groups.
        var columnGroups = g.Shared($"column groups {columns} {grid.GroupSize}",
            () => g.Op("Div", [g.Op("Range", [g.Int64(0), g.Int64(columns), g.Int64(1)]), g.Int64(grid.GroupSize)]));
        var zero = grid.HasZeroPoints
            ? g.Op("Gather", [g.Op("Reshape", [Unpack(g, CompressedMatrix.ZeroPointName(name), (long)rows * groupsPerRow, grid), g.Int64s(rows, groupsPerRow)]), columnGroups], null, IntAttribute("axis", 1))
            : g.Int32s(1); // ternary levels 0, 1, 2 stand for −1, 0, 1
        var centred = g.Op("Cast", [g.Op("Sub", [levels, zero])], null, IntAttribute("to", (long)TensorElementType.Float));
        var scales = g.Op("Cast", [Int8Rows.ScaleName(name)], null, IntAttribute("to", (long)TensorElementType.Float));
        var values = g.Op("Mul", [centred, g.Op("Gather", [scales, columnGroups], null, IntAttribute("axis", 1))]);
        return shape.Length == 2 ? values : g.Op("Reshape", [values, g.Int64s(shape.Select(d => (long)d).ToArray())]);
    }

    /// <summary>
    /// The first <paramref name="count"/> levels (int32, one dimension) of a packed byte stream. The bytes are read in
    /// words that hold a whole number of levels (one byte; three for int3, whose eight levels span 24 bits), and a
    /// word's k-th level is ⌊word / baseᵏ⌋ mod base, base 2^bits (or 3 for ternary): the packing's little-endian order.
    /// </summary>
    private static string Unpack(GraphBuilder g, string packed, long count, LowBitGrid grid)
    {
        var (wordBytes, perWord, levelBase) = grid.IsTernary ? (1, 5, 3) : grid.Bits == 3 ? (3, 8, 8) : (1, 8 / grid.Bits, 1 << grid.Bits);
        var bytes = LevelPacking.PackedBytes(count, grid);
        var words = (bytes + wordBytes - 1) / wordBytes;
        var stream = g.Op("Cast", [packed], null, IntAttribute("to", (long)TensorElementType.Int32));
        if (words * wordBytes > bytes)
        {
            stream = g.Op("Concat", [stream, g.Int32s(new int[words * wordBytes - bytes])], null, IntAttribute("axis", 0));
        }

        var word = g.Op("Reshape", [stream, g.Int64s(words, wordBytes)]);
        if (wordBytes > 1)
        {
            // b0 + 256·b1 + 65536·b2, from the three byte columns.
            string Byte(int k) => g.Op("Gather", [word, g.Int64s(k)], null, IntAttribute("axis", 1));
            word = g.Op("Add", [g.Op("Add", [Byte(0), g.Op("Mul", [Byte(1), g.Int32s(256)])]), g.Op("Mul", [Byte(2), g.Int32s(65536)])]);
        }

        var powers = Enumerable.Range(0, perWord).Select(k => (int)Math.Pow(levelBase, k)).ToArray();
        var digits = g.Op("Mod", [g.Op("Div", [word, g.Int32Row(powers)]), g.Int32s(levelBase)]);
        var flat = g.Op("Reshape", [digits, g.Int64s(words * perWord)]);
        return words * perWord == count ? flat : g.Op("Slice", [flat, g.Int64s(0), g.Int64s(count)]);
    }
}
