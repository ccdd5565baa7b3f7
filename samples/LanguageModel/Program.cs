// The language-model sample, in the style of an ML.NET Model Builder console app: load the shipped LSTM language
// model, compress it in an ML.NET pipeline with .CompressRnn() (DirNet, HMD and the baselines), export each compressed
// ONNX, and show size, per-token latency (native engine and ONNX Runtime) and perplexity before and after; then use the
// DirNet model through a PredictionEngine to guess the next word of a prompt.
//
//   dotnet run --project samples/LanguageModel -c Release
using DirNetSamples;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DirNet;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Onnx;
using Spectre.Console;

const int TestTokens = 5000;
const int StepsTimed = 35;
var folder = SampleFolders.Sample("LanguageModel");
var modelPath = Path.Combine(folder, "model.onnx");
var data = Path.Combine(folder, "data");
var mlContext = new MLContext(seed: 0);

// The model's inputs: token ids [seq, batch] and the LSTM states h0, c0 [layers, batch, hidden]; one row = one
// sequence of batch 1, its length left open (-1).
var shapes = new Dictionary<string, int[]> { ["input"] = [-1, 1], ["h0"] = [2, 1, 512], ["c0"] = [2, 1, 512] };

// The rows given to Fit: windows of the validation text (checked against the model's inputs; with CalibrationRows they
// would also be the calibration data).
var validation = LanguageModelCorpus.ReadIds(data, "valid.txt");
var windows = Enumerable.Range(0, 8).Select(i => new TokenWindow { Tokens = validation[(i * 35)..((i + 1) * 35)] }).ToArray();
var fitData = mlContext.Data.LoadFromEnumerable(windows);

AnsiConsole.MarkupLine($"[bold]Language model[/]: {Markup.Escape(modelPath)} (2-layer LSTM 512, 10k words); perplexity on the first {TestTokens:N0} test tokens");
var showcase = new CompressionShowcase(mlContext, modelPath, TaskEvaluation.LanguageModel(data, "test.txt", TestTokens),
    RandomInputs.Create(OnnxModel.Load(modelPath), batch: 1, steps: StepsTimed), StepsTimed, "token", SampleFolders.Output("LanguageModel"));
var cases = CompressionShowcase.Cases(shapes, [4, 8], CompressionMethod.DirNet, CompressionMethod.Hmd, CompressionMethod.LowRank, CompressionMethod.Prune)
    .Concat(CompressionShowcase.WithInt8Factors(CompressionShowcase.Cases(shapes, [8], CompressionMethod.DirNet)))
    .Append(CompressionShowcase.Int8Baseline(shapes))
    .Concat(CompressionShowcase.Quantized(shapes, FactorPrecision.Int4, FactorPrecision.Int3));
var fitted = showcase.Run(fitData, cases);
showcase.PrintTable();
showcase.DrawPlot("Language model: perplexity against the size of the LSTM weights");

// Consume the compressed model: the five likeliest next words after a prompt, from the DirNet 8x transformer.
var vocabulary = File.ReadAllLines(Path.Combine(data, "vocab.txt"));
var ids = vocabulary.Select((word, id) => (word, id)).ToDictionary(p => p.word, p => (long)p.id);
const string Prompt = "in the beginning god created the";
var engine = mlContext.Model.CreatePredictionEngine<TokenWindow, NextWordScores>(fitted["dirnet 8x"]);
var scores = engine.Predict(new TokenWindow { Tokens = Prompt.Split(' ').Select(w => ids.GetValueOrDefault(w)).ToArray() });
var last = scores.LogProbs[^vocabulary.Length..];
var top = Enumerable.Range(0, vocabulary.Length).OrderByDescending(i => last[i]).Take(5).Select(i => $"{vocabulary[i]} ({Math.Exp(last[i]):P0})");
AnsiConsole.MarkupLine($"DirNet 8x, next word after \"{Prompt}\": {Markup.Escape(string.Join(", ", top))}");

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
