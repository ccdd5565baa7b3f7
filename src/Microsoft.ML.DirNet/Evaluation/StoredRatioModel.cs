namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>
/// How a structured method's stored ratio follows its structure ratio s at one precision:
/// 1 / stored ≈ <see cref="Slope"/> / s + <see cref="Floor"/>. The structure's values shrink as 1 / s, times the share
/// the precision keeps of them (the slope); what does not shrink with the structure (per-row scales, per-group scales
/// and zero points, indices, row starts) is the floor, so the stored ratio grows ever slower than s and tends to
/// 1 / floor. A plain proportion (stored = s × the precision's factor at one s) misses far on small matrices, where
/// that overhead is a large share.
/// </summary>
/// <param name="Slope">The bytes per dense byte of the structure's values, per unit of 1 / s.</param>
/// <param name="Floor">The bytes per dense byte that stay whatever s is.</param>
internal readonly record struct StoredRatioModel(double Slope, double Floor)
{
    /// <summary>fp32: the stored ratio is the structure ratio.</summary>
    public static StoredRatioModel Identity { get; } = new(1, 0);

    /// <summary>Through one measured point, with no floor: the precision's factor taken as constant.</summary>
    public static StoredRatioModel Proportional(double structure, double stored) => new(structure / stored, 0);

    /// <summary>
    /// Through two measured points (a secant in 1 / s and 1 / stored). Where they do not give a stored ratio that
    /// grows with s (equal sizes at two structures a rank apart, or noise), the proportion through the one at the
    /// larger s.
    /// </summary>
    public static StoredRatioModel Through((double Structure, double Stored) p, (double Structure, double Stored) q)
    {
        var slope = (1 / q.Stored - 1 / p.Stored) / (1 / q.Structure - 1 / p.Structure);
        var floor = 1 / p.Stored - slope / p.Structure;
        if (slope > 0 && double.IsFinite(slope) && double.IsFinite(floor))
        {
            return new StoredRatioModel(slope, floor);
        }

        var far = p.Structure > q.Structure ? p : q;
        return Proportional(far.Structure, far.Stored);
    }

    /// <summary>The stored ratio at structure ratio <paramref name="structure"/>.</summary>
    public double StoredAt(double structure) => 1 / (Slope / structure + Floor);

    /// <summary>The structure ratio whose stored ratio is <paramref name="stored"/>; infinity where the floor alone stores more than that allows.</summary>
    public double StructureFor(double stored) => 1 / stored > Floor ? Slope / (1 / stored - Floor) : double.PositiveInfinity;
}
