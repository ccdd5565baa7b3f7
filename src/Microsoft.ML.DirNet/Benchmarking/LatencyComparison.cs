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

    /// <summary>Median ONNX Runtime latency of the peer model timed in the same rounds, when one was given.</summary>
    public double? PeerMilliseconds { get; init; }

    /// <summary>Largest difference between the peer's outputs and the model's in ONNX Runtime (the peer's own error), when a peer was given.</summary>
    public double? PeerMaxAbsoluteDifference { get; init; }
}

/// <summary>An original model and its compressed ONNX, each timed in both engines in the same rounds.</summary>
/// <param name="Original">The original model in both engines.</param>
/// <param name="Compressed">The compressed file in both engines (the native engine runs its factors).</param>
/// <param name="OriginalNativeBytes">Managed heap the native engine holds for the original model once loaded and run once.</param>
/// <param name="CompressedNativeBytes">The same for the compressed model.</param>
public sealed record CompressedLatencyResult(LatencyResult Original, LatencyResult Compressed, long OriginalNativeBytes, long CompressedNativeBytes)
{
    /// <summary>ONNX Runtime on the original over the native engine on the compressed model.</summary>
    public double CompressedSpeedup => Original.OnnxRuntimeMilliseconds / Compressed.NativeMilliseconds;
}

/// <summary>
/// Times models in both engines in one process: one thread each (ONNX Runtime's intra- and inter-op pools set to 1,
/// the native engine is single-threaded), warm-up runs first, then rounds that run every engine in turn so drift in
/// machine load hits all alike, reporting medians.
/// </summary>
/// <remarks>
/// The warm-up lasts at least <see cref="WarmupTime"/> as well as its count of rounds: .NET compiles a method first
/// without optimisation and recompiles it only after it has been called for a while (tiered compilation), so a small
/// model's first hundreds of calls run slower code. Five rounds of Silero VAD (0.1 ms a call) left its native times
/// 2-3x too slow: 0.29x of ONNX Runtime timed over 31 runs, 0.63x over 101, 0.96x over 51 after a profiling pass.
/// </remarks>
public static class LatencyComparison
{
    /// <summary>Measures <paramref name="model"/> on <paramref name="inputs"/>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="inputs">Inputs in the model's order.</param>
    /// <param name="runs">Timed runs per engine (median reported).</param>
    /// <param name="warmup">Untimed runs per engine first, at least (JIT, caches, ONNX Runtime's allocator; the warm-up also lasts <see cref="WarmupTime"/>).</param>
    /// <param name="peer">
    /// Another form of the model to time in ONNX Runtime in the same rounds (e.g. ONNX Runtime's own int8 form of it), or
    /// null.
    /// </param>
    /// <param name="quantizeInt8Activations">Run the native engine with <see cref="NativeModel.QuantizeInt8Activations"/>.</param>
    public static LatencyResult Measure(OnnxModel model, Tensor[] inputs, int runs = 21, int warmup = 5, OnnxModel? peer = null, bool quantizeInt8Activations = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        using var pair = new EnginePair(model, inputs, quantizeInt8Activations: quantizeInt8Activations);
        using var peerPair = peer is null ? null : new EnginePair(peer, inputs, native: false);
        var times = TimeRounds(peerPair is null ? [pair.RunNative, pair.RunOnnxRuntime] : [pair.RunNative, pair.RunOnnxRuntime, peerPair.RunOnnxRuntime], runs, warmup);
        return WithPeer(new LatencyResult(times[0], times[1], runs, pair.MaxAbsoluteDifference()), pair, peerPair, times);
    }

    /// <summary><paramref name="result"/> with the peer's median (the last of <paramref name="times"/>) and error, when there is a peer.</summary>
    private static LatencyResult WithPeer(LatencyResult result, EnginePair pair, EnginePair? peer, double[] times) => peer is null ? result : result with
    {
        PeerMilliseconds = times[^1],
        PeerMaxAbsoluteDifference = pair.OnnxRuntimeOutputs().Zip(peer.OnnxRuntimeOutputs()).Max(p => TensorComparer.MaxAbsoluteDifference(p.First, p.Second)),
    };

