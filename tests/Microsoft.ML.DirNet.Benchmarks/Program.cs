using BenchmarkDotNet.Running;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Benchmarks;

// `--ratio [RUNS] [--markdown FILE]` prints the quick side-by-side medians (the same measurement as `dirnet bench`) for
// every benchmark model, and with --markdown also writes them as a markdown table (the README's speed figures);
// `--compressed [RUNS] [--markdown FILE]` does the same for the compressed sample models (and the native engine's managed heap);
// `--low-bit [RUNS] [--markdown FILE]` times each weight precision against ONNX Runtime's float32 and its own int8;
// anything else goes to BenchmarkDotNet (e.g. `--filter *`).
if (args.Length > 0 && args[0] == "--ratio")
{
    var runs = args.Length > 1 && int.TryParse(args[1], out var given) ? given : 31;
    var markdown = Array.IndexOf(args, "--markdown") is var at and >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    Console.WriteLine($"{"model",-12} {"native ms",10} {"ORT ms",10} {"speedup",8}  (batch 1, 32 steps, 1 thread, median of {runs})");
    var table = new System.Text.StringBuilder("| model | native ms | ONNX Runtime ms | speedup |\n|---|---:|---:|---:|\n");
    foreach (var name in BenchmarkModels.Names)
    {
        var model = BenchmarkModels.Create(name);
        var result = LatencyComparison.Measure(model, RandomInputs.Create(model, batch: 1, steps: 32), runs);
        Console.WriteLine($"{name,-12} {result.NativeMilliseconds,10:F3} {result.OnnxRuntimeMilliseconds,10:F3} {result.Speedup,7:F2}x  max|diff| {result.MaxAbsoluteDifference:G2}");
        table.Append(System.FormattableString.Invariant($"| {name} | {result.NativeMilliseconds:0.000} | {result.OnnxRuntimeMilliseconds:0.000} | {result.Speedup:0.00}x |\n"));
    }

    if (markdown is not null)
    {
        File.WriteAllText(markdown, "# Dense recurrent models: native engine against ONNX Runtime\n\n" +
            $"Written by `{MachineDescription.EnvironmentPrefix}dotnet run -c Release --project tests/Microsoft.ML.DirNet.Benchmarks -- --ratio {runs} --markdown {markdown}` " +
            $"on {DateTime.UtcNow:yyyy-MM-dd} ({Environment.ProcessorCount} cores, {MachineDescription.Simd}): synthetic models of seeded random weights, batch 1, " +
            $"32 steps, one thread per engine, both engines alternating in one process, median of {runs} runs after a warm-up of at least 1 s; " +
            "speedup = ONNX Runtime time / native time. Shared machines drift by ±10-20 % between runs; the ratio is taken within one run.\n\n" + table);
        Console.WriteLine($"Wrote {markdown}.");
    }

    return;
}

if (args.Length > 0 && args[0] == "--compressed")
{
    var runs = args.Length > 1 && int.TryParse(args[1], out var given) ? given : 21;
    var markdown = Array.IndexOf(args, "--markdown") is var at and >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    Console.WriteLine($"{"compression",-24} {"ORT orig ms",11} {"native ms",10} {"ORT comp ms",11} {"speedup",8} {"heap MB",8}  (batch 1, LM 35 tokens, speech 300 frames, 1 thread, median of {runs})");
    var table = new System.Text.StringBuilder("| compression | ONNX Runtime original ms | native original ms | native compressed ms | ONNX Runtime compressed ms | speedup |\n|---|---:|---:|---:|---:|---:|\n");
    foreach (var name in CompressedModels.Names)
    {
        var original = CompressedModels.Original(name);
        var inputs = RandomInputs.Create(original, batch: 1, steps: CompressedModels.Steps(name));
        var result = LatencyComparison.MeasureCompressed(original, CompressedModels.Compress(original, name), inputs, runs);
        Console.WriteLine($"{name,-24} {result.Original.OnnxRuntimeMilliseconds,11:F3} {result.Compressed.NativeMilliseconds,10:F3} {result.Compressed.OnnxRuntimeMilliseconds,11:F3} {result.CompressedSpeedup,7:F2}x {result.CompressedNativeBytes / 1e6,8:F1}  (native original {result.Original.NativeMilliseconds:F3} ms, {result.OriginalNativeBytes / 1e6:F1} MB)");
        table.Append(System.FormattableString.Invariant($"| {name} | {result.Original.OnnxRuntimeMilliseconds:0.000} | {result.Original.NativeMilliseconds:0.000} | {result.Compressed.NativeMilliseconds:0.000} | {result.Compressed.OnnxRuntimeMilliseconds:0.000} | {result.CompressedSpeedup:0.00}x |\n"));
    }

    if (markdown is not null)
    {
        File.WriteAllText(markdown, "# Compressed sample models: native engine against ONNX Runtime\n\n" +
            $"Written by `{MachineDescription.EnvironmentPrefix}dotnet run -c Release --project tests/Microsoft.ML.DirNet.Benchmarks -- --compressed {runs} --markdown {markdown}` " +
            $"on {DateTime.UtcNow:yyyy-MM-dd} ({Environment.ProcessorCount} cores, {MachineDescription.Simd} in .NET; ONNX Runtime picks its own instructions): " +
            "each sample compressed in memory as its row says (method, ratio, and scope: the recurrent weights or the whole model; float32 factors), " +
            $"random inputs (LM 35 tokens, speech 300 frames), batch 1, one thread, median of {runs} runs after a warm-up of at least 1 s, all four in the same rounds; " +
            "speedup = ONNX Runtime on the original / native engine on the compressed model."
            + (MachineDescription.EnvironmentPrefix.Length > 0 ? " The settings before the command narrow the vectors .NET uses (ONNX Runtime's native code is not told)." : "")
            + "\n\n" + table);
        Console.WriteLine($"Wrote {markdown}.");
    }

    return;
}

if (args.Length > 0 && args[0] == "--low-bit")
{
    var runs = args.Length > 1 && int.TryParse(args[1], out var given) ? given : 31;
    var markdown = Array.IndexOf(args, "--markdown") is var at and >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    var table = LowBitSpeed.Measure(runs, Console.WriteLine);
    if (markdown is not null)
    {
        File.WriteAllText(markdown, LowBitSpeed.Document(table, runs, markdown));
        Console.WriteLine($"Wrote {markdown}.");
    }

    return;
}

BenchmarkSwitcher.FromAssembly(typeof(RecurrentBenchmarks).Assembly).Run(args);
