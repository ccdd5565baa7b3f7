using System.Text.Json;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Benchmarking;

/// <summary>One graph node's median time per model run in each engine.</summary>
/// <param name="Node">The node's name (as ONNX Runtime names it after its graph optimisations, where only it runs the node).</param>
/// <param name="OperatorType">The ONNX operator, e.g. <c>LSTM</c>.</param>
/// <param name="NativeMilliseconds">Median time in the native engine; null where the native engine does not run this node (folded at load, or a node ONNX Runtime made by fusing).</param>
/// <param name="OnnxRuntimeMilliseconds">Median kernel time in ONNX Runtime's own profile; null where ONNX Runtime does not run this node (removed or fused by its optimisations).</param>
public sealed record OperatorTime(string Node, string OperatorType, double? NativeMilliseconds, double? OnnxRuntimeMilliseconds);

/// <summary>
/// Where the time of one model run goes, node by node, in both engines: the native engine timed around each node,
/// ONNX Runtime through its own profiler (SessionOptions.EnableProfiling, kernel time per node). One thread each,
/// warm-up runs first, medians over the timed runs. Per-node times add a little overhead, so totals come from
/// <see cref="LatencyComparison"/>, not from summing these.
/// </summary>
public static class OperatorProfile
{
    /// <summary>Profiles <paramref name="model"/> on <paramref name="inputs"/>; rows ordered by the larger of the two times.</summary>
    /// <param name="model">The model.</param>
    /// <param name="inputs">Inputs in the model's order.</param>
    /// <param name="runs">Timed runs per engine (median per node).</param>
    /// <param name="warmup">Untimed runs per engine first, at least (the native engine's also last <see cref="LatencyComparison.WarmupTime"/>).</param>
    /// <param name="quantizeInt8Activations">Run the native engine with <see cref="NativeModel.QuantizeInt8Activations"/>.</param>
    public static IReadOnlyList<OperatorTime> Measure(OnnxModel model, Tensor[] inputs, int runs = 21, int warmup = 5, bool quantizeInt8Activations = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var native = NativeTimes(model, inputs, runs, warmup, quantizeInt8Activations);
        var ort = OnnxRuntimeTimes(model, inputs, runs, warmup);
        var rows = native.Select(n => new OperatorTime(n.Node, n.Op, n.Milliseconds,
            ort.TryGetValue(n.Node, out var o) ? o.Milliseconds : null)).ToList();
        var seen = native.Select(n => n.Node).ToHashSet(StringComparer.Ordinal);
        rows.AddRange(ort.Where(o => !seen.Contains(o.Key)).Select(o => new OperatorTime(o.Key, o.Value.Op, null, o.Value.Milliseconds)));
        return rows.OrderByDescending(r => System.Math.Max(r.NativeMilliseconds ?? 0, r.OnnxRuntimeMilliseconds ?? 0)).ToArray();
    }

    private static List<(string Node, string Op, double Milliseconds)> NativeTimes(OnnxModel model, Tensor[] inputs, int runs, int warmup, bool quantizeInt8Activations)
    {
        var engine = new NativeModel(model) { QuantizeInt8Activations = quantizeInt8Activations };
        var nodes = engine.ExecutedNodes;
        var times = new double[runs, nodes.Count];
        var run = new double[nodes.Count];
        var began = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < warmup || System.Diagnostics.Stopwatch.GetElapsedTime(began) < LatencyComparison.WarmupTime; i++)
        {
            engine.RunTimed(inputs, run); // as long as LatencyComparison warms up, so the JIT has optimised the kernels
        }

        for (var i = 0; i < runs; i++)
        {
            engine.RunTimed(inputs, run);
            for (var n = 0; n < nodes.Count; n++)
            {
                times[i, n] = run[n];
            }
        }

        return nodes.Select((node, n) => (node.Name, node.OpType, LatencyComparison.Median(Enumerable.Range(0, runs).Select(i => times[i, n])))).ToList();
    }

    private static Dictionary<string, (string Op, double Milliseconds)> OnnxRuntimeTimes(OnnxModel model, Tensor[] inputs, int runs, int warmup)
    {
        var prefix = Path.Combine(Path.GetTempPath(), $"dirnet-ort-profile-{Guid.NewGuid():N}");
        string? file = null;
        try
        {
            using (var ort = new OnnxRuntimeModel(model, optimize: true, prefix))
            {
                var bound = ort.Bind(inputs);
                try
                {
                    for (var i = 0; i < warmup + runs; i++)
                    {
                        ort.Run(bound);
                    }
                }
                finally
                {
                    foreach (var value in bound) value.Dispose();
                }

                file = ort.EndProfiling();
            }

            return ParseKernelTimes(File.ReadAllText(file), runs);
        }
        finally
        {
            if (file is not null) File.Delete(file);
        }
    }

    /// <summary>
    /// Per node, the median of the last <paramref name="runs"/> kernel times in an ONNX Runtime profile: events of
    /// category "Node" named "{node}_kernel_time", with the operator in args.op_name and the duration in µs.
    /// </summary>
    internal static Dictionary<string, (string Op, double Milliseconds)> ParseKernelTimes(string profileJson, int runs)
    {
        const string suffix = "_kernel_time";
        var events = new Dictionary<string, (string Op, List<double> Durations)>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(profileJson);
        foreach (var e in document.RootElement.EnumerateArray())
        {
            if (e.TryGetProperty("cat", out var category) && category.GetString() == "Node"
                && e.GetProperty("name").GetString() is { } name && name.EndsWith(suffix, StringComparison.Ordinal))
            {
                var node = name[..^suffix.Length];
                var op = e.TryGetProperty("args", out var args) && args.TryGetProperty("op_name", out var o) ? o.GetString() ?? "" : "";
                if (!events.TryGetValue(node, out var entry))
                {
                    events[node] = entry = (op, []);
                }

                entry.Durations.Add(e.GetProperty("dur").GetDouble() / 1000);
            }
        }

        return events.ToDictionary(p => p.Key, p => (p.Value.Op, LatencyComparison.Median(p.Value.Durations.TakeLast(runs))), StringComparer.Ordinal);
    }
}
