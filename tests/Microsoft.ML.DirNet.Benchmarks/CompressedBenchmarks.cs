using BenchmarkDotNet.Attributes;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.DirNet.Benchmarks;

/// <summary>
/// The shipped models (samples/LanguageModel, samples/Asr) compressed at setup, timed as users run them: ONNX Runtime
/// on the original (the baseline), the native engine on the compressed model (which runs the factors), and ONNX
/// Runtime on the compressed file (which folds the rebuild at load). Batch 1, one thread each; 35 tokens for the
/// language model, 300 frames (3 s) for the speech recogniser.
/// </summary>
[MinColumn, MaxColumn, MedianColumn]
public class CompressedBenchmarks
{
    private OnnxRuntimeModel _ortOriginal = null!;
    private OnnxRuntimeModel _ortCompressed = null!;
    private NativeModel _nativeCompressed = null!;
    private NativeModel _nativeOriginal = null!;
    private Tensor[] _inputs = null!;
    private OrtValue[] _boundOriginal = null!;
    private OrtValue[] _boundCompressed = null!;

    /// <summary>Sample, method, ratio and scope, as <see cref="CompressedModels.Compress"/> names them.</summary>
    [ParamsSource(nameof(AllCompressions))]
    public string Compression { get; set; } = CompressedModels.Names[0];

    public static IEnumerable<string> AllCompressions => CompressedModels.Names;

    [GlobalSetup]
    public void Setup()
    {
        var original = CompressedModels.Original(Compression);
        var compressed = CompressedModels.Compress(original, Compression);
        _nativeOriginal = new NativeModel(original);
        _nativeCompressed = new NativeModel(compressed);
        _ortOriginal = new OnnxRuntimeModel(original);
        _ortCompressed = new OnnxRuntimeModel(compressed);
        _inputs = RandomInputs.Create(original, batch: 1, steps: CompressedModels.Steps(Compression));
        _boundOriginal = _ortOriginal.Bind(_inputs);
        _boundCompressed = _ortCompressed.Bind(_inputs);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var value in _boundOriginal.Concat(_boundCompressed)) value.Dispose();
        _ortOriginal.Dispose();
        _ortCompressed.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Tensor[] OnnxRuntimeOriginal() => _ortOriginal.Run(_boundOriginal);

    [Benchmark]
    public Tensor[] NativeOriginal() => _nativeOriginal.Run(_inputs);

    [Benchmark]
    public Tensor[] NativeCompressed() => _nativeCompressed.Run(_inputs);

    [Benchmark]
    public Tensor[] OnnxRuntimeCompressed() => _ortCompressed.Run(_boundCompressed);
}

/// <summary>The compressions the benchmarks time, made from the shipped models with seed 0.</summary>
public static class CompressedModels
{
    public static readonly string[] Names =
    [
        "lm-dirnet-8x-model", "lm-dirnet-8x-recurrent", "lm-hmd-4x-recurrent", "lm-prune-4x-recurrent",
        "asr-dirnet-8x-recurrent", "asr-hmd-4x-recurrent", "asr-prune-4x-recurrent",
    ];

    /// <summary>The sample model a name such as <c>lm-dirnet-8x-model</c> starts from, found above the running assembly.</summary>
    public static OnnxModel Original(string name)
    {
        var sample = IsSpeech(name) ? "Asr" : "LanguageModel";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "samples", sample, "model.onnx");
            if (File.Exists(path))
            {
                return OnnxModel.Load(path);
            }
        }

        throw new FileNotFoundException($"samples/{sample}/model.onnx was not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>Input length: 35 tokens for the language model, 300 frames (100 steps after frame stacking) for speech.</summary>
    public static int Steps(string name) => IsSpeech(name) ? 300 : 35;

    private static bool IsSpeech(string name) => name.StartsWith("asr-", StringComparison.Ordinal);

    /// <summary>The compressed ONNX for a name such as <c>lm-dirnet-8x-model</c> (sample, method, ratio, scope).</summary>
    public static OnnxModel Compress(OnnxModel model, string name)
    {
        var parts = name.Split('-');
        var options = new CompressionOptions
        {
            Method = parts[1] switch
            {
                "dirnet" => CompressionMethod.DirNet,
                "hmd" => CompressionMethod.Hmd,
                "prune" => CompressionMethod.Prune,
                "lowrank" => CompressionMethod.LowRank,
                _ => throw new ArgumentException($"Unknown method in '{name}'."),
            },
            Ratio = double.Parse(parts[2].TrimEnd('x'), System.Globalization.CultureInfo.InvariantCulture),
            Scope = parts[3] == "model" ? CompressionScope.Model : CompressionScope.Recurrent,
        };
        return OnnxModel.Parse(RnnCompressor.Compress(model, options).ToCompressedModel().ToBytes(), name + ".onnx");
    }
}
