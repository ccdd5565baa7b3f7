using System.CommandLine;
using System.Text.Json;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Cli.Commands;

// Microsoft.ML declares a namespace Microsoft.ML.Command, which would otherwise shadow the System.CommandLine type here.
using Command = System.CommandLine.Command;

/// <summary><c>dirnet bench MODEL [--compressed OUT] [--data DIR] [--json]</c>: native and ONNX Runtime latency side by side.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model to time." };
        var data = new Option<DirectoryInfo?>("--data") { Description = "Folder with input_K.pb files to time on; without it, seeded random inputs of --batch and --steps." };
        var compressed = new Option<FileInfo?>("--compressed") { Description = "A compressed ONNX of MODEL (from `dirnet compress`) to time in the same rounds: both engines on both files, so the speedup of the native engine on the compressed model over ONNX Runtime on the original is measured side by side." };
        var json = new Option<bool>("--json") { Description = "Print JSON with native_ms, ort_ms and speedup (= ort_ms / native_ms); with --compressed also compressed_native_ms, compressed_ort_ms, compressed_speedup (= ort_ms / compressed_native_ms), native_bytes and compressed_native_bytes (managed heap the native engine holds for each model)." };
        var runs = new Option<int>("--runs") { Description = "Timed runs per engine (1 to 10,000); the median is reported.", DefaultValueFactory = _ => 21 };
        var batch = new Option<int>("--batch") { Description = "Batch size of random inputs.", DefaultValueFactory = _ => 1 };
        var steps = new Option<int>("--steps") { Description = "Sequence length of random inputs.", DefaultValueFactory = _ => 32 };
        var profile = new Option<bool>("--profile") { Description = "Also time every node in both engines (the native engine around each node, ONNX Runtime through its own profiler; medians of --runs runs) and print where the time goes; JSON gains profile (and compressed_profile): node, op, native_ms, ort_ms." };
        var peer = new Option<string?>("--peer") { Description = $"Also time, in the same rounds, the model as ONNX Runtime's own int8 form of it ({OnnxRuntimeInt8Peer.Name}: each LSTM as com.microsoft DynamicQuantizeLSTM, each MatMul with weights as DynamicQuantizeMatMul, int8 weights with a scale per output row, activations quantized per call), written from MODEL in memory. JSON gains peer, peer_ort_ms, peer_speedup (= peer_ort_ms / native_ms, or / compressed_native_ms with --compressed) and peer_max_abs_diff (its outputs against MODEL's in ONNX Runtime)." };
        peer.AcceptOnlyFromAmong(OnnxRuntimeInt8Peer.Name);
        var int8Activations = new Option<bool>("--int8-activations") { Description = "Run the native engine's products of int8 and low-bit weights on integer dot products, their inputs quantized to int8 (as ONNX Runtime's DynamicQuantizeLSTM does; AVX-VNNI or AVX-512BW, else no effect): for a model compressed with --precision int8 or lower. JSON gains int8_activations and integer_products (avx-vnni, avx-512bw or none: what they ran on)." };
        var command = new Command("bench",
            "Time one model run in the native engine and in ONNX Runtime, side by side in this process: one thread each, warm-up first (at least 5 rounds and 1 s, so that the JIT has optimised the hot code), median of --runs alternating runs. " + ExitCodes.Help)
        {
            model, compressed, data, json, runs, batch, steps, profile, peer, int8Activations,
        };
        command.SetAction(result => CommandAction.Run(() => Execute(result.GetValue(model)!, result.GetValue(compressed), result.GetValue(data), result.GetValue(json),
            result.GetValue(runs), result.GetValue(batch), result.GetValue(steps), result.GetValue(profile), result.GetValue(peer) is not null, result.GetValue(int8Activations))));
        return command;
    }

    private static int Execute(FileInfo file, FileInfo? compressedFile, DirectoryInfo? data, bool json, int runs, int batch, int steps, bool profile, bool withPeer, bool quantizeInt8Activations)
    {
        InRange("--runs", runs, MaxRuns);
        InRange("--batch", batch, int.MaxValue);
        InRange("--steps", steps, int.MaxValue);
        var path = CommandAction.ExistingFile(file);
        var model = OnnxModel.Load(path);
        Tensor[] inputs;
        if (data is null)
        {
            CheckRandomInputSize(model, batch, steps);
            inputs = RandomInputs.Create(model, batch, steps);
        }
        else
        {
            inputs = TensorFile.ReadSeries(CommandAction.ExistingDirectory(data), "input");
        }

        if (NativeModel.FindUnsupportedOperators(model) is { Count: > 0 } unsupported)
        {
            // Nothing to compare against: ONNX Runtime is timed alone and the reason said, rather than failing.
            var ortMilliseconds = LatencyComparison.MeasureOnnxRuntime(model, inputs, runs);
            var reason = $"the native engine lacks {string.Join(", ", unsupported.Keys)}";
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(new { model = path, native_ms = (double?)null, ort_ms = ortMilliseconds, speedup = (double?)null, runs, native_unsupported = unsupported.Keys }, CommandAction.Json));
            }
            else
            {
                Console.WriteLine($"{path}  one thread, median of {runs} runs");
                Console.WriteLine($"native engine : cannot run ({TerminalText.Plain(reason)})");
                Console.WriteLine($"ONNX Runtime  : {ortMilliseconds,9:F3} ms");
            }

            return ExitCodes.Success;
        }

        var peer = withPeer ? OnnxRuntimeInt8Peer.Write(model) : default;
        if (withPeer && !json)
        {
            Console.Error.WriteLine($"peer {OnnxRuntimeInt8Peer.Name}: {peer.Lstms} LSTM and {peer.MatMuls} MatMul node(s) as ONNX Runtime's int8 operators, the rest as in the model.");
        }

        var profiled = profile ? OperatorProfile.Measure(model, inputs, runs, quantizeInt8Activations: quantizeInt8Activations) : null;
        if (compressedFile is not null)
        {
            var compressedPath = CommandAction.ExistingFile(compressedFile);
            var compressedModel = OnnxModel.Load(compressedPath);
            var result = LatencyComparison.MeasureCompressed(model, compressedModel, inputs, runs, peer: peer.Model, quantizeInt8Activations: quantizeInt8Activations);
            var compressedProfile = profile ? OperatorProfile.Measure(compressedModel, inputs, runs, quantizeInt8Activations: quantizeInt8Activations) : null;
            ReportCompressed(path, compressedPath, inputs, result, profiled, compressedProfile, json, quantizeInt8Activations);
            return ExitCodes.Success;
        }

        Report(path, inputs, LatencyComparison.Measure(model, inputs, runs, peer: peer.Model, quantizeInt8Activations: quantizeInt8Activations), profiled, json, quantizeInt8Activations);
        return ExitCodes.Success;
    }

    /// <summary>The most timed runs per engine: the median is stable long before, and the times of every run are kept.</summary>
    internal const int MaxRuns = 10_000;

    /// <summary>The most elements the random inputs may hold in all (256 MiB of float32, 512 MiB of int64): --batch × --steps × the input size.</summary>
    internal const long MaxRandomInputElements = 1L << 26;

    private static void InRange(string option, int value, int max)
    {
        if (value < 1 || value > max)
        {
            throw new DirNetException(max == int.MaxValue
                ? $"{option} must be at least 1 (got {value})."
                : $"{option} must be between 1 and {max:N0} (got {value:N0}).");
        }
    }

    /// <summary>
    /// Refuses a --batch and --steps whose random inputs could not be allocated, before anything is: each input's
    /// declared dimensions with the batch and sequence length put in, summed over the inputs.
    /// </summary>
    private static void CheckRandomInputSize(OnnxModel model, int batch, int steps)
    {
        var shapes = model.Graph.Inputs.Where(i => i.Dimensions is not null).Select(i => (i.Name, Shape: RandomInputs.Shape(i, batch, steps))).ToArray();
        var total = 0L;
        foreach (var (name, shape) in shapes)
        {
            if (shape.FirstOrDefault(d => d is < 0 or > int.MaxValue) is var bad && bad != 0)
            {
                throw new DirNetException($"Input '{name}' declares dimension {bad}; random inputs cannot be made for it. Give real inputs with --data.");
            }

            // Saturating: a product past the limit is refused whatever its exact value.
            var elements = shape.Aggregate(1L, (count, d) => count == 0 || d <= MaxRandomInputElements / count ? count * d : MaxRandomInputElements + 1);
            total = Math.Min(total + elements, MaxRandomInputElements + 1);
        }

        if (total > MaxRandomInputElements)
        {
            throw new DirNetException(
                $"--batch {batch} and --steps {steps} make random inputs too large to allocate ({string.Join(", ", shapes.Select(s => $"'{s.Name}' [{string.Join(", ", s.Shape)}]"))}): " +
                $"at most {MaxRandomInputElements:N0} elements in all. Choose a smaller --batch or --steps.");
        }
    }

    private static void Report(string path, Tensor[] inputs, LatencyResult result, IReadOnlyList<OperatorTime>? profile, bool json, bool quantizeInt8Activations)
    {
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
                profile = ProfileJson(profile),
                peer = PeerName(result),
                peer_ort_ms = result.PeerMilliseconds,
                peer_speedup = result.PeerMilliseconds / result.NativeMilliseconds,
                peer_max_abs_diff = result.PeerMaxAbsoluteDifference,
                int8_activations = quantizeInt8Activations,
                integer_products = quantizeInt8Activations ? Numerics.PackedInt8Matrix.IntegerProducts : null,
            }, CommandAction.Json));
            return;
        }

        Console.WriteLine($"{TerminalText.Plain(path)}  inputs {string.Join(", ", inputs.Select(i => i.ToString()))}, one thread, median of {result.Runs} runs");
        Console.WriteLine($"native engine : {result.NativeMilliseconds,9:F3} ms");
        Console.WriteLine($"ONNX Runtime  : {result.OnnxRuntimeMilliseconds,9:F3} ms");
        Console.WriteLine($"speedup       : {result.Speedup,9:F2}x (ONNX Runtime time / native time); outputs agree to {result.MaxAbsoluteDifference:G3}");
        PrintPeer(result, result.NativeMilliseconds, "native");
        PrintInt8Activations(quantizeInt8Activations);
        PrintProfile("model", profile);
    }

    private static void ReportCompressed(string path, string compressedPath, Tensor[] inputs, CompressedLatencyResult result,
        IReadOnlyList<OperatorTime>? profile, IReadOnlyList<OperatorTime>? compressedProfile, bool json, bool quantizeInt8Activations)
    {
        var (original, compressed) = (result.Original, result.Compressed);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = path,
                native_ms = original.NativeMilliseconds,
                ort_ms = original.OnnxRuntimeMilliseconds,
                speedup = original.Speedup,
                compressed = compressedPath,
                compressed_native_ms = compressed.NativeMilliseconds,
                compressed_ort_ms = compressed.OnnxRuntimeMilliseconds,
                compressed_speedup = result.CompressedSpeedup,
                native_bytes = result.OriginalNativeBytes,
                compressed_native_bytes = result.CompressedNativeBytes,
                runs = original.Runs,
                inputs = inputs.Select(i => i.ToString()).ToArray(),
                max_abs_diff = original.MaxAbsoluteDifference,
                compressed_max_abs_diff = compressed.MaxAbsoluteDifference,
                threads = 1,
                profile = ProfileJson(profile),
                compressed_profile = ProfileJson(compressedProfile),
                peer = PeerName(original),
                peer_ort_ms = original.PeerMilliseconds,
                peer_speedup = original.PeerMilliseconds / compressed.NativeMilliseconds,
                peer_max_abs_diff = original.PeerMaxAbsoluteDifference,
                int8_activations = quantizeInt8Activations,
                integer_products = quantizeInt8Activations ? Numerics.PackedInt8Matrix.IntegerProducts : null,
            }, CommandAction.Json));
            return;
        }

        Console.WriteLine($"{TerminalText.Plain(path)} and {TerminalText.Plain(compressedPath)}  inputs {string.Join(", ", inputs.Select(i => i.ToString()))}, one thread, median of {original.Runs} rounds");
        Console.WriteLine($"                      native engine   ONNX Runtime   native heap");
        Console.WriteLine($"original   : {original.NativeMilliseconds,15:F3} ms {original.OnnxRuntimeMilliseconds,11:F3} ms {result.OriginalNativeBytes / 1e6,10:F1} MB");
        Console.WriteLine($"compressed : {compressed.NativeMilliseconds,15:F3} ms {compressed.OnnxRuntimeMilliseconds,11:F3} ms {result.CompressedNativeBytes / 1e6,10:F1} MB");
        Console.WriteLine($"speedup    : {result.CompressedSpeedup:F2}x (ONNX Runtime on the original / native engine on the compressed model); engines agree to {original.MaxAbsoluteDifference:G3} and {compressed.MaxAbsoluteDifference:G3}");
        PrintPeer(original, compressed.NativeMilliseconds, "native on the compressed model");
        PrintInt8Activations(quantizeInt8Activations);
        PrintProfile("original", profile);
        PrintProfile("compressed", compressedProfile);
    }

    /// <summary>The peer's name when one was timed (null, and so absent from JSON, otherwise).</summary>
    private static string? PeerName(LatencyResult result) => result.PeerMilliseconds is null ? null : OnnxRuntimeInt8Peer.Name;

    /// <summary>The peer's time and how the native engine (<paramref name="nativeMilliseconds"/>, <paramref name="what"/>) compares with it.</summary>
    private static void PrintInt8Activations(bool on)
    {
        if (on)
        {
            Console.WriteLine($"int8 inputs   : on (integer products: {Numerics.PackedInt8Matrix.IntegerProducts})");
        }
    }

    private static void PrintPeer(LatencyResult result, double nativeMilliseconds, string what)
    {
        if (result.PeerMilliseconds is { } peer)
        {
            Console.WriteLine($"peer {OnnxRuntimeInt8Peer.Name}: {peer,9:F3} ms in ONNX Runtime (outputs within {result.PeerMaxAbsoluteDifference:G3} of the float model's); {what} / peer: {peer / nativeMilliseconds:F2}x");
        }
    }

    /// <summary>The profile as JSON rows (null, and so absent, without --profile).</summary>
    private static object[]? ProfileJson(IReadOnlyList<OperatorTime>? profile) =>
        profile?.Select(t => (object)new { node = t.Node, op = t.OperatorType, native_ms = t.NativeMilliseconds, ort_ms = t.OnnxRuntimeMilliseconds }).ToArray();

    /// <summary>
    /// The nodes that take at least 1 % of either engine's summed time, then the rest as one line; "—" where an
    /// engine does not run the node.
    /// </summary>
    private static void PrintProfile(string title, IReadOnlyList<OperatorTime>? profile)
    {
        if (profile is null)
        {
            return;
        }

        double nativeTotal = profile.Sum(t => t.NativeMilliseconds ?? 0), ortTotal = profile.Sum(t => t.OnnxRuntimeMilliseconds ?? 0);
        bool Large(OperatorTime t) => (t.NativeMilliseconds ?? 0) >= 0.01 * nativeTotal || (t.OnnxRuntimeMilliseconds ?? 0) >= 0.01 * ortTotal;
        static string Ms(double? value) => value is { } v ? $"{v,10:F3}" : $"{"—",10}";
        Console.WriteLine();
        Console.WriteLine($"{title}: time per node (median ms)       native   ONNX Runtime");
        foreach (var t in profile.Where(Large))
        {
            Console.WriteLine($"  {TerminalText.Plain(t.OperatorType + " " + t.Node),-36} {Ms(t.NativeMilliseconds)} {Ms(t.OnnxRuntimeMilliseconds)}");
        }

        var rest = profile.Where(t => !Large(t)).ToArray();
        Console.WriteLine($"  {$"{rest.Length} other nodes",-36} {Ms(rest.Sum(t => t.NativeMilliseconds ?? 0))} {Ms(rest.Sum(t => t.OnnxRuntimeMilliseconds ?? 0))}");
        Console.WriteLine($"  {"sum",-36} {Ms(nativeTotal)} {Ms(ortTotal)}");
    }
}
