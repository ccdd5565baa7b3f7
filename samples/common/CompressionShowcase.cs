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

/// <summary>
/// One row of a sample's table: a model, its size, its speed in both engines (zero where not timed), and its task metrics.
/// <paramref name="OriginalOnnxRuntimeMs"/> is ONNX Runtime on the original model, timed in the same rounds.
/// </summary>
internal sealed record ShowcaseRow(string Label, long RecurrentBytes, long FileBytes, double NativeMs, double OnnxRuntimeMs,
    double OriginalOnnxRuntimeMs, double[] Metrics, double FitSeconds)
{
    /// <summary>ONNX Runtime on the original model over the native engine on this one.</summary>
    public double SpeedupOverOriginal => OriginalOnnxRuntimeMs / NativeMs;
}

/// <summary>
/// What both samples do with their model: fit an ML.NET pipeline ending in <c>CompressRnn</c> for each method and
/// ratio, save the compressed ONNX, and measure size, latency (native engine and ONNX Runtime side by side, batch 1,
/// one thread, median of runs) and the task metric; then print one table (and its markdown, for the README) and draw
/// the plot.
/// </summary>
internal sealed class CompressionShowcase(MLContext mlContext, string modelPath, TaskEvaluation task, Tensor[] latencyInputs,
    int steps, string stepName, string outputFolder)
{
    private const int TimedRuns = 11;
    private readonly OnnxModel _original = OnnxModel.Load(modelPath);
    private readonly List<ShowcaseRow> _rows = [];

    /// <summary>Where output is redirected (a log has no width), lines and the table are not wrapped at 80 columns.</summary>
    public static void WidenRedirectedOutput()
    {
        if (Console.IsOutputRedirected)
        {
            AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 200);
        }
    }

    /// <summary>
    /// Runs the original and every case, printing progress: fits and measures the task metric of each, then times them
    /// all from their saved files. Returns the fitted transformers named in <paramref name="keep"/>; the others are
    /// released before the timing, since every run allocates its outputs and a heap holding a dozen compressed models
    /// makes each collection, and so each timed run, slower in both engines.
    /// </summary>
    public Dictionary<string, RnnCompressionTransformer> Run(IDataView fitData, IEnumerable<(string Label, RnnCompressionOptions Options)> cases,
        params string[] keep)
    {
        var kept = new Dictionary<string, RnnCompressionTransformer>();
        AnsiConsole.Status().Start("original model: task metric", context =>
        {
            _rows.Add(MeasureOriginal());
            foreach (var (label, options) in cases)
            {
                context.Status($"{label}: fitting the pipeline (compressing), then the task metric");
                _rows.Add(Measure(label, options, fitData, out var transformer));
                _rows[0] = _rows[0] with { RecurrentBytes = transformer.Report.BytesBefore };
                if (keep.Contains(label))
                {
                    kept[label] = transformer;
                }
            }
        });

        // Timing happens after the progress display has stopped, so that its rendering does not share the cores.
        AnsiConsole.WriteLine($"Timing {_rows.Count} models, each beside the original in ONNX Runtime and the native engine ...");
        for (var i = 0; i < _rows.Count; i++)
        {
            _rows[i] = WithLatency(_rows[i]);
        }

        return kept;
    }

    /// <summary>
    /// The original model's row, without latency; its recurrent bytes are those every case compresses
    /// (<paramref name="recurrentBytes"/>: a fitted case's <c>Report.BytesBefore</c>).
    /// </summary>
    public ShowcaseRow MeasureOriginal(long recurrentBytes = 0) =>
        new("original", recurrentBytes, new FileInfo(modelPath).Length, 0, 0, 0, task.Evaluate(new NativeModel(_original), _original), 0);

    /// <summary>
    /// Fits <paramref name="options"/> on <paramref name="fitData"/>, saves the compressed ONNX in the output folder and
    /// measures its task metric natively on the saved file (without latency, which <see cref="Run"/> adds).
    /// </summary>
    public ShowcaseRow Measure(string label, RnnCompressionOptions options, IDataView fitData, out RnnCompressionTransformer transformer)
    {
        Directory.CreateDirectory(outputFolder);
        options.ModelFile = modelPath;
        var clock = Stopwatch.StartNew();
        transformer = mlContext.Transforms.CompressRnn(options).Fit(fitData);
        var seconds = clock.Elapsed.TotalSeconds;
        var path = PathOf(label);
        transformer.SaveCompressedModel(path);

        var compressed = OnnxModel.Load(path);
        return new ShowcaseRow(label, transformer.Report.BytesAfter, new FileInfo(path).Length, 0, 0, 0, task.Evaluate(new NativeModel(compressed), compressed), seconds);
    }

    /// <summary>The row with its latency: the model saved for it timed beside the original, in both engines.</summary>
    private ShowcaseRow WithLatency(ShowcaseRow row)
    {
        GC.Collect(); // the previous models' garbage is not collected inside the timed rounds
        if (row.Label == "original")
        {
            var latency = LatencyComparison.Measure(_original, latencyInputs, runs: TimedRuns);
            return row with { NativeMs = latency.NativeMilliseconds, OnnxRuntimeMs = latency.OnnxRuntimeMilliseconds, OriginalOnnxRuntimeMs = latency.OnnxRuntimeMilliseconds };
        }

        var speed = LatencyComparison.MeasureCompressed(_original, OnnxModel.Load(PathOf(row.Label)), latencyInputs, runs: TimedRuns);
        return row with
        {
            NativeMs = speed.Compressed.NativeMilliseconds, OnnxRuntimeMs = speed.Compressed.OnnxRuntimeMilliseconds,
            OriginalOnnxRuntimeMs = speed.Original.OnnxRuntimeMilliseconds,
        };
    }

    /// <summary>The table's column headers; <c>Timed</c> marks those that vary from run to run (latency, fit time).</summary>
    public IReadOnlyList<(string Name, bool Timed)> Columns()
    {
        var weights = task.Task == "lm" ? "LSTM" : "GRU";
        var columns = new List<(string, bool)>
        {
            ("model", false), ($"{weights} MB", false), ("file MB", false), ($"native ms/{stepName}", true),
            ($"ORT ms/{stepName}", true), ($"ORT original ms/{stepName}", true), ("speedup", true),
        };
        foreach (var name in task.MetricNames)
        {
            columns.Add((name, false));
            columns.Add(($"{name} change", false));
        }

        columns.Add(("fit s", true));
        return columns;
    }

    /// <summary>A row's cells, in the order of <see cref="Columns"/>; changes are against <paramref name="original"/>.</summary>
    public IReadOnlyList<string> Cells(ShowcaseRow row, ShowcaseRow original)
    {
        var isOriginal = row.Label == original.Label;
        var cells = new List<string>
        {
            row.Label, $"{row.RecurrentBytes / 1e6:0.00}", $"{row.FileBytes / 1e6:0.00}", $"{row.NativeMs / steps:0.000}",
            $"{row.OnnxRuntimeMs / steps:0.000}", $"{row.OriginalOnnxRuntimeMs / steps:0.000}", $"{row.SpeedupOverOriginal:0.00}x",
        };
        for (var m = 0; m < row.Metrics.Length; m++)
        {
            cells.Add(FormatMetric(row.Metrics[m]));
            cells.Add(isOriginal ? "" : $"{(row.Metrics[m] / original.Metrics[m] - 1) * 100:+0.0;-0.0} %");
        }

        cells.Add(isOriginal ? "" : $"{row.FitSeconds:0.0}");
        return cells;
    }

    /// <summary>A task metric as the table prints it: perplexity to 2 decimals, error rates to 4.</summary>
    public string FormatMetric(double value) => task.Task == "lm" ? $"{value:0.00}" : $"{value:0.0000}";

    /// <summary>Prints the table: size, latency per step in both engines, and the metrics with their change.</summary>
    public void PrintTable()
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]size, speed and accuracy before and after[/]");
        table.AddColumns(Columns().Select(c => Markup.Escape(c.Name)).ToArray());
        foreach (var row in _rows)
        {
            table.AddRow(Cells(row, _rows[0]).Select(Markup.Escape).ToArray());
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(SpeedupNote)} Compressed models are in {Markup.Escape(outputFolder)}.[/]");
    }

    /// <summary>The table as markdown, for the README's results block.</summary>
    public string MarkdownTable()
    {
        var columns = Columns();
        var text = new System.Text.StringBuilder();
        text.Append("| ").Append(string.Join(" | ", columns.Select(c => c.Name))).Append(" |\n");
        text.Append('|').Append(string.Join('|', columns.Select((c, i) => i == 0 ? "---" : "---:"))).Append("|\n");
        foreach (var row in _rows)
        {
            text.Append("| ").Append(string.Join(" | ", Cells(row, _rows[0]))).Append(" |\n");
        }

        return text.ToString();
    }

    private string PathOf(string label) => Path.Combine(outputFolder, $"{label.Replace(' ', '-')}.onnx");

    /// <summary>
    /// With <c>--update-readme</c> among <paramref name="args"/>, writes the machine, the table and <paramref name="demo"/>
    /// into the results block of <paramref name="readmePath"/> (see <see cref="ReadmeResults"/>).
    /// </summary>
    public void UpdateReadmeIfAsked(string[] args, string readmePath, string demo)
    {
        if (args.Contains("--update-readme"))
        {
            ReadmeResults.Rewrite(readmePath, $"One run ({ReadmeResults.MachineDescription()}); {SpeedupNote}\n\n{MarkdownTable()}\n{demo}\n");
            AnsiConsole.WriteLine($"Wrote the results block of {readmePath}.");
        }
    }

    /// <summary>What the speedup column means and how the times were taken.</summary>
    public string SpeedupNote =>
        $"speedup = ORT original / native: ONNX Runtime on the original model over the native engine on the row's model, timed side by side in the same rounds ({steps} {stepName}s, batch 1, one thread, median of {TimedRuns} runs).";

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

    /// <summary>
    /// What both samples compress: DirNet, HMD, low-rank and pruning at 4x and 8x, DirNet 8x with int8 factors, the int8
    /// baseline, and int4 and int3 per group, all over the recurrent weights.
    /// </summary>
    public static IEnumerable<(string Label, RnnCompressionOptions Options)> SampleCases(IDictionary<string, int[]> shapes) =>
        Cases(shapes, [4, 8], CompressionMethod.DirNet, CompressionMethod.Hmd, CompressionMethod.LowRank, CompressionMethod.Prune)
            .Concat(WithInt8Factors(Cases(shapes, [8], CompressionMethod.DirNet)))
            .Append(Int8Baseline(shapes))
            .Concat(Quantized(shapes, FactorPrecision.Int4, FactorPrecision.Int3));

    /// <summary>Each method at each ratio over the recurrent weights, labelled "method Nx".</summary>
    public static IEnumerable<(string Label, RnnCompressionOptions Options)> Cases(IDictionary<string, int[]> shapes, int[] ratios, params CompressionMethod[] methods) =>
        from method in methods
        from ratio in ratios
        select ($"{method.ToString().ToLowerInvariant()} {ratio}x", new RnnCompressionOptions
        {
            Method = method, TargetRatio = ratio, Scope = CompressionScope.Recurrent, ShapeDictionary = shapes,
        });
}
