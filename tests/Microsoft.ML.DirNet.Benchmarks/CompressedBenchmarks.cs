using BenchmarkDotNet.Attributes;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.DirNet.Benchmarks;

/// <summary>
/// The shipped language model (samples/LanguageModel) compressed at setup, timed as users run it: ONNX Runtime on
/// the original (the baseline), the native engine on the compressed model (which runs the factors), and ONNX Runtime
/// on the compressed file (which folds the rebuild at load). Batch 1, 35 steps, one thread each.
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

    /// <summary>Method, ratio and scope, as <see cref="CompressedModels.Compress"/> names them.</summary>
    [Params("dirnet-8x-model", "dirnet-8x-recurrent", "hmd-4x-recurrent", "prune-4x-recurrent")]
    public string Compression { get; set; } = "dirnet-8x-model";

    [GlobalSetup]
    public void Setup()
    {
        var original = CompressedModels.LanguageModel();
        var compressed = CompressedModels.Compress(original, Compression);
        _nativeOriginal = new NativeModel(original);
        _nativeCompressed = new NativeModel(compressed);
        _ortOriginal = new OnnxRuntimeModel(original);
        _ortCompressed = new OnnxRuntimeModel(compressed);
        _inputs = RandomInputs.Create(original, batch: 1, steps: 35);
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

/// <summary>The compressions the benchmarks time, made from the shipped language model with seed 0.</summary>
public static class CompressedModels
{
    public static readonly string[] Names = ["dirnet-8x-model", "dirnet-8x-recurrent", "hmd-4x-recurrent", "prune-4x-recurrent"];

    /// <summary>samples/LanguageModel/model.onnx, found above the running assembly.</summary>
    public static OnnxModel LanguageModel()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "samples", "LanguageModel", "model.onnx");
            if (File.Exists(path))
            {
                return OnnxModel.Load(path);
            }
        }

        throw new FileNotFoundException($"samples/LanguageModel/model.onnx was not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>The compressed ONNX for a name such as <c>dirnet-8x-model</c> (method, ratio, scope).</summary>
    public static OnnxModel Compress(OnnxModel model, string name)
    {
        var parts = name.Split('-');
        var options = new CompressionOptions
        {
            Method = parts[0] switch
            {
                "dirnet" => CompressionMethod.DirNet,
                "hmd" => CompressionMethod.Hmd,
                "prune" => CompressionMethod.Prune,
                "lowrank" => CompressionMethod.LowRank,
                _ => throw new ArgumentException($"Unknown method in '{name}'."),
            },
            Ratio = double.Parse(parts[1].TrimEnd('x'), System.Globalization.CultureInfo.InvariantCulture),
            Scope = parts[2] == "model" ? CompressionScope.Model : CompressionScope.Recurrent,
        };
        return OnnxModel.Parse(RnnCompressor.Compress(model, options).ToCompressedModel().ToBytes(), name + ".onnx");
    }
}
