using ScottPlot;

namespace Microsoft.ML.DirNet.Cli;

/// <summary>
/// A PNG plot of a task metric against size: one line per method (its ratios in order of size), the original model as a
/// marked point and a dashed level. Shared by <c>dirnet compare --plot</c> and the samples.
/// </summary>
internal static class ComparisonPlot
{
    /// <summary>One method's results: (megabytes, metric) points.</summary>
    public sealed record Series(string Label, IReadOnlyList<(double Megabytes, double Metric)> Points);

    /// <summary>Draws the plot and returns the PNG bytes (the caller decides how the file is written).</summary>
    /// <param name="title">The plot's title.</param>
    /// <param name="sizeLabel">What the sizes measure, e.g. "recurrent weights (MB)".</param>
    /// <param name="metricLabel">The metric, e.g. "perplexity".</param>
    /// <param name="original">The original model's size and metric.</param>
    /// <param name="series">One series per method.</param>
    public static byte[] Draw(string title, string sizeLabel, string metricLabel, (double Megabytes, double Metric) original, IEnumerable<Series> series)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel(sizeLabel);
        plot.YLabel(metricLabel);
        var level = plot.Add.HorizontalLine(original.Metric);
        level.LinePattern = LinePattern.Dashed;
        level.Color = Colors.Gray;
        var marker = plot.Add.Scatter(new[] { original.Megabytes }, new[] { original.Metric });
        marker.LegendText = "original";
        marker.Color = Colors.Black;
        marker.MarkerSize = 9;
        foreach (var (line, index) in series.Where(s => s.Points.Count > 0).Select((s, i) => (s, i)))
        {
            var points = line.Points.OrderBy(p => p.Megabytes).ToArray();
            var scatter = plot.Add.Scatter(points.Select(p => p.Megabytes).ToArray(), points.Select(p => p.Metric).ToArray());
            scatter.LegendText = line.Label;
            scatter.Color = plot.Add.Palette.GetColor(index);
            scatter.MarkerSize = 7;
        }

        plot.ShowLegend(Alignment.UpperRight);
        return plot.GetImageBytes(900, 560, ImageFormat.Png);
    }
}
