namespace Microsoft.ML.DirNet.Compression;

public sealed partial class LowRankMatrix
{
    /// <summary>Reads U and V back; the rank is U's second dimension.</summary>
    internal static CompressedMatrix Read(IFactorSource source) =>
        new LowRankMatrix(source.Values("left"), source.Values("right"), source.Rows, source.Columns, source.Dimension("left", 1));

    /// <inheritdoc/>
    internal override string Rebuild(FactorGraph factors) => factors.Graph.Op("MatMul", [factors.Values("left"), factors.Values("right")]);
}
