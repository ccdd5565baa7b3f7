using ScottPlot;

namespace Microsoft.ML.DirNet.Cli;

/// <summary>
/// A PNG plot of a task metric against size: one line per method (its ratios in order of size), the original model as a
/// marked point and a labelled dashed level; the size axis is logarithmic where sizes span more than 10x, the metric
/// axis where metrics span more than 3x. Shared by
/// <c>dirnet compare --plot</c> and the samples.
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
        var lines = series.Where(s => s.Points.Count > 0).ToArray();
        var sizes = lines.SelectMany(s => s.Points.Select(p => p.Megabytes)).Append(original.Megabytes).Where(v => v > 0).ToArray();
        var metrics = lines.SelectMany(s => s.Points.Select(p => p.Metric)).Append(original.Metric).Where(v => v > 0).ToArray();
        // Sizes spanning over 10x, or metrics over 3x (HMD's perplexity of 283 beside 31), get a log axis, so the close
        // results are not squeezed into the bottom tenth of the plot.
        var logSize = Spans(sizes, 10);
        var logMetric = Spans(metrics, 3);
        double X(double v) => logSize ? Math.Log10(v) : v;
        double Y(double v) => logMetric ? Math.Log10(v) : v;

        var plot = new Plot();
        plot.Title(title);
        plot.XLabel(sizeLabel + (logSize ? ", log scale" : ""));
        plot.YLabel(metricLabel + (logMetric ? ", log scale" : ""));
        if (logSize)
        {
            plot.Axes.Bottom.TickGenerator = LogTicks(sizes.Min(), sizes.Max());
        }

        if (logMetric)
        {
            plot.Axes.Left.TickGenerator = LogTicks(metrics.Min(), metrics.Max());
        }

        var level = plot.Add.HorizontalLine(Y(original.Metric));
        level.LinePattern = LinePattern.Dashed;
        level.Color = Colors.Gray;
        level.LegendText = $"original {metricLabel} ({original.Metric:0.####})";
        var marker = plot.Add.Scatter(new[] { X(original.Megabytes) }, new[] { Y(original.Metric) });
        marker.LegendText = "original";
        marker.Color = Colors.Black;
        marker.MarkerSize = 9;
        // Colour, marker shape and line pattern all vary, so two series that coincide are still told apart.
        MarkerShape[] shapes = [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond,
            MarkerShape.OpenCircle, MarkerShape.OpenSquare, MarkerShape.OpenTriangleUp, MarkerShape.OpenDiamond];
        LinePattern[] patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];
        for (var index = 0; index < lines.Length; index++)
        {
            var points = lines[index].Points.Where(p => (!logSize || p.Megabytes > 0) && (!logMetric || p.Metric > 0)).OrderBy(p => p.Megabytes).ToArray();
            var scatter = plot.Add.Scatter(points.Select(p => X(p.Megabytes)).ToArray(), points.Select(p => Y(p.Metric)).ToArray());
            scatter.LegendText = lines[index].Label;
            scatter.Color = plot.Add.Palette.GetColor(index);
            scatter.MarkerSize = 7;
            scatter.MarkerShape = shapes[index % shapes.Length];
            scatter.LinePattern = patterns[index / shapes.Length % patterns.Length];
        }

        plot.ShowLegend(Alignment.UpperRight);
        return plot.GetImageBytes(900, 560, ImageFormat.Png);
    }

    private static bool Spans(double[] values, double factor) => values.Length > 1 && values.Max() > factor * values.Min();

    /// <summary>
    /// Ticks for an axis that holds log10 of the values in [<paramref name="low"/>, <paramref name="high"/>], at 1, 2, 3
    /// and 5 times the powers of ten between them, labelled with the values themselves.
    /// </summary>
    private static ScottPlot.TickGenerators.NumericManual LogTicks(double low, double high)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (var power = Math.Floor(Math.Log10(low)); power <= Math.Ceiling(Math.Log10(high)); power++)
        {
            foreach (var step in new[] { 1, 2, 3, 5 })
            {
                var value = step * Math.Pow(10, power);
                if (value >= low / 1.5 && value <= high * 1.5)
                {
                    ticks.AddMajor(Math.Log10(value), value.ToString("G4", System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }

        return ticks;
    }
}
