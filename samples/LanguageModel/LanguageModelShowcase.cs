using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DirNet;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Onnx;

namespace DirNetSamples;

/// <summary>
/// What the language-model sample measures, in one place for Program.cs and for the test that checks the README's
/// numbers against the code: the model's shapes, the rows given to Fit, the cases, the task, and the next-word demo.
/// </summary>
internal static class LanguageModelShowcase
{
    /// <summary>Perplexity is measured on this many leading test tokens.</summary>
    public const int TestTokens = 5000;

    /// <summary>Latency is timed on this many random tokens.</summary>
    public const int StepsTimed = 35;

    /// <summary>The case whose transformer the next-word demo uses.</summary>
    public const string DemoCase = "quant int3";

    /// <summary>The demo's prompt.</summary>
    public const string Prompt = "in the beginning god created the";

    /// <summary>
    /// The model's inputs: token ids [seq, batch] and the LSTM states h0, c0 [layers, batch, hidden]; one row = one
    /// sequence of batch 1, its length left open (-1).
    /// </summary>
    public static Dictionary<string, int[]> Shapes() => new() { ["input"] = [-1, 1], ["h0"] = [2, 1, 512], ["c0"] = [2, 1, 512] };

    /// <summary>
    /// The rows given to Fit: eight windows of 35 validation tokens (checked against the model's inputs; with
    /// CalibrationRows they would also be the calibration data).
    /// </summary>
    public static IDataView FitData(MLContext mlContext)
    {
        var validation = LanguageModelCorpus.ReadIds(DataFolder, "valid.txt");
        return mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, 8).Select(i => new TokenWindow { Tokens = validation[(i * 35)..((i + 1) * 35)] }).ToArray());
    }

    /// <summary>The cases the sample compresses (<see cref="CompressionShowcase.SampleCases"/>) for its model's shapes.</summary>
    public static IEnumerable<(string Label, RnnCompressionOptions Options)> Cases() => CompressionShowcase.SampleCases(Shapes());

    /// <summary>
    /// The sample's showcase: perplexity on the first <see cref="TestTokens"/> test tokens, latency on random tokens; the compressed models go to
    /// <paramref name="outputFolder"/> (default artifacts/samples/LanguageModel).
    /// </summary>
    public static CompressionShowcase Showcase(MLContext mlContext, string? outputFolder = null) =>
        new(mlContext, ModelPath, TaskEvaluation.LanguageModel(DataFolder, "test.txt", TestTokens),
            RandomInputs.Create(OnnxModel.Load(ModelPath), batch: 1, steps: StepsTimed), StepsTimed, "token", outputFolder ?? SampleFolders.Output("LanguageModel"));

    /// <summary>The five likeliest next words after <see cref="Prompt"/>, with their probabilities ("lord (8 %), …").</summary>
    public static string NextWords(MLContext mlContext, ITransformer model)
    {
        var vocabulary = File.ReadAllLines(Path.Combine(DataFolder, "vocab.txt"));
        var ids = vocabulary.Select((word, id) => (word, id)).ToDictionary(p => p.word, p => (long)p.id);
        var engine = mlContext.Model.CreatePredictionEngine<TokenWindow, NextWordScores>(model);
        var scores = engine.Predict(new TokenWindow { Tokens = Prompt.Split(' ').Select(w => ids.GetValueOrDefault(w)).ToArray() });
        var last = scores.LogProbs[^vocabulary.Length..];
        return string.Join(", ", Enumerable.Range(0, vocabulary.Length).OrderByDescending(i => last[i]).Take(5)
            .Select(i => $"{vocabulary[i]} ({Math.Exp(last[i]) * 100:0} %)"));
    }

    /// <summary>samples/LanguageModel/model.onnx.</summary>
    public static string ModelPath => Path.Combine(SampleFolders.Sample("LanguageModel"), "model.onnx");

    /// <summary>samples/LanguageModel/README.md, whose results block the sample writes.</summary>
    public static string ReadmePath => Path.Combine(SampleFolders.Sample("LanguageModel"), "README.md");

    private static string DataFolder => Path.Combine(SampleFolders.Sample("LanguageModel"), "data");
}

/// <summary>One sequence for the model: token ids and zero initial states (batch 1).</summary>
internal sealed class TokenWindow
{
    [ColumnName("input")]
    public long[] Tokens { get; set; } = [];

    [ColumnName("h0"), VectorType(2, 1, 512)]
    public float[] Hidden { get; set; } = new float[1024];

    [ColumnName("c0"), VectorType(2, 1, 512)]
    public float[] Cell { get; set; } = new float[1024];
}

/// <summary>The model's output: log-probabilities of every word at every step, [steps × 1 × 10,000].</summary>
internal sealed class NextWordScores
{
    [ColumnName("log_probs")]
    public float[] LogProbs { get; set; } = [];
}