    /// <summary>
    /// The median latency in milliseconds of ONNX Runtime alone (one thread, as in <see cref="Measure"/>): for a model
    /// the native engine cannot run.
    /// </summary>
    public static double MeasureOnnxRuntime(OnnxModel model, Tensor[] inputs, int runs = 21, int warmup = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        using var ort = new OnnxRuntimeModel(model);
        var bound = ort.Bind(inputs);
        try
        {
            return TimeRounds([() => ort.Run(bound)], runs, warmup)[0];
        }
        finally
        {
            foreach (var value in bound)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>
    /// Measures the original and the compressed model on the same inputs, all four runs (five with a peer) in every round, and the
    /// managed memory the native engine holds for each.
    /// </summary>
    /// <remarks>
    /// A <paramref name="peer"/> is timed in ONNX Runtime in the same rounds; its time is reported with the original's.
    /// <paramref name="quantizeInt8Activations"/> runs the compressed model with <see cref="NativeModel.QuantizeInt8Activations"/>.
    /// </remarks>
    public static CompressedLatencyResult MeasureCompressed(OnnxModel original, OnnxModel compressed, Tensor[] inputs, int runs = 21, int warmup = 5,
        OnnxModel? peer = null, bool quantizeInt8Activations = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var originalBytes = NativeFootprint(original, inputs);
        var compressedBytes = NativeFootprint(compressed, inputs);
        using var before = new EnginePair(original, inputs);
        using var after = new EnginePair(compressed, inputs, quantizeInt8Activations: quantizeInt8Activations);
        using var peerPair = peer is null ? null : new EnginePair(peer, inputs, native: false);
        Action[] engines = [before.RunNative, before.RunOnnxRuntime, after.RunNative, after.RunOnnxRuntime];
        var times = TimeRounds(peerPair is null ? engines : [.. engines, peerPair.RunOnnxRuntime], runs, warmup);
        return new CompressedLatencyResult(
            WithPeer(new LatencyResult(times[0], times[1], runs, before.MaxAbsoluteDifference()), before, peerPair, times),
            new LatencyResult(times[2], times[3], runs, after.MaxAbsoluteDifference()),
            originalBytes, compressedBytes);
    }

    /// <summary>
    /// Managed heap held after parsing a fresh copy of the model, loading it in the native engine and running it once
    /// (weights, packed panels, factors), measured by full collections before and after.
    /// </summary>
    private static long NativeFootprint(OnnxModel model, Tensor[] inputs)
    {
        var bytes = model.ToBytes();
        var start = GC.GetTotalMemory(forceFullCollection: true);
        var native = new NativeModel(OnnxModel.Parse(bytes, model.SourceName));
        native.Run(inputs);
        var held = GC.GetTotalMemory(forceFullCollection: true) - start;
        GC.KeepAlive(native);
        return held;
    }

    /// <summary>The least time the warm-up rounds take together.</summary>
    public static readonly TimeSpan WarmupTime = TimeSpan.FromSeconds(1);

    /// <summary>The median milliseconds of each of <paramref name="engines"/>, run in turn every round after the warm-up.</summary>
    internal static double[] TimeRounds(Action[] engines, int runs, int warmup)
    {
        var began = Stopwatch.GetTimestamp();
        for (var i = 0; i < warmup || Stopwatch.GetElapsedTime(began) < WarmupTime; i++)
        {
            foreach (var run in engines)
            {
                run();
            }
        }

        var times = engines.Select(_ => new double[runs]).ToArray();
        for (var i = 0; i < runs; i++)
        {
            for (var e = 0; e < engines.Length; e++)
            {
                var start = Stopwatch.GetTimestamp();
                engines[e]();
                times[e][i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }

        return times.Select(Median).ToArray();
    }

    /// <summary>The median (the mean of the middle two for an even count).</summary>
    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>One model loaded in both engines (or in ONNX Runtime alone), with its inputs bound once for ONNX Runtime.</summary>
    private sealed class EnginePair : IDisposable
    {
        private readonly NativeModel? _native;
        private readonly OnnxRuntimeModel _ort;
        private readonly Tensor[] _inputs;
        private readonly Microsoft.ML.OnnxRuntime.OrtValue[] _bound;

        public EnginePair(OnnxModel model, Tensor[] inputs, bool native = true, bool quantizeInt8Activations = false)
        {
            _native = native ? new NativeModel(model) { QuantizeInt8Activations = quantizeInt8Activations } : null;
            _ort = new OnnxRuntimeModel(model);
            _inputs = inputs;
            _bound = _ort.Bind(inputs);
        }

        public void RunNative() => _native!.Run(_inputs);

        public void RunOnnxRuntime() => _ort.Run(_bound);

        public Tensor[] OnnxRuntimeOutputs() => _ort.Run(_bound);

        public double MaxAbsoluteDifference() =>
            _native!.Run(_inputs).Zip(_ort.Run(_bound)).Max(p => TensorComparer.MaxAbsoluteDifference(p.First, p.Second));

        public void Dispose()
        {
            foreach (var value in _bound)
            {
                value.Dispose();
            }

            _ort.Dispose();
        }
    }
}
