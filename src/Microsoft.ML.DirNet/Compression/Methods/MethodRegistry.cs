namespace Microsoft.ML.DirNet.Compression;

/// <summary>How a method turns the matrices in scope into stored forms.</summary>
internal enum MethodPlan
{
    /// <summary>Each group's size/error ladder is measured, the budget is split over groups, and each is fitted at its share.</summary>
    Planned,

    /// <summary>One structure setting for every matrix, searched for the budget (LSTM-ODL's one k and one λ).</summary>
    Shared,

    /// <summary>Every matrix kept whole; only its precision makes it smaller. A target ratio beyond what it reaches is refused.</summary>
    WholeToTarget,

    /// <summary>Every matrix kept whole at the precision asked for; the ratio follows from the bits.</summary>
    Whole,
}

/// <summary>One compression method: its name, how it plans, and how it fits a group of matrices.</summary>
/// <param name="Method">The public enum value.</param>
/// <param name="Name">The name the command line, the metadata and reports spell it with.</param>
/// <param name="Plan">How it turns matrices into forms.</param>
/// <param name="Fit">For <see cref="MethodPlan.Planned"/>, the group's size/error ladder; null otherwise.</param>
/// <param name="SharesProjection">Whether a recurrent R and the next layer's W, which multiply the same vectors, are
/// fitted together (one dictionary for both).</param>
/// <param name="FullWhitening">Whether calibration whitens the inputs fully (a factor absorbs any change of basis)
/// rather than scaling each column (which the other structures survive).</param>
/// <param name="FixedPrecision">The precision the method always stores at, when it has one.</param>
/// <param name="ChoosesPrecision">Whether the method's fit returns forms already stored at a precision it chose per
/// matrix (<see cref="CompressionOptions.Precision"/> must then be float32, and is not applied afterwards).</param>
internal sealed record MethodEntry(CompressionMethod Method, string Name, MethodPlan Plan,
    Func<MatrixGroup, CompressionOptions, CancellationToken, GroupFit>? Fit = null, bool SharesProjection = false,
    bool FullWhitening = false, FactorPrecision? FixedPrecision = null, bool ChoosesPrecision = false)
{
    /// <summary>The precision this method stores at under <paramref name="options"/>: its fixed one, else the one asked for.</summary>
    public FactorPrecision PrecisionFor(CompressionOptions options) => FixedPrecision ?? options.Precision;
}

/// <summary>
/// Every compression method and every stored form, each named once: adding a method is its folder (fit and form) plus
/// a line here. No other code names methods.
/// </summary>
internal static class MethodRegistry
{
    /// <summary>The methods, in the order the command line lists them.</summary>
    public static readonly IReadOnlyList<MethodEntry> Methods =
    [
        // Beyond about three times its even share a group's ladder is not worth measuring (see DictionaryFit).
        new(CompressionMethod.DirNet, "dirnet", MethodPlan.Planned,
            (group, options, cancel) => new DictionaryFit(group, options.Dictionary, options.Seed, (long)(group.DenseBytes * 3 / options.Ratio), cancel),
            SharesProjection: true),
        new(CompressionMethod.Hmd, "hmd", MethodPlan.Planned, (group, _, _) => new HybridFit(group)),
        new(CompressionMethod.LowRank, "lowrank", MethodPlan.Planned, (group, _, _) => new LowRankFit(group), FullWhitening: true),
        new(CompressionMethod.Prune, "prune", MethodPlan.Planned, (group, _, _) => new PruningFit(group)),
        new(CompressionMethod.Odl, "odl", MethodPlan.Shared),
        new(CompressionMethod.Int8, "int8", MethodPlan.WholeToTarget, FixedPrecision: FactorPrecision.Int8),
        new(CompressionMethod.Quant, "quant", MethodPlan.Whole),
        new(CompressionMethod.Auto, "auto", MethodPlan.Planned, (group, options, cancel) => new AutoFit(group, options, cancel),
            FullWhitening: true, ChoosesPrecision: true),
    ];

    /// <summary>
    /// The stored forms by the name a compressed file records for each matrix (<see cref="CompressedMatrix.Method"/>),
    /// each with how it reads itself back from its factors.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, Func<IFactorSource, CompressedMatrix>> StoredForms =
        new Dictionary<string, Func<IFactorSource, CompressedMatrix>>(StringComparer.Ordinal)
        {
            ["dense"] = DenseMatrix.Read,
            ["lowrank"] = LowRankMatrix.Read,
            ["prune"] = SparseMatrix.Read,
            ["dirnet"] = DictionaryMatrix.Read,
            ["odl"] = DictionaryMatrix.Read,
            ["hmd"] = HybridMatrix.Read,
        };

    /// <summary>The low-bit quantizers by the names the command line spells them with.</summary>
    public static readonly IReadOnlyDictionary<string, Quantizer> Quantizers = new Dictionary<string, Quantizer>(StringComparer.Ordinal)
    {
        ["rtn"] = Quantizer.RoundToNearest,
        ["gptq"] = Quantizer.Gptq,
    };

    /// <summary>The entry of <paramref name="method"/>.</summary>
    public static MethodEntry Of(CompressionMethod method) =>
        Methods.FirstOrDefault(m => m.Method == method) ?? throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown compression method.");

    /// <summary>The entry named <paramref name="name"/>, or null.</summary>
    public static MethodEntry? Named(string name) => Methods.FirstOrDefault(m => m.Name == name);

    /// <summary>The name of <paramref name="method"/>.</summary>
    public static string NameOf(CompressionMethod method) => Of(method).Name;

    /// <summary>The name of <paramref name="quantizer"/>.</summary>
    public static string NameOf(Quantizer quantizer) => Quantizers.First(q => q.Value == quantizer).Key;
}
