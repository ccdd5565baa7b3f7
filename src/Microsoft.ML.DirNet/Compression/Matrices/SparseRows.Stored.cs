using Microsoft.ML.DirNet.Tensors;
using static Microsoft.ML.DirNet.Onnx.GraphBuilder;

namespace Microsoft.ML.DirNet.Compression;

internal sealed partial class SparseRows
{
    /// <summary>
    /// CSR (<paramref name="values"/> as float32, the narrow column indices and int32 row starts stored under
    /// <paramref name="prefix"/>) → dense [rows × columns]. Each entry's row is recovered without a scatter-add (which
    /// needs opset 16): the non-empty rows mark where they start with the jump in row number since the previous
    /// non-empty row, and a running sum turns the marks into one row number per entry. Every value has a shape known
    /// before running, so runtimes can fold the whole subgraph.
    /// </summary>
    internal string Rebuild(FactorGraph factors, string prefix, string values)
    {
        var g = factors.Graph;
        var factorPrefix = factors.Name(prefix);
        var (rows, columns, nonZeros, nonEmptyRowCount) = (Rows, Columns, NonZeros, NonEmptyRows);
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
}
