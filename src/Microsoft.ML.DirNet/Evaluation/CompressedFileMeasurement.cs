using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Export;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>
/// Measures a compressed file made elsewhere (by <c>dirnet compress</c>, or fine-tuned in PyTorch with
/// python/dirnet_torch and written back) as one <see cref="ComparisonRow"/> beside a comparison's own rows: its sizes
/// and errors against the model it was compressed from, and the task metric with the native engine on its factors.
/// </summary>
public static class CompressedFileMeasurement
{
    /// <summary>The metadata key python/dirnet_torch writes when it saves a fine-tuned file.</summary>
    public const string FineTuningKey = "dirnet.fine_tuning";

    /// <summary>Measures <paramref name="compressed"/> against <paramref name="original"/>, the model it was compressed from.</summary>
    /// <exception cref="DirNetException">The file is not a compressed model, or was not compressed from <paramref name="original"/>.</exception>
    public static ComparisonRow Measure(OnnxModel original, OnnxModel compressed, TaskEvaluation task)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(compressed);
        ArgumentNullException.ThrowIfNull(task);
        var factored = CompressedOnnxReader.Read(compressed)
            ?? throw new DirNetException($"{compressed.SourceName} is not a compressed model (it has no '{CompressionMetadata.Key}' metadata); compare measures files written by `dirnet compress`.");
        var metadata = factored.Metadata;
        var scope = metadata.Scope == "model" ? CompressionScope.Model : CompressionScope.Recurrent;

        var targets = RnnCompressor.Targets(original, scope);
        double error = 0, energy = targets.Select(w => w.Initializer).Distinct().Sum(SumOfSquares);
        long replacedBytes = 0, storedBytes = 0;
        foreach (var initializer in factored.Initializers)
        {
            var name = initializer.Entry.Name;
            if (!original.Graph.HasInitializer(name) || !original.Graph.GetInitializerInfo(name).Shape.SequenceEqual(initializer.Entry.Shape))
            {
                throw new DirNetException($"{compressed.SourceName} was not compressed from {original.SourceName}: its initializer '{name}' has no match of shape {TensorShape.Format(initializer.Entry.Shape)} there.");
            }

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
        var fileBefore = original.ToBytes().LongLength;
        var fileBytes = fileBefore - replacedBytes + storedBytes;
        var probes = task.ProbeInputs(original);
        var reference = new NativeModel(original);
        var engine = new NativeModel(compressed);
        var outputError = MethodComparison.OutputError(
            probes.Select(p => reference.Run(p)[0].As<float>().Data).ToArray(),
            probes.Select(p => engine.Run(p)[0].As<float>().Data).ToArray());
        return new ComparisonRow(metadata.Method, metadata.Calibrated, metadata.TargetRatio, (double)targetBytes / matrixBytes,
            (double)fileBefore / fileBytes, matrixBytes, fileBytes, energy > 0 ? Math.Sqrt(error / energy) : 0, outputError,
            task.Evaluate(engine, compressed), 0, Source: Path.GetFileName(compressed.SourceName),
            FineTuned: compressed.Metadata.ContainsKey(FineTuningKey));

        double SumOfSquares(string name) => original.Graph.GetInitializer(name).As<float>().Data.Sum(v => (double)v * v);
    }
}
