namespace Microsoft.ML.DirNet.Compression;

public sealed partial class DictionaryMatrix
{
    /// <summary>Reads the codes and the dictionary (its own or the one it shares) back.</summary>
    internal static CompressedMatrix Read(IFactorSource source)
    {
        var (dictionary, atoms, owned) = source.Dictionary();
        return new DictionaryMatrix(source.Method, dictionary, atoms, source.Sparse("code_", atoms), owned);
    }

    /// <inheritdoc/>
    /// <remarks>C·P: the codes scattered to a dense [rows × atoms], times the dictionary.</remarks>
    internal override string Rebuild(FactorGraph factors)
    {
        var codes = factors.Scaled(Codes.Rebuild(factors, "code_", factors.SparseValues("code_values", NonZeros)), "code_values");
        return factors.Graph.Op("MatMul", [codes, factors.Dictionary(Atoms, Columns)]);
    }
}
