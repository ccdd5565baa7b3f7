using BenchmarkDotNet.Running;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Benchmarks;

// `--ratio` prints the quick side-by-side medians (the same measurement as `dirnet bench`) for every benchmark model;
// anything else goes to BenchmarkDotNet (e.g. `--filter *`).
if (args.Length > 0 && args[0] == "--ratio")
{
    var runs = args.Length > 1 ? int.Parse(args[1]) : 31;
    Console.WriteLine($"{"model",-12} {"native ms",10} {"ORT ms",10} {"speedup",8}  (batch 1, 32 steps, 1 thread, median of {runs})");
    foreach (var name in BenchmarkModels.Names)
    {
        var model = BenchmarkModels.Create(name);
        var result = LatencyComparison.Measure(model, RandomInputs.Create(model, batch: 1, steps: 32), runs);
        Console.WriteLine($"{name,-12} {result.NativeMilliseconds,10:F3} {result.OnnxRuntimeMilliseconds,10:F3} {result.Speedup,7:F2}x  max|diff| {result.MaxAbsoluteDifference:G2}");
    }

    return;
}

BenchmarkSwitcher.FromAssembly(typeof(RecurrentBenchmarks).Assembly).Run(args);
