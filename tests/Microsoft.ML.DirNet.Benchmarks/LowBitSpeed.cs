using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using static System.FormattableString;

namespace Microsoft.ML.DirNet.Benchmarks;

/// <summary>
/// The speed of each weight precision (quant over the recurrent weights: float32 as it is, int8 per row, int4 and int3
/// per group of 128, ternary per group of 32; int8, int4 and int3 also with their inputs quantized to int8 for integer
/// dot products, <see cref="Runtime.NativeModel.QuantizeInt8Activations"/>) in the native engine against the peers a user would pick instead: ONNX
/// Runtime on the float32 model and ONNX Runtime's own int8 form of it (<see cref="OnnxRuntimeInt8Peer"/>). Each row is
/// measured in its own rounds with both peers and nothing else, so its ratios are taken side by side.
/// </summary>
public static class LowBitSpeed
{
    /// <summary>A timed row: the model, the precision, and the medians.</summary>
    public sealed record Row(string Model, string Precision, double NativeMs, double OrtMs, double PeerMs);

    private static readonly (string Name, FactorPrecision Precision, int Group, bool QuantizedInputs)[] Precisions =
    [
        ("float32", FactorPrecision.Float32, 0, false),
        ("int8", FactorPrecision.Int8, 0, false), ("int8, int8 inputs", FactorPrecision.Int8, 0, true),
        ("int4 g128", FactorPrecision.Int4, 128, false), ("int4 g128, int8 inputs", FactorPrecision.Int4, 128, true),
        ("int3 g128", FactorPrecision.Int3, 128, false), ("int3 g128, int8 inputs", FactorPrecision.Int3, 128, true),
        ("ternary g32", FactorPrecision.Ternary, 32, false),
    ];

    /// <summary>The models: the synthetic LSTMs (32 steps) and the language-model sample (35 tokens).</summary>
    private static IEnumerable<(string Name, OnnxModel Model, int Steps)> Models()
    {
        yield return ("lstm-2x512", BenchmarkModels.Create("lstm-2x512"), 32);
        yield return ("lstm-1x128", BenchmarkModels.Create("lstm-1x128"), 32);
        yield return ("LM sample", CompressedModels.Original("lm-"), 35);
    }

    public static List<Row> Measure(int runs, Action<string> log)
    {
        var rows = new List<Row>();
        log($"{"model",-11} {"precision",-23} {"native ms",10} {"ORT ms",10} {"ORT int8 ms",12} {"vs ORT",7} {"vs int8",8}  (batch 1, one thread, median of {runs})");
        foreach (var (name, model, steps) in Models())
        {
            var inputs = RandomInputs.Create(model, batch: 1, steps: steps);
            var peer = OnnxRuntimeInt8Peer.Write(model).Model;
            foreach (var (precision, factor, group, quantizedInputs) in Precisions)
            {
                var compressed = factor == FactorPrecision.Float32 ? model : OnnxModel.Parse(RnnCompressor.Compress(model, new CompressionOptions
                {
                    Method = CompressionMethod.Quant, Precision = factor, GroupSize = group, Ratio = 2, Scope = CompressionScope.Recurrent,
                }).ToCompressedModel().ToBytes(), $"{name} {precision}");
                // The previous rows' models and sessions are garbage by now: collected first, so their collection does not land in this row's rounds.
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                // Only the three timed here share the rounds: a fourth engine (the native engine on the float model) between
                // them measured to slow the native engine on the compressed model by up to 2x (its weights leave the caches).
                var native = new Runtime.NativeModel(compressed) { QuantizeInt8Activations = quantizedInputs };
                using var ort = new Runtime.OnnxRuntimeModel(model);
                using var int8 = new Runtime.OnnxRuntimeModel(peer);
                var (ortInputs, peerInputs) = (ort.Bind(inputs), int8.Bind(inputs));
                var times = LatencyComparison.TimeRounds([() => native.Run(inputs), () => ort.Run(ortInputs), () => int8.Run(peerInputs)], runs, warmup: 5);
                foreach (var value in ortInputs.Concat(peerInputs))
                {
                    value.Dispose();
                }

                var row = new Row(name, precision, times[0], times[1], times[2]);
                rows.Add(row);
                log($"{name,-11} {precision,-23} {row.NativeMs,10:F3} {row.OrtMs,10:F3} {row.PeerMs,12:F3} {row.OrtMs / row.NativeMs,6:F2}x {row.PeerMs / row.NativeMs,7:F2}x");
            }
        }

        return rows;
    }

    /// <summary>The markdown page for docs/results, naming the command that wrote it.</summary>
    public static string Document(IReadOnlyList<Row> rows, int runs, string path)
    {
        var text = new System.Text.StringBuilder("# Weight precision and speed: native engine against ONNX Runtime and its int8\n\n");
        text.Append(Invariant($"Written by `{MachineDescription.EnvironmentPrefix}dotnet run -c Release --project tests/Microsoft.ML.DirNet.Benchmarks -- --low-bit {runs} --markdown {path}` "));
        text.Append(Invariant($"on {DateTime.UtcNow:yyyy-MM-dd} ({Environment.ProcessorCount} cores, {MachineDescription.Simd}). Each model's recurrent weights quantized by `--method quant` "));
        text.Append("at each precision and run by the native engine, against ONNX Runtime on the float32 model and ONNX Runtime's own int8 form of it ");
        text.Append("(`dirnet bench --peer ort-int8`: DynamicQuantizeLSTM and DynamicQuantizeMatMul, int8 weights per row, activations quantized per call). ");
        text.Append(Invariant($"Batch 1, one thread, 32 steps (the LM sample: 35 tokens), median of {runs} runs after at least 1 s of warm-up, all three in the same rounds; "));
        text.Append("\"int8 inputs\": the recurrent steps' inputs quantized to int8 too, for integer dot products (`NativeModel.QuantizeInt8Activations`: AVX-VNNI, else AVX-512BW). ");
        text.Append("vs ORT = ONNX Runtime float32 time / native time, vs int8 = ONNX Runtime int8 time / native time (above 1: the native engine is faster).\n\n");
        text.Append("| model | precision | native ms | ONNX Runtime ms | ONNX Runtime int8 ms | vs ORT | vs int8 |\n|---|---|---:|---:|---:|---:|---:|\n");
        foreach (var row in rows)
        {
            text.Append(Invariant($"| {row.Model} | {row.Precision} | {row.NativeMs:0.000} | {row.OrtMs:0.000} | {row.PeerMs:0.000} | {row.OrtMs / row.NativeMs:0.00}x | {row.PeerMs / row.NativeMs:0.00}x |\n"));
        }

        return text.ToString();
    }
}
