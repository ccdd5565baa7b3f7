using Google.Protobuf;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The speech evaluation pipeline (manifest, WAV, features, model at batch 1, greedy CTC, CER/WER) on the committed
/// reference WAVs with a small random acoustic model of the sample's interface: both engines give the same transcripts.
/// </summary>
public sealed class SpeechRecognitionEvaluatorTests
{
    private static readonly string Reference = Path.Combine(TestPaths.RepositoryRoot, "samples", "Asr", "data", "feature_reference");
    private static readonly string Alphabet = Path.Combine(TestPaths.RepositoryRoot, "samples", "Asr", "data", "alphabet.txt");

    [Fact]
    public void NativeAndOnnxRuntimeTranscribeAlike()
    {
        var folder = TestPaths.NewTemporaryFolder();
        foreach (var wav in Directory.GetFiles(Reference, "*.wav"))
        {
            File.Copy(wav, Path.Combine(folder, Path.GetFileName(wav)));
        }

        File.WriteAllLines(Path.Combine(folder, "manifest.tsv"),
            ["file\ttranscript\tvoice", "ex1.wav\tin the beginning\tx", "ex2.wav\tand god said\tx", "ex3.wav\tlet there be light\tx"]);
        var decoder = CtcGreedyDecoder.FromFile(Alphabet);
        var model = AcousticModel(decoder.Classes);

        var native = SpeechRecognitionEvaluator.Evaluate(new NativeModel(model), folder, decoder);
        using var ort = new OnnxRuntimeModel(model);
        var reference = SpeechRecognitionEvaluator.Evaluate(ort, folder, decoder);

        Assert.Equal(3, native.Utterances.Count);
        Assert.Equal(reference.Utterances.Select(u => u.Hypothesis), native.Utterances.Select(u => u.Hypothesis));
        Assert.Contains(native.Utterances, u => u.Hypothesis.Length > 0);
        Assert.Equal(reference.Rates, native.Rates);
        Assert.Equal(ErrorRates.Score(native.Utterances.Select(u => u.Reference).ToArray(),
            native.Utterances.Select(u => u.Hypothesis).ToArray()), native.Rates);
        Assert.Equal(16 + 12 + 18, native.Rates.Characters);
    }

    [Fact]
    public void MissingManifestOrWrongAlphabetIsReported()
    {
        var decoder = CtcGreedyDecoder.FromFile(Alphabet);
        Assert.Contains("manifest.tsv", Assert.Throws<DirNetException>(() =>
            SpeechRecognitionEvaluator.Evaluate(new NativeModel(AcousticModel(29)), TestPaths.NewTemporaryFolder(), decoder)).Message);
    }

    /// <summary>features [batch, time, 40] → Transpose → GRU(29) → Squeeze → Transpose → LogSoftmax: [batch, time, 29].</summary>
    private static OnnxModel AcousticModel(int classes)
    {
        var random = new Random(11);
        TensorProto Weights(string name, params int[] shape)
        {
            var t = new Tensor<float>(shape, Enumerable.Range(0, TensorShape.ElementCount(shape)).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray());
            return TensorProtoConverter.ToProto(name, t);
        }

        var graph = new GraphProto { Name = "tiny_acoustic_model" };
        graph.Initializer.Add([Weights("W", 1, 3 * classes, LogMelFeatures.Mels), Weights("R", 1, 3 * classes, classes),
            TensorProtoConverter.ToProto("axes", new Tensor<long>([1], [1]))]);
        NodeProto Node(string op, string[] inputs, string output, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = op, Name = op + "_" + output };
            node.Input.Add(inputs);
            node.Output.Add(output);
            node.Attribute.Add(attributes);
            return node;
        }

        AttributeProto Ints(string name, params long[] values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.Add(values);
            return a;
        }

        graph.Node.Add([
            Node("Transpose", ["features"], "time_major", Ints("perm", 1, 0, 2)),
            Node("GRU", ["time_major", "W", "R"], "Y", new AttributeProto { Name = "hidden_size", Type = AttributeProto.Types.AttributeType.Int, I = classes }),
            Node("Squeeze", ["Y", "axes"], "scores"),
            Node("Transpose", ["scores"], "batch_major", Ints("perm", 1, 0, 2)),
            Node("LogSoftmax", ["batch_major"], "log_probs", new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = -1 }),
        ]);
        graph.Input.Add(new ValueInfoProto { Name = "features", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        graph.Output.Add(new ValueInfoProto { Name = "log_probs", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 14 });
        return OnnxModel.Parse(model.ToByteArray(), "tiny_acoustic_model.onnx");
    }
}
