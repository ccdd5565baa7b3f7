using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Tensors;
using static Microsoft.ML.DirNet.Export.GraphBuilder;

namespace Microsoft.ML.DirNet.Export;

/// <summary>
/// The standard ONNX ops (opset 11 or later) that rebuild a compressed matrix's dense W [rows × columns] from its
/// stored factors. Every input is a constant, so ONNX Runtime computes them once when it loads the model (constant
/// folding), and with graph optimisations off it still computes the same W on every run.
/// </summary>
internal static class MatrixRebuild
{
    /// <summary>The oldest default-domain opset the rebuild ops exist in (TopK with largest/sorted, ScatterElements, ScatterND, CumSum, Range).</summary>
    public const long MinimumOpset = 11;

    /// <summary>
    /// Adds the nodes computing W for <paramref name="matrix"/>, whose factors are the initializers named
    /// <c>{factorPrefix}{factor name}</c> (a shared dictionary: <paramref name="dictionaryName"/>); returns W's name.
    /// </summary>
    public static string Add(GraphBuilder g, CompressedMatrix matrix, string factorPrefix, string? dictionaryName)
    {
        string F(string factor) => factorPrefix + factor;

        // Values stored as float16 or int8 are cast to float32 where they are read, so the rebuilt W has the original
        // type; int8 values are then multiplied by their row scales ([rows × 1], broadcast over each row). Sparse rows'
        // values are scaled after they are scattered: the matrix's row r takes scale r.
        // Low-bit values are unpacked and scaled per group where they are read (LowBitRebuild); the values of sparse rows
        // are one row of groups, in storage order.
        var int8 = matrix.Precision == FactorPrecision.Int8;
        var shapes = matrix.LowBitShapes;
        string Cast(string factor) => matrix.Precision == FactorPrecision.Float32 ? factor : ToFloat(g, factor);
        string Values(string factor, int[] shape) => matrix.Grid is { } grid ? LowBitRebuild.Add(g, factor, grid, shape)
            : int8 ? g.Op("Mul", [Cast(factor), Int8Rows.ScaleName(factor)]) : Cast(factor);
        string V(string factor) => Values(F(factor), shapes.GetValueOrDefault(factor, []));
        // No stored entry: the writer leaves the empty values out, and nothing may read them.
        string Sparse(string factor, int nonZeros) => nonZeros == 0 ? F(factor) : matrix.Grid is { } grid ? LowBitRebuild.Add(g, F(factor), grid, [nonZeros]) : Cast(F(factor));
        string Scaled(string dense, string values) => int8 ? g.Op("Mul", [dense, Int8Rows.ScaleName(values)]) : dense;
        switch (matrix)
        {
            case DenseMatrix:
                return V("weight");
            case LowRankMatrix:
                return g.Op("MatMul", [V("left"), V("right")]);
            case SparseMatrix sparse:
                return Scaled(SparseToDense(g, F("weight_"), Sparse("weight_values", sparse.NonZeros), sparse.Rows, sparse.Columns, sparse.NonZeros, sparse.Storage.NonEmptyRows), F("weight_values"));
            case DictionaryMatrix dictionary:
                var codes = Scaled(SparseToDense(g, F("code_"), Sparse("code_values", dictionary.NonZeros), dictionary.Rows, dictionary.Atoms, dictionary.NonZeros, dictionary.Codes.NonEmptyRows), F("code_values"));
                return g.Op("MatMul", [codes, dictionaryName is null ? V("dictionary") : Values(dictionaryName, [dictionary.Atoms, dictionary.Columns])]);
            case HybridMatrix hybrid:
                return Hybrid(g, hybrid, V);
            default:
                throw new NotSupportedException($"No ONNX rebuild is defined for {matrix.GetType().Name}.");
        }
    }

    /// <summary>
    /// CSR (values, narrow column indices, int32 row starts) → dense [rows × columns]. Each entry's row is recovered
    /// without a scatter-add (which needs opset 16): the non-empty rows mark where they start with the jump in row
    /// number since the previous non-empty row, and a running sum turns the marks into one row number per entry.
    /// Every value has a shape known before running, so runtimes can fold the whole subgraph.
    /// </summary>
    private static string ToFloat(GraphBuilder g, string value) => g.Op("Cast", [value], null, IntAttribute("to", (long)TensorElementType.Float));

