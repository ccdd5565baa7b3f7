using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Spectre.Console;

namespace Microsoft.ML.DirNet.Cli.Commands;

// Microsoft.ML declares a namespace Microsoft.ML.Command, which would otherwise shadow the System.CommandLine type here.
using Command = System.CommandLine.Command;

/// <summary><c>dirnet eval MODEL --task lm|asr --data DIR [--ort] [--json]</c>: the task metric on a test set.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model to evaluate." };
        var task = new Option<string>("--task")
        {
            Description = "lm: word language-model perplexity; asr: character and word error rates of a CTC speech recognizer.",
            Required = true,
        };
        task.AcceptOnlyFromAmong("lm", "asr");
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "lm: the folder with vocab.txt and the split (e.g. samples/LanguageModel/data). asr: the folder with manifest.tsv and its WAV files (e.g. samples/Asr/data/test).",
            Required = true,
        };
        var split = new Option<string>("--split") { Description = "The split file inside --data.", DefaultValueFactory = _ => "test.txt" };
        var tokens = new Option<int?>("--tokens") { Description = "Evaluate only the first N tokens of the split (default: all)." };
        var utterances = new Option<int?>("--utterances") { Description = "asr: evaluate only the first N utterances (default: all)." };
        var alphabet = new Option<FileInfo?>("--alphabet") { Description = "asr: the CTC alphabet file (default: alphabet.txt in --data or its parent folder)." };
        var ort = new Option<bool>("--ort") { Description = "Run through ONNX Runtime instead of the native engine." };
        var int8Activations = new Option<bool>("--int8-activations") { Description = "Native engine: run the products of int8 and low-bit weights on integer dot products, their inputs quantized to int8 (as ONNX Runtime's DynamicQuantizeLSTM does; AVX-VNNI or AVX-512BW, else no effect). JSON gains int8_activations and integer_products (avx-vnni, avx-512bw or none: what they ran on)." };
        var json = new Option<bool>("--json") { Description = "Print JSON: lm gives perplexity (plus predictions, nll); asr gives cer and wer (plus error and reference counts); both give seconds." };
        var command = new Command("eval",
            "Evaluate a model's task metric on a test set. lm: perplexity with batch 1, consecutive 35-step chunks, the recurrent state carried across chunks from zeros, exp(mean NLL) over every predicted token. asr: per utterance log-mel features, one run at batch 1, greedy CTC decoding; CER and WER are edit distances summed over the set divided by the reference length. " + ExitCodes.Help)
        {
            model, task, data, split, tokens, utterances, alphabet, ort, json, int8Activations,
        };
        command.SetAction(result => CommandAction.Run(() =>
        {
            var file = result.GetValue(model)!;
            var folder = result.GetValue(data)!;
            var useOrt = result.GetValue(ort);
            var asJson = result.GetValue(json);
            var quantize = result.GetValue(int8Activations);
            return result.GetValue(task) == "lm"
                ? EvaluateLanguageModel(file, folder, result.GetValue(split)!, result.GetValue(tokens), useOrt, quantize, asJson)
                : EvaluateSpeech(file, folder, result.GetValue(alphabet), result.GetValue(utterances), useOrt, quantize, asJson);
        }));
        return command;
    }

    private static int EvaluateSpeech(FileInfo file, DirectoryInfo data, FileInfo? alphabet, int? limit, bool useOrt, bool quantizeInt8Activations, bool json)
    {
        var loaded = OnnxModel.Load(CommandAction.ExistingFile(file));
        var folder = CommandAction.ExistingDirectory(data);
        var decoder = CtcGreedyDecoder.FromFile(CommandAction.AlphabetPath(folder, alphabet));
        using var engine = new EngineChoice(loaded, useOrt, quantizeInt8Activations);
        var watch = Stopwatch.StartNew();
        var result = WithProgress(json, "transcribing", progress => SpeechRecognitionEvaluator.Evaluate(engine.Model, folder, decoder, limit, progress));
        var seconds = watch.Elapsed.TotalSeconds;
        var rates = result.Rates;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                task = "asr", model = file.FullName, engine = engine.JsonName, int8_activations = engine.QuantizesInt8Activations, integer_products = engine.QuantizesInt8Activations ? Numerics.PackedInt8Matrix.IntegerProducts : null,
                cer = rates.Cer, wer = rates.Wer, utterances = result.Utterances.Count,
                char_errors = rates.CharacterErrors, chars = rates.Characters, word_errors = rates.WordErrors, words = rates.Words, seconds,
            }, CommandAction.Json));
        }
        else
        {
            Console.WriteLine($"{engine.DisplayName}: CER {rates.Cer:P2}, WER {rates.Wer:P2} over {result.Utterances.Count:N0} utterances ({seconds:F1} s)");
        }

        return ExitCodes.Success;
    }

    /// <summary>Runs long work under a progress bar for people, silently for --json.</summary>
    private static T WithProgress<T>(bool json, string what, Func<IProgress<double>?, T> work)
    {
        if (json || ConsoleOutput.Progress is not { } console)
        {
            return work(null);
        }

        // Reported on the working thread (Progress<T> would post each value to the thread pool, so the bar could end
        // before the last of them arrived and stop short of 100 %).
        T result = default!;
        console.Progress().Start(context =>
        {
            var bar = context.AddTask(what, maxValue: 1.0);
            result = work(new SynchronousProgress<double>(f => bar.Value = f));
            bar.Value = 1.0;
            ConsoleOutput.Finished(console, bar);
        });
        return result;
    }

    private static int EvaluateLanguageModel(FileInfo file, DirectoryInfo data, string split, int? tokens, bool useOrt, bool quantizeInt8Activations, bool json)
    {
        var loaded = OnnxModel.Load(CommandAction.ExistingFile(file));
        var ids = LanguageModelCorpus.ReadIds(CommandAction.ExistingDirectory(data), split);
        if (tokens is { } limit)
        {
            ids = limit >= 2 ? ids[..Math.Min(limit, ids.Length)] : throw new DirNetException("--tokens must be at least 2.");
        }

        using var engine = new EngineChoice(loaded, useOrt, quantizeInt8Activations);
        var watch = Stopwatch.StartNew();
        var result = WithProgress(json, $"perplexity over {ids.Length:N0} tokens", progress => PerplexityEvaluator.Evaluate(engine.Model, loaded, ids, progress: progress));

        var seconds = watch.Elapsed.TotalSeconds;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                task = "lm", model = file.FullName, engine = engine.JsonName, int8_activations = engine.QuantizesInt8Activations, integer_products = engine.QuantizesInt8Activations ? Numerics.PackedInt8Matrix.IntegerProducts : null,
                perplexity = result.Perplexity, predictions = result.Predictions, nll = result.TotalNegativeLogLikelihood, seconds,
            }, CommandAction.Json));
        }
        else
        {
            Console.WriteLine($"{engine.DisplayName}: perplexity {result.Perplexity:F4} over {result.Predictions:N0} predicted tokens ({seconds:F1} s)");
        }

        return ExitCodes.Success;
    }
}
