using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// What <see cref="RnnCompressor.Compress"/> produced: every targeted matrix in its compressed form, with sizes and
/// errors. Byte counts are exact operator bytes; the file size after compression is the file size before minus the
/// dense bytes replaced plus the operator bytes (the export adds a few KB of graph on top).
/// </summary>
public sealed class CompressionResult
{
    private readonly OnnxModel _source;

    internal CompressionResult(OnnxModel source, CompressionOptions options, long fileBytes, IReadOnlyList<CompressedWeight> weights,
        double seconds, IReadOnlyList<string>? keptDenseForSize = null)
    {
        _source = source;
        Options = options;
        FileBytesBefore = fileBytes;
        Weights = weights;
        Seconds = seconds;
        KeptDenseForSize = keptDenseForSize ?? [];
    }

    /// <summary>
    /// Initializers the plan compressed but the result keeps dense, because their compressed form, with the graph that
    /// rebuilds it and its metadata, would take as many bytes of the file as the dense tensor or more (small matrices).
    /// </summary>
    public IReadOnlyList<string> KeptDenseForSize { get; }

    /// <summary>The options used.</summary>
    public CompressionOptions Options { get; }

    /// <summary>The targeted matrices, in graph order.</summary>
    public IReadOnlyList<CompressedWeight> Weights { get; }

    /// <summary>Wall-clock seconds the compression took.</summary>
    public double Seconds { get; }

    /// <summary>Bytes of the model file before.</summary>
    public long FileBytesBefore { get; }

    /// <summary>Dense bytes of the targeted matrices.</summary>
    public long MatrixBytesBefore => Weights.Sum(w => w.Weight.Bytes);

    /// <summary>Stored bytes of the targeted matrices after compression.</summary>
    public long MatrixBytesAfter => Weights.Sum(w => w.Matrix.StorageBytes);

    /// <summary>Model bytes after: the file before, less the dense matrices replaced, plus their compressed forms.</summary>
    public long FileBytesAfter => FileBytesBefore - MatrixBytesBefore + MatrixBytesAfter;

    /// <summary>Relative reconstruction error over all targeted matrices together: √(Σ‖W − Ŵ‖² / Σ‖W‖²).</summary>
    public double RelativeError
    {
        get
        {
            var energy = Weights.Sum(w => w.SquaredNorm);
            return energy > 0 ? Math.Sqrt(Weights.Sum(w => w.RelativeError * w.RelativeError * w.SquaredNorm) / energy) : 0;
        }
    }

    /// <summary>Ratio over the targeted matrices.</summary>
    public double MatrixRatio => (double)MatrixBytesBefore / MatrixBytesAfter;

    /// <summary>Ratio over the whole file.</summary>
    public double FileRatio => (double)FileBytesBefore / FileBytesAfter;

    /// <summary>The ratio the options asked for, measured over their scope.</summary>
    public double AchievedRatio => Options.Scope == CompressionScope.Model ? FileRatio : MatrixRatio;

    /// <summary>This result with the matrices of <paramref name="initializers"/> kept as they were (dense float32, error 0).</summary>
    internal CompressionResult KeepingDense(IReadOnlyCollection<string> initializers)
    {
        var weights = Weights.Select(w => initializers.Contains(w.Weight.Initializer)
            ? w with
            {
                Matrix = new DenseMatrix(WeightLayout.Read(w.Weight, _source.Graph.GetInitializer(w.Weight.Initializer).As<float>().Data), w.Weight.Rows, w.Weight.Columns),
                RelativeError = 0,
            }
            : w).ToArray();
        return new CompressionResult(_source, Options, FileBytesBefore, weights, Seconds, [.. KeptDenseForSize, .. initializers.Order(StringComparer.Ordinal)]);
    }

    /// <summary>
    /// The metadata key under which a compressed ONNX records its method and options (the export writes it;
    /// <see cref="RnnCompressor"/> refuses a model that has it).
    /// </summary>
    internal const string MetadataKey = "dirnet.compression";

    /// <summary>The model that was compressed (what the export rewrites).</summary>
    internal OnnxModel Source => _source;

    /// <summary>
    /// A copy of the source model whose compressed initializers hold the rebuilt dense matrices Ŵ (the original
    /// graph, so any runtime can run it; what the compressed ONNX export computes at load time).
    /// </summary>
    public OnnxModel ToDenseModel()
    {
        var model = OnnxModel.Parse(_source.ToBytes(), _source.SourceName);
        foreach (var group in Weights.GroupBy(w => w.Weight.Initializer))
        {
            var original = _source.Graph.GetInitializer(group.Key).As<float>();
            var data = (float[])original.Data.Clone();
            foreach (var weight in group)
            {
                WeightLayout.Write(weight.Weight, weight.Matrix.ToDense(), data);
            }

            model.ReplaceInitializer(group.Key, new Tensor<float>(original.Shape, data));
        }

        return model;
    }
}
