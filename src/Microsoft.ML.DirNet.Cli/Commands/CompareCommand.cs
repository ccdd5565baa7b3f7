using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Export;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Spectre.Console;

namespace Microsoft.ML.DirNet.Cli.Commands;

// Microsoft.ML declares a namespace Microsoft.ML.Command, which would otherwise shadow the System.CommandLine type here.
using Command = System.CommandLine.Command;

/// <summary>
/// <c>dirnet compare MODEL --task lm|asr --data DIR [--methods …] [--ratios …] [--scope …] [--markdown FILE] [--json]</c>:
/// every method at every ratio, measured on the task.
/// </summary>
internal static class CompareCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model to compress and evaluate (never modified)." };
        var task = new Option<string>("--task") { Description = "lm: perplexity; asr: CER and WER (as in `dirnet eval`).", Required = true };
        task.AcceptOnlyFromAmong("lm", "asr");
        var data = new Option<DirectoryInfo>("--data") { Description = "The evaluation data, as for `dirnet eval`.", Required = true };
        var split = new Option<string>("--split") { Description = "lm: the split file inside --data.", DefaultValueFactory = _ => "test.txt" };
        var tokens = new Option<int?>("--tokens") { Description = "lm: only the first N tokens (default: all)." };
        var utterances = new Option<int?>("--utterances") { Description = "asr: only the first N utterances (default: all)." };
        var alphabet = new Option<FileInfo?>("--alphabet") { Description = "asr: the CTC alphabet (default: alphabet.txt in --data or its parent)." };
        var methods = new Option<string>("--methods") { Description = $"Comma-separated methods among {string.Join(", ", MethodRegistry.Methods.Select(m => m.Name))}.", DefaultValueFactory = _ => string.Join(",", MethodRegistry.Methods.Select(m => m.Name)) };
        var ratios = new Option<string>("--ratios") { Description = "Comma-separated target ratios, each above 1.", DefaultValueFactory = _ => "2,4,8,12" };
        var scope = new Option<string>("--scope") { Description = "What the ratios apply to: recurrent (the recurrent layers' W and R; the rest stays dense) or model (the whole file).", DefaultValueFactory = _ => "recurrent" };
        scope.AcceptOnlyFromAmong("recurrent", "model");
        var seed = new Option<int>("--seed") { Description = "Seed of every random choice.", DefaultValueFactory = _ => 0 };
        var precisions = new Option<string>("--precisions")
        {
            Description = $"Comma-separated precisions of the structured methods' values, among {string.Join(", ", StoredMatrix.Precisions.Keys)}: each method and ratio is measured at each (the structure is planned at fp32 for the ratio, then its values stored so; the low-bit ones at their default groups, by GPTQ in the calibrated rows). quant is always measured at int4, int3, int2 and ternary (by round to nearest, and by GPTQ in the calibrated rows).",
            DefaultValueFactory = _ => "fp32",
        };
        var calibrate = new Option<bool>("--calibrate") { Description = "Also run every method in the data-aware norm ‖(W − Ŵ)X‖, with X captured by running the model natively on calibration data (a second row per method and ratio)." };
        var calibrationData = new Option<string?>("--calibration-data") { Description = "With --calibrate: lm: the split file in --data (default valid.txt, first 4,000 tokens); asr: a manifest folder (default: the calibration folder beside --data, as samples/Asr/data/calibration holds 40 valid utterances). Never the evaluated split." };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Also write the table as Markdown to this file, with the command that made it." };
        var plot = new Option<FileInfo?>("--plot") { Description = "Also draw the task metric (perplexity or CER) against size for every method, as a PNG image to this file. Sizes are the compressed matrices' bytes with --scope recurrent, the whole file's with --scope model." };
        var files = new Option<FileInfo[]>("--compressed")
        {
            Description = "Also measure this compressed file as it is, as one more row (repeat for several): one written by `dirnet compress` from <model>, or fine-tuned in PyTorch with python/dirnet_torch. Its method, target and calibration come from its metadata. With --methods \"\" only the original and these rows are measured.",
        };
        var json = new Option<bool>("--json") { Description = "Print JSON: task, metric_names, and rows (method, precision, calibrated, target_ratio, matrix_ratio, file_ratio, matrix_bytes, file_bytes, reconstruction_error, output_error, metrics, seconds, problem, source, fine_tuned; source is the file name of a --compressed row, fine_tuned whether that file was fine-tuned)." };
        var autoScore = new Option<string>("--auto-score")
        {
            Description = "auto only, with calibration: what each candidate form's error is. matrix (default): the matrix's own error (data-aware when calibrated); output: the model's first output Σ‖y − ŷ‖² with only that matrix replaced, on the first 4 calibration input sets; kl: the KL divergence of the softmax of that output (for logits or log-probabilities). output and kl run the model a few dozen times per matrix, then score up to 40 whole plans (every matrix changed at once) on the first 8 sets and keep the best of the best 4 on up to 40 sets.",
            DefaultValueFactory = _ => "matrix",
        };
        autoScore.AcceptOnlyFromAmong("matrix", "output", "kl");
        var frontier = new Option<bool>("--frontier")
        {
            Description = $"Compare every method's best at equal stored size: for each ratio (--ratios, default {string.Join(",", FrontierComparison.DefaultRatios)}), configurations are measured whose stored ratio over --scope reaches it (at least {Frontier.Tolerance:0.##} × it), and each method's best is picked. quant: int4, int3, int2 and ternary at groups of {string.Join(", ", FrontierComparison.QuantGroupSizes)} (rtn, and gptq with --calibrate); int8: its one form; auto: at each ratio; the other methods: at each --precisions entry (default {string.Join(",", FrontierComparison.DefaultPrecisions.Select(StoredMatrix.NameOf))}), with the structure planned so that the stored ratio reaches the ratio (none where the precision alone does). Prints a frontier table (a row per ratio, a column per method, the best in bold) before the table of every row measured; JSON adds frontier (target_ratio, method, row; row null where nothing reached it); --plot draws the metric's change in % against the stored ratio.",
        };
        var command = new Command("compare",
            "Compress a model with each method at each ratio and measure every result with the native engine (ONNX Runtime where it lacks one of the model's operators, said on stderr) on the rebuilt weights: size, reconstruction error, output error against the original on probe inputs, and the task metric. " + ExitCodes.Help)
        {
            model, task, data, split, tokens, utterances, alphabet, methods, ratios, scope, seed, precisions, calibrate, calibrationData, files, autoScore, frontier, markdown, plot, json,
        };
        command.SetAction(result => CommandAction.Run(() =>
        {
            var file = CommandAction.ExistingFile(result.GetValue(model)!);
            var folder = CommandAction.ExistingDirectory(result.GetValue(data)!);
            var evaluation = result.GetValue(task) == "lm"
                ? TaskEvaluation.LanguageModel(folder, result.GetValue(split)!, result.GetValue(tokens))
                : TaskEvaluation.SpeechRecognition(folder, CommandAction.AlphabetPath(folder, result.GetValue(alphabet)), result.GetValue(utterances));
            var chosen = result.GetValue(methods)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(m => MethodRegistry.Named(m)?.Method ?? throw new DirNetException($"Unknown method '{m}' in --methods; choose among {string.Join(", ", MethodRegistry.Methods.Select(e => e.Name))}."))
                .ToArray();
            var atFrontier = result.GetValue(frontier);
            // With --frontier, ratios and precisions not given take the frontier's defaults rather than compare's.
            var ratiosText = atFrontier && !Given(result, ratios) ? string.Join(",", FrontierComparison.DefaultRatios.Select(r => r.ToString(CultureInfo.InvariantCulture))) : result.GetValue(ratios)!;
            var precisionsText = atFrontier && !Given(result, precisions) ? string.Join(",", FrontierComparison.DefaultPrecisions.Select(StoredMatrix.NameOf)) : result.GetValue(precisions)!;
            var targets = ratiosText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(r => double.TryParse(r, CultureInfo.InvariantCulture, out var v) && v > 1 ? v : throw new DirNetException($"Ratio '{r}' in --ratios is not a number above 1."))
                .ToArray();
            var stored = precisionsText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(p => StoredMatrix.Precisions.TryGetValue(p, out var precision) ? precision : throw new DirNetException($"Unknown precision '{p}' in --precisions; choose among {string.Join(", ", StoredMatrix.Precisions.Keys)}."))
                .ToArray();
            var options = new CompressionOptions
            {
                Scope = result.GetValue(scope) == "model" ? CompressionScope.Model : CompressionScope.Recurrent,
                Seed = result.GetValue(seed),
                AutoScoring = CompressCommand.AutoScorings[result.GetValue(autoScore)!],
            };
            var loaded = OnnxModel.Load(file);
            var lacking = MeasuringEngine.Lacks(loaded);
            if (lacking.Count > 0)
            {
                // Said only once ONNX Runtime has taken the model: where it cannot either, its error is the one line.
                using (new OnnxRuntimeModel(loaded))
                {
                }

                Console.Error.WriteLine($"note: the native engine lacks {TerminalText.Plain(string.Join(", ", lacking))}; every row is measured in ONNX Runtime instead.");
            }

            var asJson = result.GetValue(json);
            var calibration = !result.GetValue(calibrate) ? null
                : result.GetValue(task) == "lm"
                    ? CalibrationInputs.LanguageModel(loaded, folder, result.GetValue(calibrationData) ?? "valid.txt")
                    : CalibrationInputs.Speech(CommandAction.ExistingDirectory(new DirectoryInfo(result.GetValue(calibrationData) ?? Path.Combine(folder, "..", "calibration"))));
            // Files given as they are are measured first, so a wrong one stops the command before minutes of compression.
            var measured = CompressedFileMeasurement.Measure(loaded, (result.GetValue(files) ?? []).Select(f => OnnxModel.Load(CommandAction.ExistingFile(f))).ToArray(), evaluation);
            IReadOnlyList<ComparisonRow> Compare(IProgress<string>? progress) => atFrontier
                ? FrontierComparison.Run(loaded, evaluation, chosen, targets, options, calibration, progress, precisions: stored)
                : MethodComparison.Run(loaded, evaluation, chosen, targets, options, calibration, progress, precisions: stored);
            IReadOnlyList<ComparisonRow> rows = [];
            if (asJson || ConsoleOutput.Progress is not { } console)
            {
                rows = Compare(null);
            }
            else
            {
                // The frontier's messages say themselves whether a step compresses or evaluates.
                console.Status().Start("original", context =>
                    rows = Compare(new SynchronousProgress<string>(s => context.Status(atFrontier ? TerminalText.Markup(s) : $"compressing and evaluating: {TerminalText.Markup(s)}"))));
            }

            var cells = atFrontier ? Frontier.Select(rows, chosen, targets, options.Scope) : null;
            rows = [.. rows, .. measured];
            var text = Markdown(rows, evaluation, options, lacking.Count == 0 ? "the native engine" : "ONNX Runtime", Environment.GetCommandLineArgs(), cells is null ? null : FrontierReport.Table(cells, rows[0], evaluation, options.Scope));
            if (result.GetValue(markdown) is { } path)
            {
                AtomicFile.Write(path.FullName, stream => stream.Write(System.Text.Encoding.UTF8.GetBytes(text)));
            }

            if (result.GetValue(plot) is { } image)
            {
                var png = cells is null ? Plot(rows, evaluation, options, Path.GetFileName(file))
                    : FrontierReport.Plot(cells, targets, rows[0], evaluation, options.Scope, Path.GetFileName(file));
                AtomicFile.Write(image.FullName, stream => stream.Write(png));
            }

            Console.WriteLine(!asJson ? text
                : cells is null ? JsonSerializer.Serialize(new { task = evaluation.Task, metric_names = evaluation.MetricNames, rows }, CommandAction.Json)
                : JsonSerializer.Serialize(new { task = evaluation.Task, metric_names = evaluation.MetricNames, rows, frontier = cells }, CommandAction.Json));
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>The metric against size, one series per method (and per calibration), from the rows that reached their target.</summary>
    private static byte[] Plot(IReadOnlyList<ComparisonRow> rows, TaskEvaluation task, CompressionOptions options, string modelName)
    {
        var wholeFile = options.Scope == CompressionScope.Model;
        double Megabytes(ComparisonRow row) => (wholeFile ? row.FileBytes : row.MatrixBytes) / 1e6;
        var series = rows.Skip(1).Where(r => r.Problem is null)
            .GroupBy(Label)
            .Select(g => new ComparisonPlot.Series(g.Key, g.Select(r => (Megabytes(r), r.Metrics[0])).ToArray()));
        return ComparisonPlot.Draw($"{modelName}: {task.MetricNames[0]} against size", wholeFile ? "model file (MB)" : "recurrent weights (MB)",
            task.MetricNames[0], (Megabytes(rows[0]), rows[0].Metrics[0]), series);
    }

    /// <summary>A row's method as the plot's legend and the table name it: calibration and fine-tuning added.</summary>
    private static string Label(ComparisonRow row) =>
        row.Method + (row.Precision == "fp32" || row.Method is "original" or "quant" ? "" : $" {row.Precision}") + (row.Calibrated ? " (calibrated)" : "") + (row.FineTuned ? " (fine-tuned)" : "");

    /// <summary>The stored-ratio bands the summary names a best row for.</summary>
    private static readonly double[] Bands = [4, 8, 12, 16, 24, 32];

    /// <summary>
    /// For each band, the row with the best first metric (lowest: perplexity, CER) among those whose stored ratio
    /// reaches at least the band's (over <paramref name="scope"/>, as the ratios were asked): what a user who needs
    /// that much compression should take.
    /// </summary>
    private static void AppendBestPerBand(StringBuilder text, IReadOnlyList<ComparisonRow> rows, TaskEvaluation task, CompressionScope scope)
    {
        var inv = CultureInfo.InvariantCulture;
        var measured = rows.Skip(1).Where(r => r.Problem is null && double.IsFinite(r.Metrics[0])).ToArray();
        var lines = Bands.Select(band => (band, best: measured.Where(r => Frontier.StoredRatio(r, scope) >= band).MinBy(r => r.Metrics[0])))
            .Where(p => p.best is not null).ToArray();
        if (lines.Length == 0)
        {
            return;
        }

        text.AppendLine();
        text.AppendLine($"Best {task.MetricNames[0]} per stored ratio band (among the rows above that reach at least the band's ratio):");
        text.AppendLine();
        foreach (var (band, best) in lines)
        {
            var change = (best!.Metrics[0] / rows[0].Metrics[0] - 1) * 100;
            text.AppendLine($"- ≥ {band.ToString("0", inv)}x: {TerminalText.Plain(best.Method + (best.Precision == "fp32" ? "" : $" {best.Precision}") + (best.Calibrated ? " (calibrated)" : "") + (best.FineTuned ? " (fine-tuned)" : ""))}{(best.Method is "quant" or "int8" ? "" : $" at {best.TargetRatio.ToString("0.##", inv)}x")}" +
                $" ({Frontier.StoredRatio(best, scope).ToString("0.00", inv)}x stored): {task.MetricNames[0]} {best.Metrics[0].ToString(task.Task == "lm" ? "0.00" : "0.0000", inv)} ({change.ToString("+0.0;-0.0;0.0", inv)} %)");
        }
    }

    /// <summary>Whether <paramref name="option"/> was on the command line (not only its default).</summary>
    private static bool Given(ParseResult result, Option option) => result.GetResult(option) is { Implicit: false };

    /// <summary>The full table of rows, after <paramref name="frontier"/> (the frontier's table) when given, then the command that made it.</summary>
    private static string Markdown(IReadOnlyList<ComparisonRow> rows, TaskEvaluation task, CompressionOptions options, string engine, string[] commandLine, string? frontier = null)
    {
        var inv = CultureInfo.InvariantCulture;
        var original = rows[0].Metrics;
        var text = new StringBuilder();
        text.AppendLine($"Ratios over the {options.Scope.ToString().ToLowerInvariant()} weights; seed {options.Seed}; metrics by {engine} on the rebuilt weights. Change = relative to the original.");
        text.AppendLine();
        if (frontier is not null)
        {
            text.AppendLine(frontier);
            text.AppendLine("Every row measured:");
            text.AppendLine();
        }

        var header = new List<string> { "method", "precision", "calibrated", "target", "ratio", "file ratio", "bytes", "rel. recon. error", "output error" };
        header.AddRange(task.MetricNames.SelectMany(m => new[] { m, $"{m} change" }));
        header.Add("seconds");
        text.AppendLine("| " + string.Join(" | ", header) + " |");
        text.AppendLine("|" + string.Concat(header.Select(_ => "---|")));
        foreach (var row in rows)
        {
            var cells = new List<string>
            {
                // Printed on the console as well as written: a file name or a message quoting the model stays one cell on one line.
                TerminalText.Plain(row.Source is null ? row.Method : $"{row.Method}{(row.FineTuned ? " (fine-tuned)" : "")}: {row.Source}"),
                row.Method == "original" ? "" : row.Precision,
                row.Calibrated ? "yes" : row.Method == "original" ? "" : "no",
                row.Method == "original" ? "" : row.TargetRatio.ToString("0.##", inv) + "x",
            };
            if (row.Problem is not null)
            {
                cells.Add($"not reached: {TerminalText.Plain(row.Problem).Replace("|", "/")}");
                text.AppendLine("| " + string.Join(" | ", cells) + " |");
                continue;
            }

            cells.Add(row.MatrixRatio.ToString("0.00", inv) + "x");
            cells.Add(row.FileRatio.ToString("0.00", inv) + "x");
            cells.Add(row.Method == "original" ? "" : row.MatrixBytes.ToString("N0", inv));
            cells.Add(row.ReconstructionError.ToString("0.0000", inv));
            cells.Add(row.OutputError.ToString("0.0000", inv));
            for (var m = 0; m < row.Metrics.Length; m++)
            {
                cells.Add(row.Metrics[m].ToString(task.Task == "lm" ? "0.00" : "0.0000", inv));
                // The third section formats a change that rounds to zero: with two, .NET writes a tiny negative one as "-+0.0".
                cells.Add(row.Method == "original" ? "" : ((row.Metrics[m] / original[m] - 1) * 100).ToString("+0.0;-0.0;0.0", inv) + " %");
            }

            cells.Add(row.Seconds.ToString("0.0", inv));
            text.AppendLine("| " + string.Join(" | ", cells) + " |");
        }

        AppendBestPerBand(text, rows, task, options.Scope);
        text.AppendLine();
        text.AppendLine($"Made by: `dirnet {TerminalText.Plain(string.Join(" ", commandLine.Skip(1)))}`");
        return text.ToString();
    }
}
