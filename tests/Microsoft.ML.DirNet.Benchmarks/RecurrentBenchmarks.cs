using BenchmarkDotNet.Attributes;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.DirNet.Benchmarks;

/// <summary>
/// Native engine against ONNX Runtime on the same dense recurrent model: batch 1, 32 steps, one thread each. The
/// models are synthetic (seeded random weights): speed does not depend on the weights' values.
/// </summary>
[MinColumn, MaxColumn, MedianColumn]
public class RecurrentBenchmarks
{
    private NativeModel _native = null!;
    private OnnxRuntimeModel _ort = null!;
    private Tensor[] _inputs = null!;
    private OrtValue[] _bound = null!;

    /// <summary>The model: "lstm-2x512" or "gru-2x512".</summary>
    [Params("lstm-2x512", "gru-2x512")]
    public string Model { get; set; } = "lstm-2x512";

    [GlobalSetup]
    public void Setup()
    {
        var model = BenchmarkModels.Create(Model);
        _native = new NativeModel(model);
        _ort = new OnnxRuntimeModel(model);
        _inputs = RandomInputs.Create(model, batch: 1, steps: 32);
        _bound = _ort.Bind(_inputs);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var value in _bound) value.Dispose();
        _ort.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Tensor[] OnnxRuntime() => _ort.Run(_bound);

    [Benchmark]
    public Tensor[] Native() => _native.Run(_inputs);
}

/// <summary>The synthetic models the benchmarks time, by name.</summary>
public static class BenchmarkModels
{
    public static readonly string[] Names = ["lstm-2x512", "gru-2x512", "lstm-1x128", "rnn-2x512"];

    public static OnnxModel Create(string name) => name switch
    {
        "lstm-2x512" => SyntheticRecurrentModel.Create(RecurrentCellType.Lstm, layers: 2, inputSize: 512, hiddenSize: 512, seed: 1),
        "gru-2x512" => SyntheticRecurrentModel.Create(RecurrentCellType.Gru, layers: 2, inputSize: 512, hiddenSize: 512, seed: 2),
        "lstm-1x128" => SyntheticRecurrentModel.Create(RecurrentCellType.Lstm, layers: 1, inputSize: 128, hiddenSize: 128, seed: 3),
        "rnn-2x512" => SyntheticRecurrentModel.Create(RecurrentCellType.Rnn, layers: 2, inputSize: 512, hiddenSize: 512, seed: 4),
        _ => throw new ArgumentException($"Unknown benchmark model '{name}'; known: {string.Join(", ", Names)}."),
    };
}
