using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.DirNet;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Cli;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Spectre.Console;

namespace DirNetSamples;

/// <summary>One row of a sample's table: a model, its size, its speed in both engines, and its task metrics.</summary>
internal sealed record ShowcaseRow(string Label, long RecurrentBytes, long FileBytes, double NativeMs, double OnnxRuntimeMs,
    double SpeedupOverOriginal, double[] Metrics, double FitSeconds);

/// <summary>
/// What both samples do with their model: fit an ML.NET pipeline ending in <c>CompressRnn</c> for each method and
/// ratio, save the compressed ONNX, and measure size, latency (native engine and ONNX Runtime side by side, batch 1,
/// one thread, median of runs) and the task metric; then print one table and draw the plot.
/// </summary>
internal sealed class CompressionShowcase(MLContext mlContext, string modelPath, TaskEvaluation task, Tensor[] latencyInputs,
    int steps, string stepName, string outputFolder)
{
    private readonly OnnxModel _original = OnnxModel.Load(modelPath);
    private readonly List<ShowcaseRow> _rows = [];

    /// <summary>Runs the original and every case, printing progress; returns the fitted transformers by label.</summary>
    public Dictionary<string, RnnCompressionTransformer> Run(IDataView fitData, IEnumerable<(string Label, RnnCompressionOptions Options)> cases)
    {
        Directory.CreateDirectory(outputFolder);
        var fitted = new Dictionary<string, RnnCompressionTransformer>();
        AnsiConsole.Status().Start("original model: task metric and latency", context =>
        {
            var metrics = task.Evaluate(new NativeModel(_original), _original);
            var latency = LatencyComparison.Measure(_original, latencyInputs, runs: 11);
            _rows.Add(new ShowcaseRow("original", 0, new FileInfo(modelPath).Length, latency.NativeMilliseconds, latency.OnnxRuntimeMilliseconds,
                latency.OnnxRuntimeMilliseconds / latency.NativeMilliseconds, metrics, 0));
            foreach (var (label, options) in cases)
            {
                context.Status($"{label}: fitting the pipeline (compressing)");
                options.ModelFile = modelPath;
                var clock = Stopwatch.StartNew();
                var transformer = mlContext.Transforms.CompressRnn(options).Fit(fitData);
                var seconds = clock.Elapsed.TotalSeconds;
                var path = Path.Combine(outputFolder, $"{label.Replace(' ', '-')}.onnx");
                transformer.SaveCompressedModel(path);
                fitted[label] = transformer;

                context.Status($"{label}: task metric and latency of {Path.GetFileName(path)}");
                var compressed = OnnxModel.Load(path);
                var scores = task.Evaluate(new NativeModel(compressed), compressed);
                var speed = LatencyComparison.MeasureCompressed(_original, compressed, latencyInputs, runs: 11);
                _rows.Add(new ShowcaseRow(label, transformer.Report.BytesAfter, new FileInfo(path).Length, speed.Compressed.NativeMilliseconds,
                    speed.Compressed.OnnxRuntimeMilliseconds, speed.CompressedSpeedup, scores, seconds));
            }
        });

        // Every case compresses the same recurrent weights: their size before is the original's.
        _rows[0] = _rows[0] with { RecurrentBytes = fitted.Values.First().Report.BytesBefore };
        return fitted;
    }

    /// <summary>Prints the table: size, latency per step in both engines, and the metrics with their change.</summary>
    public void PrintTable()
    {
        if (Console.IsOutputRedirected)
        {
            AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 140); // a log file has no width; do not wrap the table
        }

        var table = new Table().Border(TableBorder.Rounded).Title("[bold]size, speed and accuracy before and after[/]");
        table.AddColumns("model", "LSTM/GRU MB", "file MB", $"native ms/{stepName}", $"ORT ms/{stepName}", "speedup");
        foreach (var name in task.MetricNames)
        {
            table.AddColumn(name);
            table.AddColumn("change");
        }

        table.AddColumn("fit s");
        var original = _rows[0];
        foreach (var row in _rows)
        {
            var cells = new List<string>
            {
                row.Label, $"{row.RecurrentBytes / 1e6:0.00}", $"{row.FileBytes / 1e6:0.00}", $"{row.NativeMs / steps:0.000}",
                $"{row.OnnxRuntimeMs / steps:0.000}", $"{row.SpeedupOverOriginal:0.00}x",
            };
            for (var m = 0; m < row.Metrics.Length; m++)
            {
                cells.Add(task.Task == "lm" ? $"{row.Metrics[m]:0.00}" : $"{row.Metrics[m]:0.0000}");
                cells.Add(row == original ? "" : $"{(row.Metrics[m] / original.Metrics[m] - 1) * 100:+0.0;-0.0} %");
            }

            cells.Add(row == original ? "" : $"{row.FitSeconds:0.0}");
            table.AddRow(cells.Select(Markup.Escape).ToArray());
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"[grey]speedup = ONNX Runtime on the original model / native engine on this one, measured side by side ({steps} {stepName}s, batch 1, one thread, median of 11 runs). Compressed models are in {Markup.Escape(outputFolder)}.[/]");
    }

    /// <summary>Draws the first metric against the recurrent weights' size, one line per method.</summary>
    public string DrawPlot(string title)
    {
        var path = Path.Combine(outputFolder, $"{task.Task}-compression.png");
        var series = _rows.Skip(1)
            .GroupBy(r => r.Label.Split(' ')[0])
            .Select(g => new ComparisonPlot.Series(g.Key, g.Select(r => (r.RecurrentBytes / 1e6, r.Metrics[0])).ToArray()));
        File.WriteAllBytes(path, ComparisonPlot.Draw(title, "recurrent weights (MB)", task.MetricNames[0], (_rows[0].RecurrentBytes / 1e6, _rows[0].Metrics[0]), series));
        AnsiConsole.MarkupLine($"Plot: {Markup.Escape(path)}");
        return path;
    }

    /// <summary>
    /// The int8 baseline, labelled "int8": every recurrent matrix whole, int8 values with a scale per row, as dynamic
    /// quantization stores weights (one form; the ratio asked is only a floor it exceeds).
    /// </summary>
    public static (string Label, RnnCompressionOptions Options) Int8Baseline(IDictionary<string, int[]> shapes) =>
        ("int8", new RnnCompressionOptions { Method = CompressionMethod.Int8, TargetRatio = 2, Scope = CompressionScope.Recurrent, ShapeDictionary = shapes });

    /// <summary>
    /// The quant method at each precision, labelled "quant int4" etc.: every recurrent matrix whole, its values per group
    /// at that many bits (default groups), the peer every structured method is judged against at equal bytes.
    /// </summary>
    public static IEnumerable<(string Label, RnnCompressionOptions Options)> Quantized(IDictionary<string, int[]> shapes, params FactorPrecision[] precisions) =>
        precisions.Select(precision => ($"quant {precision.ToString().ToLowerInvariant()}", new RnnCompressionOptions
        {
            Method = CompressionMethod.Quant, Precision = precision, Scope = CompressionScope.Recurrent, ShapeDictionary = shapes,
        }));

    /// <summary>The same cases with their factors stored as int8 (a scale per row), labelled "method+int8 Nx".</summary>
    public static IEnumerable<(string Label, RnnCompressionOptions Options)> WithInt8Factors(IEnumerable<(string Label, RnnCompressionOptions Options)> cases) =>
        cases.Select(c => (c.Label.Replace(" ", "+int8 "), new RnnCompressionOptions
        {
            Method = c.Options.Method, TargetRatio = c.Options.TargetRatio, Scope = c.Options.Scope, ShapeDictionary = c.Options.ShapeDictionary,
            Precision = FactorPrecision.Int8,
        }));

    /// <summary>Each method at each ratio over the recurrent weights, labelled "method Nx".</summary>
    public static IEnumerable<(string Label, RnnCompressionOptions Options)> Cases(IDictionary<string, int[]> shapes, int[] ratios, params CompressionMethod[] methods) =>
        from method in methods
        from ratio in ratios
        select ($"{method.ToString().ToLowerInvariant()} {ratio}x", new RnnCompressionOptions
        {
            Method = method, TargetRatio = ratio, Scope = CompressionScope.Recurrent, ShapeDictionary = shapes,
        });
}
