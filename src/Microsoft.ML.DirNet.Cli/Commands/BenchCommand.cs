using System.CommandLine;
using System.Text.Json;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Cli.Commands;

/// <summary><c>dirnet bench MODEL [--data DIR] [--json]</c>: native and ONNX Runtime latency side by side.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model to time." };
        var data = new Option<DirectoryInfo?>("--data") { Description = "Folder with input_K.pb files to time on; without it, seeded random inputs of --batch and --steps." };
        var json = new Option<bool>("--json") { Description = "Print JSON with native_ms, ort_ms and speedup (= ort_ms / native_ms)." };
        var runs = new Option<int>("--runs") { Description = "Timed runs per engine; the median is reported.", DefaultValueFactory = _ => 21 };
        var batch = new Option<int>("--batch") { Description = "Batch size of random inputs.", DefaultValueFactory = _ => 1 };
        var steps = new Option<int>("--steps") { Description = "Sequence length of random inputs.", DefaultValueFactory = _ => 32 };
        var command = new Command("bench",
            "Time one model run in the native engine and in ONNX Runtime, side by side in this process: one thread each, warm-up first, median of --runs alternating runs. " + ExitCodes.Help)
        {
            model, data, json, runs, batch, steps,
        };
        command.SetAction(result => CommandAction.Run(() => Execute(result.GetValue(model)!, result.GetValue(data), result.GetValue(json),
            result.GetValue(runs), result.GetValue(batch), result.GetValue(steps))));
        return command;
    }

    private static int Execute(FileInfo file, DirectoryInfo? data, bool json, int runs, int batch, int steps)
    {
        if (runs < 1 || batch < 1 || steps < 1)
        {
            throw new DirNetException("--runs, --batch and --steps must be at least 1.");
        }

        var path = CommandAction.ExistingFile(file);
        var model = OnnxModel.Load(path);
        Tensor[] inputs = data is null
            ? RandomInputs.Create(model, batch, steps)
            : TensorFile.ReadSeries(CommandAction.ExistingDirectory(data), "input");
        var result = LatencyComparison.Measure(model, inputs, runs);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = path,
                native_ms = result.NativeMilliseconds,
                ort_ms = result.OnnxRuntimeMilliseconds,
                speedup = result.Speedup,
                runs = result.Runs,
                inputs = inputs.Select(i => i.ToString()).ToArray(),
                max_abs_diff = result.MaxAbsoluteDifference,
                threads = 1,
            }, CommandAction.Json));
        }
        else
        {
            Console.WriteLine($"{path}  inputs {string.Join(", ", inputs.Select(i => i.ToString()))}, one thread, median of {result.Runs} runs");
            Console.WriteLine($"native engine : {result.NativeMilliseconds,9:F3} ms");
            Console.WriteLine($"ONNX Runtime  : {result.OnnxRuntimeMilliseconds,9:F3} ms");
            Console.WriteLine($"speedup       : {result.Speedup,9:F2}x (ONNX Runtime time / native time); outputs agree to {result.MaxAbsoluteDifference:G3}");
        }

        return ExitCodes.Success;
    }
}