    private static string SparseToDense(GraphBuilder g, string factorPrefix, string values, int rows, int columns, int nonZeros, int nonEmptyRowCount)
    {
        var shape = g.Int64s(rows, columns);
        if (nonZeros == 0)
        {
            return g.Op("ConstantOfShape", [shape], null, TensorAttribute("value", new Tensor<float>([1], [0f])));
        }

        var starts64 = g.Op("Cast", [factorPrefix + "row_starts"], null, IntAttribute("to", (long)TensorElementType.Int64));
        var starts = g.Op("Slice", [starts64, g.Int64s(0), g.Int64s(rows)]);
        var ends = g.Op("Slice", [starts64, g.Int64s(1), g.Int64s(rows + 1)]);
        var nonEmpty = g.Op("Cast", [g.Op("Less", [starts, ends])], null, IntAttribute("to", (long)TensorElementType.Float));

        // The non-empty rows in ascending order: the top m of (rows − r) over non-empty r. TopK with a constant k has
        // a static output shape, which ONNX Runtime needs to fold it (it will not fold Compress, whose size is data).
        var descending = g.Op("Cast", [g.Op("Range", [g.Int64(rows), g.Int64(0), g.Int64(-1)])], null, IntAttribute("to", (long)TensorElementType.Float));
        var nonEmptyRows = g.Op("TopK", [g.Op("Mul", [nonEmpty, descending]), g.Int64s(nonEmptyRowCount)], outputCount: 2,
            IntAttribute("axis", 0), IntAttribute("largest", 1), IntAttribute("sorted", 1))[1];
        var markAt = g.Op("Gather", [starts, nonEmptyRows], null, IntAttribute("axis", 0));
        var previousRows = g.Op("Concat",
            [g.Int64s(0), g.Op("Slice", [nonEmptyRows, g.Int64s(0), g.Int64s(-1)])], null, IntAttribute("axis", 0));
        var jumps = g.Op("Sub", [nonEmptyRows, previousRows]);
        var zeros = g.Op("ConstantOfShape", [g.Int64s(nonZeros)], null, TensorAttribute("value", new Tensor<long>([1], [0L])));
        var marks = g.Op("ScatterElements", [zeros, markAt, jumps], null, IntAttribute("axis", 0));
        var entryRows = g.Op("CumSum", [marks, g.Int64(0)]);
        var entryColumns = g.Op("Cast", [factorPrefix + "columns"], null, IntAttribute("to", (long)TensorElementType.Int64));
        var flat = g.Op("Add", [g.Op("Mul", [entryRows, g.Int64s(columns)]), entryColumns]);
        var indices = g.Op("Reshape", [flat, g.Int64s(nonZeros, 1)]);
        var empty = g.Op("ConstantOfShape", [g.Int64s((long)rows * columns)], null, TensorAttribute("value", new Tensor<float>([1], [0f])));
        var filled = g.Op("ScatterND", [empty, indices, values]);
        return g.Op("Reshape", [filled, shape]);
    }

    /// <summary>
    /// HMD: the dense top rows over the lower rows' blocks. Entry (a, b) of the lower part is U[block column of b, a] ·
    /// V[block row of a, b]; both block numbers come from ⌊((i + 1)·g − 1) / n⌋, the inverse of the block starts
    /// ⌊j·n/g⌋, so no index table is stored.
    /// </summary>
    private static string Hybrid(GraphBuilder g, HybridMatrix hybrid, Func<string, string> factor)
    {
        var lower = hybrid.Rows - hybrid.DenseRows;
        if (lower == 0)
        {
            return factor("dense_rows");
        }

        var columnBlocks = BlockNumbers(g, hybrid.Columns, hybrid.BlockColumns);
        var rowBlocks = BlockNumbers(g, lower, hybrid.BlockRows);
        var u = g.Op("Transpose", [g.Op("Gather", [factor("block_u"), columnBlocks], null, IntAttribute("axis", 0))], null, IntsAttribute("perm", 1, 0));
        var v = g.Op("Gather", [factor("block_v"), rowBlocks], null, IntAttribute("axis", 0));
        var blocks = g.Op("Mul", [u, v]);
        return hybrid.DenseRows == 0 ? blocks : g.Op("Concat", [factor("dense_rows"), blocks], null, IntAttribute("axis", 0));
    }

    /// <summary>The block number of each of <paramref name="length"/> items split evenly into <paramref name="blocks"/>.</summary>
    private static string BlockNumbers(GraphBuilder g, int length, int blocks)
    {
        var items = g.Op("Range", [g.Int64(1), g.Int64(length + 1), g.Int64(1)]);
        var scaled = g.Op("Sub", [g.Op("Mul", [items, g.Int64(blocks)]), g.Int64(1)]);
        return g.Op("Div", [scaled, g.Int64(length)]);
    }
}
