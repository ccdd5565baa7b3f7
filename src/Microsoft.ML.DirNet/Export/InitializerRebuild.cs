using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using static Microsoft.ML.DirNet.Onnx.GraphBuilder;

namespace Microsoft.ML.DirNet.Export;

/// <summary>
/// The subgraph that recomputes the compressed initializers under their original names: each direction's matrix rebuilt
/// from its factors (<see cref="CompressedMatrix.Rebuild"/>), transposed back for a MatMul/Gemm B stored as Wᵀ, stacked over
/// directions, and reshaped to the original shape. The writer emits it and the native loader rebuilds it from the
/// factors to check that a file's graph is exactly what was written.
/// </summary>
internal static class InitializerRebuild
{
    public static GraphBuilder Build(IEnumerable<(CompressedInitializer Entry, CompressedMatrix[] Matrices)> initializers)
    {
        var g = new GraphBuilder("dirnet:");
        foreach (var (entry, matrices) in initializers)
        {
            g.Purpose = entry.Name;
            Add(g, entry, matrices);
        }

        return g;
    }

    private static void Add(GraphBuilder g, CompressedInitializer entry, CompressedMatrix[] matrices)
    {
        var parts = matrices.Select((matrix, d) =>
            matrix.Rebuild(new FactorGraph(g, matrix, CompressionMetadata.FactorPrefix(entry.Name, d), entry.Matrices[d].Dictionary))).ToArray();
        var value = entry.Transposed ? g.Op("Transpose", [parts[0]], null, IntsAttribute("perm", 1, 0))
            : parts.Length == 1 ? parts[0]
            : g.Op("Concat", parts, null, IntAttribute("axis", 0));
        g.Op("Reshape", [value, g.Int64s(entry.Shape.Select(d => (long)d).ToArray())], entry.Name);
    }
}
