using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>One cell of a frontier: a method's best row among those that reach a stored ratio.</summary>
/// <param name="TargetRatio">The stored ratio the rows had to reach.</param>
/// <param name="Method">The method's command-line name.</param>
/// <param name="Row">The row with the lowest first metric among the method's rows that reach <paramref name="TargetRatio"/>; null where none does.</param>
public sealed record FrontierCell(double TargetRatio, string Method, ComparisonRow? Row);

/// <summary>
/// Picks, for each method and each stored ratio, the best measured row that reaches the ratio: what a user who needs
/// that much compression should take from that method.
/// </summary>
public static class Frontier
{
    /// <summary>
    /// The share of a ratio a row's stored ratio must reach to count at it: the planners meet a target to within a
    /// percent or two (a byte budget is split over whole ranks, atoms or groups), and a row at 7.9x answers a need for 8x.
    /// </summary>
    public const double Tolerance = 0.98;

    /// <summary>A row's stored ratio over <paramref name="scope"/>: its matrix ratio for the recurrent weights, its file ratio for the model.</summary>
    public static double StoredRatio(ComparisonRow row, CompressionScope scope)
    {
        ArgumentNullException.ThrowIfNull(row);
        return scope == CompressionScope.Model ? row.FileRatio : row.MatrixRatio;
    }

    /// <summary>Whether <paramref name="row"/> has a result whose stored ratio reaches <see cref="Tolerance"/> × <paramref name="ratio"/>.</summary>
    public static bool Reaches(ComparisonRow row, double ratio, CompressionScope scope) =>
        row.Problem is null && StoredRatio(row, scope) >= Tolerance * ratio;

    /// <summary>
    /// One cell per ratio and method, ratios in the order given and methods within each: the method's row with the
    /// lowest first metric (perplexity, CER: lower is better) among those that reach the ratio. Rows measured from
    /// given files (<see cref="ComparisonRow.Source"/> set) and rows without a finite metric are not candidates.
    /// </summary>
    /// <param name="rows">The measured rows, e.g. from <see cref="FrontierComparison.Run"/>.</param>
    /// <param name="methods">The methods, one column each.</param>
    /// <param name="ratios">The stored ratios, one row each.</param>
    /// <param name="scope">What the ratios are over.</param>
    public static IReadOnlyList<FrontierCell> Select(IReadOnlyList<ComparisonRow> rows, IReadOnlyList<CompressionMethod> methods,
        IReadOnlyList<double> ratios, CompressionScope scope)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(methods);
        ArgumentNullException.ThrowIfNull(ratios);
        var candidates = rows.Where(r => r.Source is null && r.Metrics.Length > 0 && double.IsFinite(r.Metrics[0])).ToArray();
        return ratios.SelectMany(ratio => methods.Select(MethodRegistry.NameOf).Select(name => new FrontierCell(ratio, name,
            candidates.Where(r => r.Method == name && Reaches(r, ratio, scope)).MinBy(r => r.Metrics[0])))).ToArray();
    }
}
