using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;
using static Microsoft.ML.DirNet.Onnx.GraphBuilder;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// What a form's rebuild in ONNX works with: the graph being built, the names of its stored factors
/// (<c>{prefix}{factor}</c>), and each value array read back to float32 at the matrix's precision. Values stored as
/// float16 or int8 are cast where they are read, int8 ones then multiplied by their row scales ([rows × 1]); low-bit
/// ones are unpacked and scaled per group (<see cref="LowBitRebuild"/>). The values of sparse rows are scaled after
/// they are scattered at int8 (<see cref="Scaled"/>: the matrix's row r takes scale r) and are one row of groups in
/// storage order at the low-bit precisions.
/// </summary>
internal sealed class FactorGraph(GraphBuilder graph, CompressedMatrix matrix, string prefix, string? dictionaryName)
{
    // Read once: the shapes are derived from the factors on every access.
    private readonly IReadOnlyDictionary<string, int[]> _shapes = matrix.LowBitShapes;

    /// <summary>The graph the rebuild adds its nodes to.</summary>
    public GraphBuilder Graph => graph;

    /// <summary>The stored name of one of the matrix's factors.</summary>
    public string Name(string factor) => prefix + factor;

    /// <summary>A 2-D value array of the matrix's own, as float32.</summary>
    public string Values(string factor) => ValuesOf(Name(factor), _shapes.GetValueOrDefault(factor, []));

    /// <summary>
    /// The dictionary's values [<paramref name="atoms"/> × <paramref name="columns"/>], stored by this matrix or by the
    /// one it shares it with.
    /// </summary>
    public string Dictionary(int atoms, int columns) => ValuesOf(dictionaryName ?? Name("dictionary"), [atoms, columns]);

    /// <summary>The values of sparse rows (<paramref name="nonZeros"/> of them) as float32, before any int8 row scales.</summary>
    public string SparseValues(string factor, int nonZeros) =>
        // No stored entry: the writer leaves the empty values out, and nothing may read them.
        nonZeros == 0 ? Name(factor)
        : matrix.Grid is { } grid ? LowBitRebuild.Add(graph, Name(factor), grid, [nonZeros])
        : Cast(Name(factor));

    /// <summary>A matrix scattered from sparse rows, times the row scales of its values when they are int8.</summary>
    public string Scaled(string dense, string valuesFactor) =>
        matrix.Precision == FactorPrecision.Int8 ? graph.Op("Mul", [dense, Int8Rows.ScaleName(Name(valuesFactor))]) : dense;

    private string ValuesOf(string name, int[] shape) => matrix.Grid is { } grid ? LowBitRebuild.Add(graph, name, grid, shape)
        : matrix.Precision == FactorPrecision.Int8 ? graph.Op("Mul", [Cast(name), Int8Rows.ScaleName(name)])
        : Cast(name);

    private string Cast(string factor) => matrix.Precision == FactorPrecision.Float32
        ? factor
        : graph.Op("Cast", [factor], null, IntAttribute("to", (long)TensorElementType.Float));
}
