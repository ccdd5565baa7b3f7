using ScottPlot;

namespace Microsoft.ML.DirNet.Cli;

/// <summary>
/// A PNG plot of a task metric against size: one line per method (its ratios in order of size), the original model as a
/// marked point and a labelled dashed level; the size axis is logarithmic where sizes span more than 10x, the metric
/// axis where metrics span more than 3x. Shared by
/// <c>dirnet compare --plot</c> and the samples; <see cref="DrawRelative"/> draws <c>compare --frontier</c>'s plot of the
/// metric's relative change against the stored ratio.
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

        AddBaseline(plot, Y(original.Metric), $"original {metricLabel} ({original.Metric:0.####})");
        var marker = plot.Add.Scatter(new[] { X(original.Megabytes) }, new[] { Y(original.Metric) });
        marker.LegendText = "original";
        marker.Color = Colors.Black;
        marker.MarkerSize = 9;
        for (var index = 0; index < lines.Length; index++)
        {
            var points = lines[index].Points.Where(p => (!logSize || p.Megabytes > 0) && (!logMetric || p.Metric > 0)).OrderBy(p => p.Megabytes).ToArray();
            AddLine(plot, index, lines[index].Label, points.Select(p => X(p.Megabytes)).ToArray(), points.Select(p => Y(p.Metric)).ToArray());
        }

        plot.ShowLegend(Alignment.UpperRight);
        return plot.GetImageBytes(900, 560, ImageFormat.Png);
    }

    /// <summary>One method's frontier: (stored ratio, change of the metric against the original in %) points.</summary>
    public sealed record RatioSeries(string Label, IReadOnlyList<(double Ratio, double ChangePercent)> Points);

    /// <summary>
    /// Draws the relative change of a metric against the stored ratio and returns the PNG bytes: the ratio axis
    /// logarithmic with ticks at <paramref name="ratios"/>, the original as a labelled level at 0 %, one line per series.
    /// </summary>
    /// <param name="title">The plot's title.</param>
    /// <param name="ratioLabel">What the ratios are over, e.g. "stored ratio of the recurrent weights".</param>
    /// <param name="metricLabel">The metric, e.g. "perplexity".</param>
    /// <param name="ratios">The ratios the axis is ticked at.</param>
    /// <param name="series">One series per method.</param>
    public static byte[] DrawRelative(string title, string ratioLabel, string metricLabel, IReadOnlyList<double> ratios, IEnumerable<RatioSeries> series)
    {
        var lines = series.Where(s => s.Points.Count > 0).ToArray();
        var changes = lines.SelectMany(s => s.Points.Select(p => p.ChangePercent)).ToArray();
        // One method at +800 % beside others within +5 % would flatten the close ones onto the 0 % line: then the axis
        // is a symmetric log, sign(c)·log10(1 + |c|), which keeps 0 at 0, negative changes below it, and both readable.
        var symmetricLog = changes.Length > 1 && changes.Max(Math.Abs) > 10 * Math.Max(1, changes.Min(Math.Abs));
        double Y(double change) => symmetricLog ? Math.Sign(change) * Math.Log10(1 + Math.Abs(change)) : change;
        var ticks = ratios.Concat(lines.SelectMany(s => s.Points.Select(p => p.Ratio))).Where(r => r > 0).ToArray();

        var plot = new Plot();
        plot.Title(title);
        plot.XLabel(ratioLabel + ", log scale");
        plot.YLabel($"{metricLabel} change against the original (%){(symmetricLog ? ", symmetric log scale" : "")}");
        var ratioTicks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var ratio in ratios.Where(r => r > 0))
        {
            ratioTicks.AddMajor(Math.Log10(ratio), ratio.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) + "x");
        }

        plot.Axes.Bottom.TickGenerator = ratioTicks;
        if (symmetricLog)
        {
            plot.Axes.Left.TickGenerator = SymmetricLogTicks(changes.Min(), changes.Max());
        }

        AddBaseline(plot, 0, "original (0 %)");
        if (ticks.Length > 0)
        {
            // The level's name on the plot itself, at its left end, as well as in the legend.
            var label = plot.Add.Text("original (0 %)", Math.Log10(ticks.Min()), 0);
            label.LabelFontColor = Colors.Gray;
            label.LabelAlignment = Alignment.LowerLeft;
        }

        for (var index = 0; index < lines.Length; index++)
        {
            var points = lines[index].Points.Where(p => p.Ratio > 0).OrderBy(p => p.Ratio).ToArray();
            AddLine(plot, index, lines[index].Label, points.Select(p => Math.Log10(p.Ratio)).ToArray(), points.Select(p => Y(p.ChangePercent)).ToArray());
        }

        if (ticks.Length > 0)
        {
            // Fitted to every point first (setting one axis's limits would stop the other fitting the lines added
            // later), then widened to every ratio ticked, so a ratio no method reached still shows where it is.
            plot.Axes.AutoScale();
            plot.Axes.SetLimitsX(Math.Log10(ticks.Min() / 1.15), Math.Log10(ticks.Max() * 1.15));
        }

        plot.ShowLegend(Alignment.UpperLeft);
        return plot.GetImageBytes(900, 560, ImageFormat.Png);
    }

    /// <summary>The original's level: a grey dashed line named in the legend.</summary>
    private static void AddBaseline(Plot plot, double y, string label)
    {
        var level = plot.Add.HorizontalLine(y);
        level.LinePattern = LinePattern.Dashed;
        level.Color = Colors.Gray;
        level.LegendText = label;
    }

    /// <summary>
    /// One series' line. Colour, marker shape and line pattern all vary with <paramref name="index"/>, so two series
    /// that coincide are still told apart.
    /// </summary>
    private static void AddLine(Plot plot, int index, string label, double[] xs, double[] ys)
    {
        MarkerShape[] shapes = [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond,
            MarkerShape.OpenCircle, MarkerShape.OpenSquare, MarkerShape.OpenTriangleUp, MarkerShape.OpenDiamond];
        LinePattern[] patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];
        var scatter = plot.Add.Scatter(xs, ys);
        scatter.LegendText = label;
        scatter.Color = plot.Add.Palette.GetColor(index);
        scatter.MarkerSize = 7;
        scatter.MarkerShape = shapes[index % shapes.Length];
        scatter.LinePattern = patterns[index / shapes.Length % patterns.Length];
    }

    /// <summary>
    /// Ticks for an axis that holds sign(c)·log10(1 + |c|) of changes c in [<paramref name="low"/>, <paramref name="high"/>] %:
    /// 0 and ±1, 2, 5 times the powers of ten between, labelled with the changes themselves.
    /// </summary>
    private static ScottPlot.TickGenerators.NumericManual SymmetricLogTicks(double low, double high)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        ticks.AddMajor(0, "0 %");
        var largest = Math.Max(Math.Abs(low), Math.Abs(high));
        for (var power = 0; Math.Pow(10, power) <= largest * 1.5; power++)
        {
            foreach (var step in new[] { 1, 2, 5 })
            {
                var value = step * Math.Pow(10, power);
                foreach (var sign in new[] { 1, -1 })
                {
                    if (sign * value >= Math.Min(low, 0) * 1.5 && sign * value <= Math.Max(high, 0) * 1.5)
                    {
                        ticks.AddMajor(sign * Math.Log10(1 + value), (sign * value).ToString("+0;-0", System.Globalization.CultureInfo.InvariantCulture) + " %");
                    }
                }
            }
        }

        return ticks;
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
