using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>Reading, viewing, changing and writing ONNX models.</summary>
public sealed class OnnxModelTests
{
    private static string FixtureModel(string name) => Path.Combine(TestPaths.Fixtures, name, "model.onnx");

    [Fact]
    public void GraphViewShowsNodesInitializersInputsAndOpsets()
    {
        var model = OnnxModel.Load(FixtureModel("lm_embedding_lstm_linear"));
        Assert.Equal(14, model.DefaultOpset);
        Assert.Equal(["ids", "h0", "c0"], model.Graph.Inputs.Select(i => i.Name));
        Assert.Equal(TensorElementType.Int64, model.Graph.Inputs[0].ElementType);
        Assert.Equal("[seq, batch]", model.Graph.Inputs[0].ShapeText);
        Assert.Equal(["log_probs", "h_n", "c_n"], model.Graph.Outputs.Select(o => o.Name));
        Assert.Equal(2, model.Graph.Nodes.Count(n => n.OpType == "LSTM"));
        var lstm = model.Graph.Nodes.First(n => n.OpType == "LSTM");
        Assert.Equal(16, lstm.GetInt("hidden_size", 0));
        var w = model.Graph.GetInitializer(lstm.Inputs[1]);
        Assert.Equal([1, 64, 12], w.Shape);
        Assert.Equal(64 * 12 * 4, model.Graph.GetInitializerBytes(lstm.Inputs[1]));
    }

    [Fact]
    public void ReadThenWriteGivesBitIdenticalOutputsInOnnxRuntime()
    {
        var path = FixtureModel("lstm_2layer_bidirectional");
        var folder = TestPaths.NewTemporaryFolder();
        var copy = Path.Combine(folder, "copy.onnx");
        OnnxModel.Load(path).Save(copy);

        var inputs = TensorFile.ReadSeries(Path.Combine(TestPaths.Fixtures, "lstm_2layer_bidirectional", "test_data_set_0"), "input");
        using var original = new OnnxRuntimeModel(OnnxModel.Load(path));
        using var rewritten = new OnnxRuntimeModel(OnnxModel.Load(copy));
        var expected = original.Run(inputs);
        var actual = rewritten.Run(inputs);
        for (var k = 0; k < expected.Length; k++)
        {
            Assert.Equal(expected[k].As<float>().Data, actual[k].As<float>().Data);
        }

        Assert.Empty(Directory.GetFiles(folder, "*.tmp"));
    }

    [Fact]
    public void ReplacedInitializerIsUsedAndSaved()
    {
        var model = OnnxModel.Load(FixtureModel("rnn_tanh"));
        var rnn = model.Graph.Nodes.First(n => n.OpType == "RNN");
        var w = model.Graph.GetInitializer(rnn.Inputs[1]).As<float>();
        model.ReplaceInitializer(rnn.Inputs[1], new Tensor<float>(w.Shape));
        Assert.All(model.Graph.GetInitializer(rnn.Inputs[1]).As<float>().Data, v => Assert.Equal(0f, v));

        var reloaded = OnnxModel.Parse(model.ToBytes());
        Assert.All(reloaded.Graph.GetInitializer(rnn.Inputs[1]).As<float>().Data, v => Assert.Equal(0f, v));
        Assert.Throws<OnnxGraphException>(() => model.ReplaceInitializer("no_such_tensor", w));
    }

    [Fact]
    public void ExternalDataIsLoadedFromTheModelFolder()
    {
        var source = OnnxModel.Load(FixtureModel("gru_1layer"));
        var proto = source.Proto.Clone();
        var folder = TestPaths.NewTemporaryFolder();
        var weight = proto.Graph.Initializer.First(t => t.Dims.Count == 3);
        var bytes = weight.RawData.ToByteArray();
        File.WriteAllBytes(Path.Combine(folder, "weights.bin"), [.. new byte[16], .. bytes]);
        weight.ClearRawData();
        weight.DataLocation = Onnx.Protobuf.TensorProto.Types.DataLocation.External;
        weight.ExternalData.Add(new Onnx.Protobuf.StringStringEntryProto { Key = "location", Value = "weights.bin" });
        weight.ExternalData.Add(new Onnx.Protobuf.StringStringEntryProto { Key = "offset", Value = "16" });
        weight.ExternalData.Add(new Onnx.Protobuf.StringStringEntryProto { Key = "length", Value = bytes.Length.ToString() });
        var path = Path.Combine(folder, "external.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(proto));

        var loaded = OnnxModel.Load(path);
        Assert.Equal(source.Graph.GetInitializer(weight.Name).As<float>().Data, loaded.Graph.GetInitializer(weight.Name).As<float>().Data);

        // From a stream there is no folder to look in: a clear refusal naming the tensor.
        using var stream = File.OpenRead(path);
        var error = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(stream, "external.onnx"));
        Assert.Contains(weight.Name, error.Message);

        // A missing data file is named.
        File.Delete(Path.Combine(folder, "weights.bin"));
        Assert.Contains("weights.bin", Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path)).Message);
    }
}
