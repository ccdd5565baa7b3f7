// The speech-recognition sample, in the style of an ML.NET Model Builder console app: load the shipped CTC recogniser
// (3 bidirectional GRU layers), compress it in an ML.NET pipeline with .CompressRnn() (DirNet, HMD and the baselines),
// export each compressed ONNX, and show size, latency per 10 ms frame (native engine and ONNX Runtime) and CER/WER
// before and after; then transcribe a test utterance with the DirNet model through a PredictionEngine.
//
//   dotnet run --project samples/Asr -c Release
using DirNetSamples;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Onnx;
using Spectre.Console;

const int TestUtterances = 100;
const int FramesTimed = 300;
var folder = SampleFolders.Sample("Asr");
var modelPath = Path.Combine(folder, "model.onnx");
var test = Path.Combine(folder, "data", "test");
var alphabet = Path.Combine(folder, "data", "alphabet.txt");
var mlContext = new MLContext(seed: 0);

// The model's input: log-mel features [batch, frames, 40]; one row = one utterance, its length left open (-1).
var shapes = new Dictionary<string, int[]> { ["features"] = [1, -1, LogMelFeatures.Mels] };

// The rows given to Fit: the calibration utterances' features (checked against the model's input; with CalibrationRows
// they would also be the calibration data).
var calibration = Path.Combine(folder, "data", "calibration");
var fitData = mlContext.Data.LoadFromEnumerable(SpeechRecognitionEvaluator.ReadManifest(calibration).Take(8)
    .Select(u => new Utterance { Features = Features(calibration, u.File) }));

AnsiConsole.MarkupLine($"[bold]Speech recogniser[/]: {Markup.Escape(modelPath)} (3-layer bidirectional GRU 256, CTC over 29 characters); CER and WER on the first {TestUtterances} test utterances");
var showcase = new CompressionShowcase(mlContext, modelPath, TaskEvaluation.SpeechRecognition(test, alphabet, TestUtterances),
    RandomInputs.Create(OnnxModel.Load(modelPath), batch: 1, steps: FramesTimed), FramesTimed, "frame", SampleFolders.Output("Asr"));
var cases = CompressionShowcase.Cases(shapes, [4, 8], CompressionMethod.DirNet, CompressionMethod.Hmd, CompressionMethod.LowRank, CompressionMethod.Prune)
    .Concat(CompressionShowcase.WithInt8Factors(CompressionShowcase.Cases(shapes, [8], CompressionMethod.DirNet)))
    .Append(CompressionShowcase.Int8Baseline(shapes))
    .Concat(CompressionShowcase.Quantized(shapes, FactorPrecision.Int4, FactorPrecision.Int3));
var fitted = showcase.Run(fitData, cases);
showcase.PrintTable();
showcase.DrawPlot("Speech recogniser: CER against the size of the GRU weights");

// Consume the compressed model: transcribe the first test utterance with the DirNet 8x transformer.
var decoder = CtcGreedyDecoder.FromFile(alphabet);
var (file, transcript) = SpeechRecognitionEvaluator.ReadManifest(test)[0];
var engine = mlContext.Model.CreatePredictionEngine<Utterance, CharacterScores>(fitted["dirnet 8x"]);
var scores = engine.Predict(new Utterance { Features = Features(test, file) }).LogProbs;
AnsiConsole.MarkupLine($"DirNet 8x on {Markup.Escape(file)}: \"{Markup.Escape(decoder.Decode(scores, scores.Length / decoder.Classes))}\" (reference: \"{Markup.Escape(transcript)}\")");

static float[] Features(string directory, string file)
{
    var (samples, _) = WaveFile.ReadPcm16Mono(Path.Combine(directory, file));
    return LogMelFeatures.Compute(samples, out _);
}

/// <summary>One utterance: its log-mel features, frames × 40, frame by frame.</summary>
internal sealed class Utterance
{
    [ColumnName("features")]
    public float[] Features { get; set; } = [];
}

/// <summary>The model's output: log-probabilities of the 29 characters at every output frame.</summary>
internal sealed class CharacterScores
{
    [ColumnName("log_probs")]
    public float[] LogProbs { get; set; } = [];
}
