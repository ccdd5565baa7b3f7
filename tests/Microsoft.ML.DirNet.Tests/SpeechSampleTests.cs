using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The shipped speech recogniser (samples/Asr/model.onnx): on the first test utterances both engines, with the C#
/// features, give exactly the transcripts the training script decoded with PyTorch (samples/Asr/test_hypotheses.tsv).
/// The whole test set is evaluated by `dirnet eval` (see the sample's README), not here, to keep CI fast.
/// </summary>
public sealed class SpeechSampleTests
{
    private const int Utterances = 12;
    private static readonly string Sample = Path.Combine(TestPaths.RepositoryRoot, "samples", "Asr");

    [Fact]
    public void TranscriptsMatchPyTorchOnBothEngines()
    {
        var expected = File.ReadLines(Path.Combine(Sample, "test_hypotheses.tsv")).Skip(1)
            .Select(line => line.Split('\t')).Take(Utterances).ToDictionary(f => f[0], f => f[2]);
        var model = OnnxModel.Load(Path.Combine(Sample, "model.onnx"));
        var decoder = CtcGreedyDecoder.FromFile(Path.Combine(Sample, "data", "alphabet.txt"));
        var data = Path.Combine(Sample, "data", "test");

        var native = SpeechRecognitionEvaluator.Evaluate(new NativeModel(model), data, decoder, Utterances);
        using var ort = new OnnxRuntimeModel(model);
        var onnxRuntime = SpeechRecognitionEvaluator.Evaluate(ort, data, decoder, Utterances);

        Assert.Equal(Utterances, native.Utterances.Count);
        foreach (var (mine, theirs) in native.Utterances.Zip(onnxRuntime.Utterances))
        {
            Assert.Equal(expected[mine.File], mine.Hypothesis);
            Assert.Equal(expected[theirs.File], theirs.Hypothesis);
        }
    }
}
