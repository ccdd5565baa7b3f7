namespace Microsoft.ML.DirNet.Compression;

public sealed partial class DenseMatrix
{
    /// <summary>Reads a dense matrix back: its one value array.</summary>
    internal static CompressedMatrix Read(IFactorSource source) => new DenseMatrix(source.Values("weight"), source.Rows, source.Columns);

    /// <inheritdoc/>
    internal override string Rebuild(FactorGraph factors) => factors.Values("weight");
}
