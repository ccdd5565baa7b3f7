using System.Globalization;
using System.Text;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Evaluation;

namespace Microsoft.ML.DirNet.Cli.Commands;

/// <summary><c>dirnet compare --frontier</c>'s table and plot: each method's best row at each stored ratio.</summary>
internal static class FrontierReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>
    /// The frontier as Markdown: a row per ratio, a column per method, each cell the metric, its change against the
    /// original, the stored ratio and the configuration, the row's best in bold, "—" where nothing reached the ratio.
    /// </summary>
    public static string Table(IReadOnlyList<FrontierCell> cells, ComparisonRow original, TaskEvaluation task, CompressionScope scope)
    {
        var methods = cells.Select(c => c.Method).Distinct().ToArray();
        var text = new StringBuilder();
        var metric = task.MetricNames[0];
        text.AppendLine($"Frontier: for each stored ratio, each method's best {metric} among its rows below whose stored ratio over the " +
            $"{scope.ToString().ToLowerInvariant()} weights is at least {Frontier.Tolerance.ToString("0.##", Invariant)} × it. " +
            $"Cell: {metric} (change against the original) at stored ratio, configuration; the best of each ratio in bold; — where no row reached it.");
        text.AppendLine();
        text.AppendLine("| ratio | " + string.Join(" | ", methods) + " |");
        text.AppendLine("|---|" + string.Concat(methods.Select(_ => "---|")));
        foreach (var line in cells.GroupBy(c => c.TargetRatio))
        {
            var best = line.Where(c => c.Row is not null).Select(c => c.Row!.Metrics[0]).DefaultIfEmpty(double.NaN).Min();
            var row = methods.Select(method => line.FirstOrDefault(c => c.Method == method)?.Row is { } picked
                ? picked.Metrics[0] == best ? $"**{Cell(picked, original, task, scope)}**" : Cell(picked, original, task, scope)
                : "—");
            text.AppendLine($"| {line.Key.ToString("0.##", Invariant)}x | " + string.Join(" | ", row) + " |");
        }

        return text.ToString();
    }

    /// <summary>
    /// One cell: e.g. <c>32.38 (+2.4 %) 15.24x ternary g32 gptq</c>. A change that rounds to zero prints as 0.0 (the
    /// format's third section): with two sections .NET writes a tiny negative one as "-+0.0".
    /// </summary>
    internal static string Cell(ComparisonRow row, ComparisonRow original, TaskEvaluation task, CompressionScope scope) =>
        $"{row.Metrics[0].ToString(task.Task == "lm" ? "0.00" : "0.0000", Invariant)} ({Change(row, original).ToString("+0.0;-0.0;0.0", Invariant)} %) " +
        $"{Frontier.StoredRatio(row, scope).ToString("0.00", Invariant)}x {TerminalText.Plain(Configuration(row)).Replace("|", "/")}";

    /// <summary>
    /// What was measured, briefly: the precision of a quant or int8 row; for auto, that it chose per matrix (the full
    /// table lists what); for a structured method, the precision and the structure ratio it was planned at.
    /// </summary>
    internal static string Configuration(ComparisonRow row)
    {
        var calibrated = row.Calibrated ? ", calibrated" : "";
        return row.Method switch
        {
            "quant" or "int8" => row.Precision,
            "auto" => $"per matrix{calibrated}",
            _ => $"{row.Precision}, {row.TargetRatio.ToString("0.##", Invariant)}x structure{calibrated}",
        };
    }

    /// <summary>The relative change of the first metric against the original, in %.</summary>
    private static double Change(ComparisonRow row, ComparisonRow original) => (row.Metrics[0] / original.Metrics[0] - 1) * 100;

    /// <summary>The first metric's change against the stored ratio, one line per method over its frontier cells.</summary>
    public static byte[] Plot(IReadOnlyList<FrontierCell> cells, IReadOnlyList<double> ratios, ComparisonRow original, TaskEvaluation task,
        CompressionScope scope, string modelName)
    {
        var series = cells.GroupBy(c => c.Method).Select(g => new ComparisonPlot.RatioSeries(g.Key,
            g.Where(c => c.Row is not null).Select(c => (Frontier.StoredRatio(c.Row!, scope), Change(c.Row!, original))).Distinct().ToArray()));
        return ComparisonPlot.DrawRelative($"{modelName}: best {task.MetricNames[0]} per method at each stored ratio",
            scope == CompressionScope.Model ? "stored ratio of the model file" : "stored ratio of the recurrent weights", task.MetricNames[0], ratios, series);
    }
}
