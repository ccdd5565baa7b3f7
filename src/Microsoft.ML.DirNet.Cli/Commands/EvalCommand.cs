using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Spectre.Console;

namespace Microsoft.ML.DirNet.Cli.Commands;

/// <summary><c>dirnet eval MODEL --task lm --data DIR [--ort] [--json]</c>: the task metric on a test set.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model to evaluate." };
        var task = new Option<string>("--task")
        {
            Description = "lm: word language-model perplexity (the speech-recognition task, asr, is not available yet).",
            Required = true,
        };
        task.AcceptOnlyFromAmong("lm", "asr");
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "For lm: the folder with vocab.txt and the split (e.g. samples/LanguageModel/data).",
            Required = true,
        };
        var split = new Option<string>("--split") { Description = "The split file inside --data.", DefaultValueFactory = _ => "test.txt" };
        var tokens = new Option<int?>("--tokens") { Description = "Evaluate only the first N tokens of the split (default: all)." };
        var ort = new Option<bool>("--ort") { Description = "Run through ONNX Runtime instead of the native engine." };
        var json = new Option<bool>("--json") { Description = "Print JSON (field perplexity, plus predictions, nll and seconds)." };
        var command = new Command("eval",
            "Evaluate a model's task metric on a test set. lm: perplexity with batch 1, consecutive 35-step chunks, the recurrent state carried across chunks from zeros, exp(mean NLL) over every predicted token. " + ExitCodes.Help)
        {
            model, task, data, split, tokens, ort, json,
        };
        command.SetAction(result => CommandAction.Run(() => Execute(result.GetValue(model)!, result.GetValue(task)!,
            result.GetValue(data)!, result.GetValue(split)!, result.GetValue(tokens), result.GetValue(ort), result.GetValue(json))));
        return command;
    }

    private static int Execute(FileInfo file, string task, DirectoryInfo data, string split, int? tokens, bool useOrt, bool json)
    {
        if (task != "lm")
        {
            throw new DirNetException("The asr task is not available yet; only --task lm is implemented.");
        }

        var loaded = OnnxModel.Load(CommandAction.ExistingFile(file));
        var ids = LanguageModelCorpus.ReadIds(CommandAction.ExistingDirectory(data), split);
        if (tokens is { } limit)
        {
            ids = limit >= 2 ? ids[..Math.Min(limit, ids.Length)] : throw new DirNetException("--tokens must be at least 2.");
        }

        using var session = useOrt ? new OnnxRuntimeModel(loaded) : null;
        ITensorModel engine = session is not null ? session : new NativeModel(loaded);
        var watch = Stopwatch.StartNew();
        PerplexityResult result = null!;
        if (json)
        {
            result = PerplexityEvaluator.Evaluate(engine, loaded, ids);
        }
        else
        {
            AnsiConsole.Progress().Start(context =>
            {
                var bar = context.AddTask($"perplexity over {ids.Length:N0} tokens", maxValue: 1.0);
                result = PerplexityEvaluator.Evaluate(engine, loaded, ids, progress: new Progress<double>(f => bar.Value = f));
                bar.Value = 1.0;
            });
        }

        var seconds = watch.Elapsed.TotalSeconds;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                task, model = file.FullName, engine = useOrt ? "onnxruntime" : "native",
                perplexity = result.Perplexity, predictions = result.Predictions, nll = result.TotalNegativeLogLikelihood, seconds,
            }, CommandAction.Json));
        }
        else
        {
            Console.WriteLine($"{(useOrt ? "ONNX Runtime" : "native engine")}: perplexity {result.Perplexity:F4} over {result.Predictions:N0} predicted tokens ({seconds:F1} s)");
        }

        return ExitCodes.Success;
    }
}
