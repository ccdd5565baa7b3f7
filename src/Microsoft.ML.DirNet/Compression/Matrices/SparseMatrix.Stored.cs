namespace Microsoft.ML.DirNet.Compression;

public sealed partial class SparseMatrix
{
    /// <summary>Reads the kept weights back.</summary>
    internal static CompressedMatrix Read(IFactorSource source) => new SparseMatrix(source.Sparse("weight_", source.Columns));

    /// <inheritdoc/>
    internal override string Rebuild(FactorGraph factors) =>
        factors.Scaled(Storage.Rebuild(factors, "weight_", factors.SparseValues("weight_values", NonZeros)), "weight_values");
}
