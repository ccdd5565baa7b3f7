using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DirNet;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Onnx;

namespace DirNetSamples;

/// <summary>
/// What the speech sample measures, in one place for Program.cs and for the test that checks the README's numbers
/// against the code: the model's shape, the rows given to Fit, the cases, the task, and the transcription demo.
/// </summary>
internal static class SpeechShowcase
{
    /// <summary>CER and WER are measured on this many leading test utterances.</summary>
    public const int TestUtterances = 100;

    /// <summary>Latency is timed on this many random 10 ms frames.</summary>
    public const int FramesTimed = 300;

    /// <summary>The case whose transformer the transcription demo uses.</summary>
    public const string DemoCase = "quant int3";

    /// <summary>The model's input: log-mel features [batch, frames, 40]; one row = one utterance, its length left open (-1).</summary>
    public static Dictionary<string, int[]> Shapes() => new() { ["features"] = [1, -1, LogMelFeatures.Mels] };

    /// <summary>
    /// The rows given to Fit: the features of the first 8 calibration utterances (checked against the model's input;
    /// with CalibrationRows they would also be the calibration data).
    /// </summary>
    public static IDataView FitData(MLContext mlContext)
    {
        var calibration = Path.Combine(DataFolder, "calibration");
        return mlContext.Data.LoadFromEnumerable(SpeechRecognitionEvaluator.ReadManifest(calibration).Take(8)
            .Select(u => new Utterance { Features = Features(calibration, u.File) }).ToArray());
    }

    /// <summary>The cases the sample compresses (<see cref="CompressionShowcase.SampleCases"/>) for its model's shapes.</summary>
    public static IEnumerable<(string Label, RnnCompressionOptions Options)> Cases() => CompressionShowcase.SampleCases(Shapes());

    /// <summary>
    /// The sample's showcase: CER/WER on the first <see cref="TestUtterances"/> test utterances, latency on random frames; the compressed models go to
    /// <paramref name="outputFolder"/> (default artifacts/samples/Asr).
    /// </summary>
    public static CompressionShowcase Showcase(MLContext mlContext, string? outputFolder = null) =>
        new(mlContext, ModelPath, TaskEvaluation.SpeechRecognition(TestFolder, AlphabetPath, TestUtterances),
            RandomInputs.Create(OnnxModel.Load(ModelPath), batch: 1, steps: FramesTimed), FramesTimed, "frame", outputFolder ?? SampleFolders.Output("Asr"));

    /// <summary>The first test utterance transcribed by <paramref name="model"/>: "FILE: "heard" (reference: "said")".</summary>
    public static string Transcription(MLContext mlContext, ITransformer model)
    {
        var decoder = CtcGreedyDecoder.FromFile(AlphabetPath);
        var (file, transcript) = SpeechRecognitionEvaluator.ReadManifest(TestFolder)[0];
        var engine = mlContext.Model.CreatePredictionEngine<Utterance, CharacterScores>(model);
        var scores = engine.Predict(new Utterance { Features = Features(TestFolder, file) }).LogProbs;
        return $"{file}: \"{decoder.Decode(scores, scores.Length / decoder.Classes)}\" (reference: \"{transcript}\")";
    }

    /// <summary>samples/Asr/model.onnx.</summary>
    public static string ModelPath => Path.Combine(SampleFolders.Sample("Asr"), "model.onnx");

    /// <summary>samples/Asr/README.md, whose results block the sample writes.</summary>
    public static string ReadmePath => Path.Combine(SampleFolders.Sample("Asr"), "README.md");

    private static string DataFolder => Path.Combine(SampleFolders.Sample("Asr"), "data");

    private static string TestFolder => Path.Combine(DataFolder, "test");

    private static string AlphabetPath => Path.Combine(DataFolder, "alphabet.txt");

    private static float[] Features(string directory, string file)
    {
        var (samples, _) = WaveFile.ReadPcm16Mono(Path.Combine(directory, file));
        return LogMelFeatures.Compute(samples, out _);
    }
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
