using System.CommandLine;
using System.Text.Json;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Export;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Spectre.Console;

namespace Microsoft.ML.DirNet.Cli.Commands;

// Microsoft.ML declares a namespace Microsoft.ML.Command, which would otherwise shadow the System.CommandLine type here.
using Command = System.CommandLine.Command;

/// <summary>
/// <c>dirnet compress MODEL -o OUT --method M --ratio R [--scope model|recurrent] [--allocation A] [--keep-dense NAME] [--seed S] [--json]</c>:
/// compresses the model's weight matrices to a target ratio and prints the per-matrix table.
/// </summary>
internal static class CompressCommand
{
    /// <summary>The --auto-score names.</summary>
    internal static readonly IReadOnlyDictionary<string, AutoScoring> AutoScorings = new Dictionary<string, AutoScoring>
    {
        ["matrix"] = AutoScoring.Matrix, ["output"] = AutoScoring.OutputSquaredError, ["kl"] = AutoScoring.OutputKullbackLeibler,
    };

    private static readonly Dictionary<string, BudgetAllocation> Allocations = new()
    {
        ["error-per-byte"] = BudgetAllocation.ErrorPerByte,
        ["equal-error"] = BudgetAllocation.EqualError,
        ["uniform"] = BudgetAllocation.Uniform,
    };

    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model to compress (never modified)." };
        var output = new Option<FileInfo>("--output", "-o")
        {
            Description = "Where to write the compressed ONNX model: each compressed matrix stored as its factors, with standard ONNX ops that rebuild it at load, so ONNX Runtime runs it unchanged and `dirnet run`/`bench` run the factors directly. Written to a temporary name and renamed when complete.",
            Required = true,
        };
        var method = new Option<string>("--method")
        {
            Description = "dirnet: dictionary × sparse codes (SCC, mined atoms, adaptive sparsity); hmd: dense upper rows, rank-1 blocks below; lowrank: truncated SVD; prune: magnitude pruning (CSR, index bytes counted); odl: the LSTM-ODL baseline (online dictionary learning, one atom count and one λ for every matrix); int8: the quantization baseline (every matrix whole, int8 values with a float scale per row, as dynamic quantization stores weights; about 4x, so --ratio must not exceed what it reaches); quant: every matrix whole at --precision (int4, int3, int2 or ternary per group, or fp16, int8), its ratio following from the bits (--ratio may be omitted; given, it is checked); auto: the planner chooses per matrix among the whole matrix at fp32, fp16, int8, or int4, int3, int2 or ternary in groups of 32, 64 or 128, and truncated SVD ranks with fp32, int8, int4 or int3 factors, each measured as stored (data-aware with --calibration; by the model's output with --auto-score), to meet --ratio (no --precision; --group fixes the groups, --quantizer applies to its low-bit candidates).",
            DefaultValueFactory = _ => "dirnet",
        };
        method.AcceptOnlyFromAmong([.. MethodRegistry.Methods.Select(m => m.Name)]);
        var ratio = new Option<double>("--ratio") { Description = "Target compression ratio (bytes before / after) over --scope; above 1. With --precision below fp32 it is the ratio the structure is planned for, at fp32; the values are then stored smaller. Not used by --method quant, except as a minimum when given.", DefaultValueFactory = _ => 8 };
        var scope = new Option<string>("--scope")
        {
            Description = "model: the ratio is over the whole file and every compressible matrix (recurrent W/R, linear layers, embeddings) may be compressed; recurrent: over the recurrent layers' W and R only, the rest stays dense.",
            DefaultValueFactory = _ => "model",
        };
        scope.AcceptOnlyFromAmong("model", "recurrent");
        var allocation = new Option<string>("--allocation")
        {
            Description = "How the byte budget is split over matrices. error-per-byte: spend bytes where the measured error falls most per byte; equal-error: the same relative error for every matrix (DirNet's error equalisation); uniform: the same ratio for every matrix.",
            DefaultValueFactory = _ => "error-per-byte",
        };
        allocation.AcceptOnlyFromAmong([.. Allocations.Keys]);
        var calibration = new Option<DirectoryInfo?>("--calibration") { Description = "A folder of model inputs (input_0.pb, input_1.pb, … as ONNX TensorProto files, or one such set per subfolder) to run the model on natively: every matrix is then fitted in the data-aware norm ‖(W − Ŵ)X‖ over the vectors it really multiplies." };
        var seed = new Option<int>("--seed") { Description = "Seed of every random choice: the same input, options and seed give byte-identical output.", DefaultValueFactory = _ => 0 };
        var precision = new Option<string>("--precision")
        {
            Description = "How the factors' values are stored. fp32: 32-bit floats; fp16: the structure is chosen at fp32 for --ratio, then every value is rounded to 16-bit floats, so the file is smaller again (about 2x on values; indices are unchanged) and the reported ratio is the bytes actually stored; int8: likewise with 8-bit integers and one float scale per row (about 4x on values); int4, int3, int2: per group of --group values along each row, with a float16 scale and a zero point per group (about 7.5x, 9.5x, 12.5x on values at the default groups); ternary: {-1, 0, 1} times a float16 scale per group, five values to a byte (about 15x).",
            DefaultValueFactory = _ => "fp32",
        };
        precision.AcceptOnlyFromAmong([.. StoredMatrix.Precisions.Keys]);
        var group = new Option<int>("--group")
        {
            Description = "Values per group for int4, int3, int2 and ternary: 32, 64, 128 or 256; 0 (the default) takes the precision's own default (int4: 128, int3: 64, int2 and ternary: 32).",
            DefaultValueFactory = _ => 0,
        };
        group.AcceptOnlyFromAmong("0", "32", "64", "128", "256");
        var quantizer = new Option<string>("--quantizer")
        {
            Description = "How int4, int3, int2 and ternary values are rounded. rtn: round to nearest with a clipping search per group (needs no data); gptq: GPTQ, each column's rounding error spread over the columns not yet rounded, so the output error over the calibration inputs stays small (needs --calibration; pays off most at 2 bits and below).",
            DefaultValueFactory = _ => "rtn",
        };
        quantizer.AcceptOnlyFromAmong([.. MethodRegistry.Quantizers.Keys]);
        var keepDense = new Option<string[]>("--keep-dense")
        {
            Description = "Per-matrix override: keep this initializer dense whatever the budget (repeat for several; names as `dirnet inspect` lists them). The ratio is then met by the other matrices.",
            AllowMultipleArgumentsPerToken = false,
        };
        var compressSmall = new Option<bool>("--compress-small")
        {
            Description = "Compress every matrix as planned, even one whose compressed form, with the graph that rebuilds it and its metadata, takes as many file bytes as it takes dense (by default such matrices are kept dense, and compressing is refused where the file would not get smaller). For experiments on tiny models.",
        };
        var dense = new Option<bool>("--dense") { Description = "Write the original graph with every compressed matrix replaced by its rebuilt dense form Ŵ instead (same size as the input; for tools that need plain weights)." };
        var json = new Option<bool>("--json") { Description = "Print JSON: bytes_before, bytes_after, ratio (over --scope), file_ratio, matrix_ratio, seconds, output, output_bytes (the size of the file written), precision, group and quantizer (as asked), kept_dense_for_size (initializers kept dense because compressing them would not shrink the file), and matrices (one row per matrix: name, initializer, role, rows, columns, method, structure, precision, group (values per group, 0 unless int4 and below), params, bytes_before, bytes, ratio, relative_error)." };
        var autoScore = new Option<string>("--auto-score")
        {
            Description = "auto only, with calibration: what each candidate form's error is. matrix (default): the matrix's own error (data-aware when calibrated); output: the model's first output Σ‖y − ŷ‖² with only that matrix replaced, on the first 4 calibration input sets; kl: the KL divergence of the softmax of that output (for logits or log-probabilities). output and kl run the model a few dozen times per matrix, then score up to 40 whole plans (every matrix changed at once: the planner's, each single configuration that fits, and moves from the best) on the first 8 sets and keep the best of the best 4 on up to 40 sets.",
            DefaultValueFactory = _ => "matrix",
        };
        autoScore.AcceptOnlyFromAmong("matrix", "output", "kl");
        var command = new Command("compress", "Compress a recurrent model's weight matrices to a target ratio with one method, and print size and reconstruction error per matrix. " + ExitCodes.Help)
        {
            model, output, method, ratio, scope, allocation, calibration, seed, precision, group, quantizer, keepDense, autoScore, compressSmall, dense, json,
        };
        command.SetAction(result => CommandAction.Run(() =>
        {
            var input = CommandAction.ExistingFile(result.GetValue(model)!);
            // Before the work: the target must be writable and not the input by any path (checked by file identity).
            var outputPath = AtomicFile.CheckTarget(result.GetValue(output)!.FullName, input);

            var options = new CompressionOptions
            {
                Method = MethodRegistry.Named(result.GetValue(method)!)!.Method,
                Ratio = result.GetValue(ratio),
                Scope = result.GetValue(scope) == "recurrent" ? CompressionScope.Recurrent : CompressionScope.Model,
                Allocation = Allocations[result.GetValue(allocation)!],
                Seed = result.GetValue(seed),
                Precision = StoredMatrix.Precisions[result.GetValue(precision)!],
                GroupSize = result.GetValue(group),
                Quantizer = MethodRegistry.Quantizers[result.GetValue(quantizer)!],
                KeepDense = result.GetValue(keepDense) ?? [],
                AutoScoring = AutoScorings[result.GetValue(autoScore)!],
                KeepDenseWhereItDoesNotPay = !result.GetValue(compressSmall),
            };
            var asJson = result.GetValue(json);
            var loaded = OnnxModel.Load(input);
            if (result.GetValue(calibration) is { } folder)
            {
                options = options with { Calibration = CalibrationStatistics.Capture(loaded, CalibrationInputs.FromFolder(folder.FullName)) };
            }

            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                cancel.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                var compressed = Compress(loaded, options, asJson, cancel.Token);
                cancel.Token.ThrowIfCancellationRequested();
                if (MethodRegistry.Of(options.Method).Plan == MethodPlan.Whole && result.GetResult(ratio) is { Implicit: false } && compressed.AchievedRatio < options.Ratio)
                {
                    throw new DirNetException(
                        $"Ratio {options.Ratio:0.##} is out of reach for {result.GetValue(method)} at {result.GetValue(precision)}: it reaches {compressed.AchievedRatio:0.##}; choose fewer bits or larger groups, or omit --ratio.");
                }

                var writeDense = result.GetValue(dense);
                var written = writeDense ? compressed.ToDenseModel() : compressed.ToCompressedModel();
                written.Save(outputPath);
                if (compressed.KeptDenseForSize.Count > 0)
                {
                    Console.Error.WriteLine($"note: kept dense, because compressed (with the graph that rebuilds it) each would take as many file bytes as dense: {TerminalText.Plain(string.Join(", ", compressed.KeptDenseForSize))}.");
                }

                if (written.DefaultOpset != loaded.DefaultOpset)
                {
                    Console.Error.WriteLine($"note: the opset import was raised from {loaded.DefaultOpset} to {written.DefaultOpset}, which the rebuild ops need; every node of the model means the same there.");
                }

                Report(compressed, outputPath, new FileInfo(outputPath).Length, writeDense, asJson);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }

            return ExitCodes.Success;
        }));
        return command;
    }

    private static CompressionResult Compress(OnnxModel model, CompressionOptions options, bool json, CancellationToken cancel)
    {
        if (json)
        {
            return RnnCompressor.Compress(model, options, null, cancel);
        }

        if (ConsoleOutput.Progress is not { } console)
        {
            return RnnCompressor.Compress(model, options, null, cancel);
        }

        CompressionResult result = null!;
        console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new ElapsedTimeColumn()).Start(context =>
        {
            var analyse = context.AddTask("measuring size/error per matrix", maxValue: 1);
            var build = context.AddTask("fitting at the planned sizes", maxValue: 1);
            result = RnnCompressor.Compress(model, options, new SynchronousProgress<CompressionProgress>(p =>
            {
                var task = p.Stage == "analyse" ? analyse : build;
                task.Value = p.Total == 0 ? 1 : (double)p.Done / p.Total;
                task.Description = p.Current.Length > 0 ? $"{p.Stage}: {TerminalText.Markup(p.Current)}" : task.Description;
                if (p.Stage == "build")
                {
                    analyse.Value = 1;
                }
            }), cancel);
            analyse.Value = build.Value = 1;
            ConsoleOutput.Finished(console, analyse, build);
        });
        return result;
    }

    private static void Report(CompressionResult result, string output, long outputBytes, bool dense, bool json)
    {
        var rows = result.Weights.Select(w => new
        {
            name = w.Weight.DisplayName, initializer = w.Weight.Initializer, role = w.Weight.Role.ToString(),
            rows = w.Weight.Rows, columns = w.Weight.Columns, method = w.Matrix.Method, structure = w.Matrix.Structure,
            precision = StoredMatrix.PrecisionOf(w.Matrix), group = w.Matrix.GroupSize, label = StoredMatrix.LabelOf(w.Matrix), @params = w.Matrix.Parameters,
            bytes_before = w.Weight.Bytes, bytes = w.Matrix.StorageBytes, ratio = w.Ratio, relative_error = w.RelativeError,
        }).ToArray();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                method = MethodRegistry.NameOf(result.Options.Method), scope = result.Options.Scope.ToString().ToLowerInvariant(),
                target_ratio = result.Options.Ratio, bytes_before = result.Options.Scope == CompressionScope.Model ? result.FileBytesBefore : result.MatrixBytesBefore,
                bytes_after = result.Options.Scope == CompressionScope.Model ? result.FileBytesAfter : result.MatrixBytesAfter,
                ratio = result.AchievedRatio, file_bytes_before = result.FileBytesBefore, file_bytes_after = result.FileBytesAfter,
                file_ratio = result.FileRatio, matrix_ratio = result.MatrixRatio, seconds = result.Seconds, output, output_bytes = outputBytes,
                precision = StoredMatrix.NameOf(MethodRegistry.Of(result.Options.Method).PrecisionFor(result.Options)),
                group = result.Weights.Select(w => w.Matrix.GroupSize).FirstOrDefault(g => g > 0),
                quantizer = MethodRegistry.NameOf(result.Options.Quantizer),
                kept_dense_for_size = result.KeptDenseForSize,
                matrices = rows,
            }, CommandAction.Json));
            return;
        }

        var scopeName = result.Options.Scope.ToString().ToLowerInvariant();
        var title = MethodRegistry.Of(result.Options.Method).Plan == MethodPlan.Whole
            ? $"{MethodRegistry.NameOf(result.Options.Method)} at {StoredMatrix.NameOf(result.Options.Precision)} over the {scopeName}"
            : $"{result.Options.Method} at ratio {result.Options.Ratio:0.##} over the {scopeName}";
        var table = new Table().Title(TerminalText.Markup(title));
        foreach (var column in new[] { "matrix", "rows × cols", "method", "structure", "precision", "params", "bytes", "ratio", "rel. error" })
        {
            table.AddColumn(column is "matrix" or "method" or "structure" or "precision" ? new TableColumn(column) : new TableColumn(column).RightAligned());
        }

        foreach (var r in rows)
        {
            table.AddRow(TerminalText.Row(r.name, $"{r.rows} × {r.columns}", r.method, r.structure, r.label, $"{r.@params:N0}", $"{r.bytes:N0}", $"{r.ratio:0.00}x", $"{r.relative_error:0.0000}"));
        }

        AnsiConsole.Write(table);
        Console.WriteLine($"Matrices: {result.MatrixBytesBefore:N0} -> {result.MatrixBytesAfter:N0} bytes ({result.MatrixRatio:0.00}x). " +
            $"Model: {result.FileBytesBefore:N0} -> {result.FileBytesAfter:N0} bytes ({result.FileRatio:0.00}x). {result.Seconds:0.0} s.");
        Console.WriteLine(dense
            ? $"Wrote {TerminalText.Plain(output)}: {outputBytes:N0} bytes (rebuilt dense weights, --dense)."
            : $"Wrote {TerminalText.Plain(output)}: {outputBytes:N0} bytes (the model bytes above plus {outputBytes - result.FileBytesAfter:N0} bytes of rebuild graph and metadata).");
    }
}
