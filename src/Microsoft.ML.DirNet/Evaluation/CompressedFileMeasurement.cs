using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Export;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>
/// Measures a compressed file made elsewhere (by <c>dirnet compress</c>, or fine-tuned in PyTorch with
/// python/dirnet_torch and written back) as one <see cref="ComparisonRow"/> beside a comparison's own rows: its sizes
/// and errors against the model it was compressed from, and the task metric with the native engine on its factors (in
/// ONNX Runtime where the native engine lacks one of the model's operators).
/// </summary>
public static class CompressedFileMeasurement
{
    /// <summary>The metadata key python/dirnet_torch writes when it saves a fine-tuned file.</summary>
    public const string FineTuningKey = "dirnet.fine_tuning";

    /// <summary>
    /// Measures each of <paramref name="files"/> against <paramref name="original"/>, the model they were compressed
    /// from, one row per file in order. Every file is checked before any is evaluated, and the original's size and
    /// probe outputs are computed once for all.
    /// </summary>
    /// <exception cref="DirNetException">A file is not a compressed model, or was not compressed from <paramref name="original"/>.</exception>
    public static IReadOnlyList<ComparisonRow> Measure(OnnxModel original, IReadOnlyList<OnnxModel> files, TaskEvaluation task)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(task);
        var factored = files.Select(file => Read(original, file)).ToArray();
        if (files.Count == 0)
        {
            return [];
        }

        var fileBefore = original.ToBytes().LongLength;
        var probes = task.ProbeInputs(original);
        float[][] reference;
        using (var engine = MeasuringEngine.Open(original))
        {
            reference = MethodComparison.FirstOutputs(engine.Model, probes);
        }

        return files.Select((file, k) => Measure(original, file, factored[k], task, fileBefore, probes, reference)).ToArray();
    }

    /// <summary>The file's factors, checked against the initializers they replace in <paramref name="original"/>.</summary>
    private static FactoredModel Read(OnnxModel original, OnnxModel compressed)
    {
        var factored = CompressedOnnxReader.Read(compressed)
            ?? throw new DirNetException($"{compressed.SourceName} is not a compressed model (it has no '{CompressionMetadata.Key}' metadata); compare measures files written by `dirnet compress`.");
        var unmatched = factored.Initializers.Select(i => i.Entry).FirstOrDefault(e =>
            !original.Graph.HasInitializer(e.Name) || !original.Graph.GetInitializerInfo(e.Name).Shape.SequenceEqual(e.Shape));
        if (unmatched is not null)
        {
            throw new DirNetException($"{compressed.SourceName} was not compressed from {original.SourceName}: its initializer '{unmatched.Name}' has no match of shape {TensorShape.Format(unmatched.Shape)} there.");
        }

        return factored;
    }

    private static ComparisonRow Measure(OnnxModel original, OnnxModel compressed, FactoredModel factored, TaskEvaluation task,
        long fileBefore, IReadOnlyList<Tensor[]> probes, float[][] reference)
    {
        var metadata = factored.Metadata;
        var targets = RnnCompressor.Targets(original, metadata.Scope == "model" ? CompressionScope.Model : CompressionScope.Recurrent);
        double error = 0, energy = targets.Select(w => w.Initializer).Distinct().Sum(SumOfSquares);
        long replacedBytes = 0, storedBytes = 0;
        foreach (var initializer in factored.Initializers)
        {
            var name = initializer.Entry.Name;
            var weights = original.Graph.GetInitializer(name).As<float>().Data;
            var rebuilt = initializer.ToDense().Data;
            for (var i = 0; i < weights.Length; i++)
            {
                double d = weights[i] - rebuilt[i];
                error += d * d;
            }

            replacedBytes += original.Graph.GetInitializerBytes(name);
            storedBytes += initializer.Matrices.Sum(m => m.StorageBytes);
        }

        var targetBytes = targets.Sum(w => w.Bytes);
        var matrixBytes = targetBytes - replacedBytes + storedBytes;
        var fileBytes = fileBefore - replacedBytes + storedBytes;
        using var engine = MeasuringEngine.Open(compressed);
        var outputError = MethodComparison.OutputError(reference, MethodComparison.FirstOutputs(engine.Model, probes));
        return new ComparisonRow(metadata.Method, metadata.Calibrated, metadata.TargetRatio, (double)targetBytes / matrixBytes,
            (double)fileBefore / fileBytes, matrixBytes, fileBytes, energy > 0 ? Math.Sqrt(error / energy) : 0, outputError,
            task.Evaluate(engine.Model, compressed), 0, Source: Path.GetFileName(compressed.SourceName),
            FineTuned: compressed.Metadata.ContainsKey(FineTuningKey), Precision: string.Join(", ", factored.Initializers.SelectMany(i => i.Matrices).Select(StoredMatrix.LabelOf).Distinct()));

        double SumOfSquares(string name) => original.Graph.GetInitializer(name).As<float>().Data.Sum(v => (double)v * v);
    }
}
