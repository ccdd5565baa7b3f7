using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>
/// Input sets for <see cref="Compression.CalibrationStatistics.Capture"/>: from a folder of tensors, or made from the
/// samples' own data (use a split the evaluation does not use, e.g. valid).
/// </summary>
public static class CalibrationInputs
{
    /// <summary>
    /// Input sets stored as ONNX tensor files: <paramref name="directory"/>/input_0.pb, input_1.pb, … (one set), or
    /// one such set per subfolder (as in ONNX's test_data_set_N folders), subfolders in name order.
    /// </summary>
    /// <exception cref="DirNetException">The folder is missing or holds no input_0.pb.</exception>
    public static IReadOnlyList<Tensor[]> FromFolder(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new DirNetException($"Calibration folder '{directory}' does not exist.");
        }

        var folders = File.Exists(Path.Combine(directory, "input_0.pb"))
            ? [directory]
            : Directory.GetDirectories(directory).Order(StringComparer.Ordinal).Where(d => File.Exists(Path.Combine(d, "input_0.pb"))).ToArray();
        if (folders.Length == 0)
        {
            throw new DirNetException($"Calibration folder '{directory}' holds no input_0.pb, directly or in a subfolder.");
        }

        return folders.Select(f => TensorFile.ReadSeries(f, "input")).ToArray();
    }

    /// <summary>
    /// Word-LM inputs: the first <paramref name="tokens"/> ids of <paramref name="split"/> in chunks of
    /// <paramref name="chunk"/> steps at batch 1, each from zero states.
    /// </summary>
    public static IReadOnlyList<Tensor[]> LanguageModel(OnnxModel model, string dataDirectory, string split = "valid.txt", int tokens = 4000, int chunk = 100)
    {
        var ids = LanguageModelCorpus.ReadIds(dataDirectory, split);
        var states = PerplexityEvaluator.StateShapes(model);
        var sets = new List<Tensor[]>();
        for (var start = 0; start < Math.Min(tokens, ids.Length); start += chunk)
        {
            var length = Math.Min(chunk, Math.Min(tokens, ids.Length) - start);
            sets.Add([new Tensor<long>([length, 1], ids.AsSpan(start, length).ToArray()), .. states.Select(s => (Tensor)new Tensor<float>(s))]);
        }

        return sets;
    }

    /// <summary>Speech inputs: the log-mel features of the first <paramref name="utterances"/> of a manifest folder, batch 1.</summary>
    public static IReadOnlyList<Tensor[]> Speech(string directory, int utterances = 40) =>
        SpeechRecognitionEvaluator.ReadManifest(directory).Take(utterances)
            .Select(item => new Tensor[] { SpeechRecognitionEvaluator.Features(directory, item.File) }).ToArray();
}
