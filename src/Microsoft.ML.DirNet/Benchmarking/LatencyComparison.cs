using System.Diagnostics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Benchmarking;

/// <summary>Median latencies of the native engine and ONNX Runtime on the same inputs, measured side by side.</summary>
/// <param name="NativeMilliseconds">Median native latency of one model run.</param>
/// <param name="OnnxRuntimeMilliseconds">Median ONNX Runtime latency of one model run.</param>
/// <param name="Runs">Timed runs per engine.</param>
/// <param name="MaxAbsoluteDifference">Largest output difference between the two engines.</param>
public sealed record LatencyResult(double NativeMilliseconds, double OnnxRuntimeMilliseconds, int Runs, double MaxAbsoluteDifference)
{
    /// <summary>ONNX Runtime time over native time: above 1 means the native engine is faster.</summary>
    public double Speedup => OnnxRuntimeMilliseconds / NativeMilliseconds;
}

/// <summary>
/// Times one model in both engines in one process: one thread each (ONNX Runtime's intra- and inter-op pools set to 1,
/// the native engine is single-threaded), warm-up runs first, then rounds that alternate the engines so drift in
/// machine load hits both alike, reporting medians.
/// </summary>
public static class LatencyComparison
{
    /// <summary>Measures <paramref name="model"/> on <paramref name="inputs"/>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="inputs">Inputs in the model's order.</param>
    /// <param name="runs">Timed runs per engine (median reported).</param>
    /// <param name="warmup">Untimed runs per engine first (JIT, caches, ONNX Runtime's allocator).</param>
    public static LatencyResult Measure(OnnxModel model, Tensor[] inputs, int runs = 21, int warmup = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var native = new NativeModel(model);
        using var ort = new OnnxRuntimeModel(model);
        var bound = ort.Bind(inputs);
        try
        {
            var nativeOutputs = native.Run(inputs);
            var ortOutputs = ort.Run(bound);
            var difference = nativeOutputs.Zip(ortOutputs).Max(p => TensorComparer.MaxAbsoluteDifference(p.First, p.Second));
            for (var i = 0; i < warmup; i++)
            {
                native.Run(inputs);
                ort.Run(bound);
            }

            var nativeTimes = new double[runs];
            var ortTimes = new double[runs];
            for (var i = 0; i < runs; i++)
            {
                nativeTimes[i] = Time(() => native.Run(inputs));
                ortTimes[i] = Time(() => ort.Run(bound));
            }

            return new LatencyResult(Median(nativeTimes), Median(ortTimes), runs, difference);
        }
        finally
        {
            foreach (var value in bound) value.Dispose();
        }
    }

    private static double Time(Action action)
    {
        var start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
