using Microsoft.ML.DirNet.Onnx;
using static Microsoft.ML.DirNet.Onnx.GraphBuilder;

namespace Microsoft.ML.DirNet.Compression;

public sealed partial class HybridMatrix
{
    /// <summary>Reads the dense rows and the block vectors back (the writer leaves out an empty one).</summary>
    internal static CompressedMatrix Read(IFactorSource source) => new HybridMatrix(source.Rows, source.Columns,
        source.OptionalDimension("dense_rows", 0), source.OptionalDimension("block_v", 0), source.OptionalDimension("block_u", 0),
        source.OptionalValues("dense_rows"), source.OptionalValues("block_u"), source.OptionalValues("block_v"));

    /// <inheritdoc/>
    /// <remarks>
    /// The dense top rows over the lower rows' blocks. Entry (a, b) of the lower part is U[block column of b, a] ·
    /// V[block row of a, b]; both block numbers come from ⌊((i + 1)·g − 1) / n⌋, the inverse of the block starts
    /// ⌊j·n/g⌋, so no index table is stored.
    /// </remarks>
    internal override string Rebuild(FactorGraph factors)
    {
        var g = factors.Graph;
        var lower = Rows - DenseRows;
        if (lower == 0)
        {
            return factors.Values("dense_rows");
        }

        var columnBlocks = BlockNumbers(g, Columns, BlockColumns);
        var rowBlocks = BlockNumbers(g, lower, BlockRows);
        var u = g.Op("Transpose", [g.Op("Gather", [factors.Values("block_u"), columnBlocks], null, IntAttribute("axis", 0))], null, IntsAttribute("perm", 1, 0));
        var v = g.Op("Gather", [factors.Values("block_v"), rowBlocks], null, IntAttribute("axis", 0));
        var blocks = g.Op("Mul", [u, v]);
        return DenseRows == 0 ? blocks : g.Op("Concat", [factors.Values("dense_rows"), blocks], null, IntAttribute("axis", 0));
    }

    /// <summary>The block number of each of <paramref name="length"/> items split evenly into <paramref name="blocks"/>.</summary>
    private static string BlockNumbers(GraphBuilder g, int length, int blocks)
    {
        var items = g.Op("Range", [g.Int64(1), g.Int64(length + 1), g.Int64(1)]);
        var scaled = g.Op("Sub", [g.Op("Mul", [items, g.Int64(blocks)]), g.Int64(1)]);
        return g.Op("Div", [scaled, g.Int64(length)]);
    }
}
