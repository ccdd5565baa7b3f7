using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>Each kind of bad input gets one typed error that names the file, node, tensor or input at fault.</summary>
public sealed class BadInputTests
{
    private static readonly string LstmPath = Path.Combine(TestPaths.Fixtures, "lstm_1layer", "model.onnx");

    [Fact]
    public void TruncatedFileIsReportedAsSuch()
    {
        var bytes = File.ReadAllBytes(LstmPath);
        foreach (var length in new[] { 1, 10, bytes.Length / 3, bytes.Length / 2, bytes.Length - 1 })
        {
            var error = Assert.Throws<OnnxFormatException>(() => OnnxModel.Parse(bytes[..length], "cut.onnx"));
            Assert.Equal("cut.onnx", error.ModelPath);
            Assert.Contains("cut.onnx", error.Message);
        }
    }

    [Fact]
    public void FileThatIsNotOnnxIsRejected()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var path = Path.Combine(folder, "notes.onnx");
        File.WriteAllText(path, "This is a text file, not a model.\n");
        var error = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path));
        Assert.Contains("notes.onnx", error.Message);
        Assert.Contains("not a valid ONNX model", error.Message);
        Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(Path.Combine(folder, "missing.onnx")));
    }

    [Fact]
    public void MissingInitializerNamesTheNodeAndTheValue()
    {
        var model = OnnxModel.Load(LstmPath);
        var lstm = model.Graph.Nodes.First(n => n.OpType == "LSTM");
        var weightName = lstm.Inputs[1];
        var proto = model.Proto.Clone();
        proto.Graph.Initializer.Remove(proto.Graph.Initializer.First(t => t.Name == weightName));
        var broken = OnnxModel.Parse(Google.Protobuf.MessageExtensions.ToByteArray(proto), "broken.onnx");

        var error = Assert.Throws<OnnxGraphException>(() => new NativeModel(broken));
        Assert.Equal(lstm.Name, error.NodeName);
        Assert.Contains($"'{weightName}'", error.Message);
    }

    /// <summary>Found by the structured fuzzer: a node whose outputs were removed reached the kernels as an index error.</summary>
    [Fact]
    public void NodeWithoutOutputsNamesTheNode()
    {
        var proto = OnnxModel.Load(LstmPath).Proto.Clone();
        var squeeze = proto.Graph.Node.First(n => n.OpType != "LSTM");
        squeeze.Output.Clear();
        var error = Assert.Throws<OnnxGraphException>(() => new NativeModel(OnnxModel.Parse(Google.Protobuf.MessageExtensions.ToByteArray(proto), "silent.onnx")));
        Assert.Contains("names no outputs", error.Message);
        Assert.Contains(squeeze.Name, error.Message);
    }

    [Fact]
    public void UnsupportedOperatorsAreAllListedWithTheirNodes()
    {
        var proto = OnnxModel.Load(LstmPath).Proto.Clone();
        var squeeze = proto.Graph.Node.First(n => n.OpType == "Squeeze");
        squeeze.OpType = "FancySqueeze";
        proto.Graph.Node.First(n => n.OpType == "LSTM").OpType = "SuperLSTM";
        var model = OnnxModel.Parse(Google.Protobuf.MessageExtensions.ToByteArray(proto), "custom.onnx");

        var error = Assert.Throws<UnsupportedOperatorException>(() => new NativeModel(model));
        Assert.Equal(["FancySqueeze", "SuperLSTM"], error.Operators.Keys.Order());
        Assert.Contains(squeeze.Name, error.Operators["FancySqueeze"]);
        Assert.Contains("FancySqueeze", error.Message);
        Assert.Contains("SuperLSTM", error.Message);
    }

    [Fact]
    public void InputOfWrongShapeOrTypeNamesTheInput()
    {
        var native = NativeModel.Load(LstmPath);
        var good = TensorFile.ReadSeries(Path.Combine(TestPaths.Fixtures, "lstm_1layer", "test_data_set_0"), "input");

        var wrongWidth = new Tensor<float>([7, 3, 5]);
        var shapeError = Assert.Throws<ModelInputException>(() => native.Run(wrongWidth, good[1], good[2]));
        Assert.Equal("X", shapeError.InputName);
        Assert.Contains("[7, 3, 5]", shapeError.Message);

        var wrongType = new Tensor<long>(good[0].Shape);
        var typeError = Assert.Throws<ModelInputException>(() => native.Run(wrongType, good[1], good[2]));
        Assert.Contains("Float", typeError.Message);
        Assert.Contains("Int64", typeError.Message);

        Assert.Throws<ModelInputException>(() => native.Run(good[0]));
        Assert.Throws<ModelInputException>(() => native.Run(new Dictionary<string, Tensor> { ["nope"] = good[0] }));
    }

    [Fact]
    public void TensorWhoseDataDisagreesWithItsShapeIsNamed()
    {
        var proto = OnnxModel.Load(LstmPath).Proto.Clone();
        var weight = proto.Graph.Initializer.First(t => t.Dims.Count == 3);
        weight.RawData = Google.Protobuf.ByteString.CopyFrom(weight.RawData.Span[..^4]);
        var model = OnnxModel.Parse(Google.Protobuf.MessageExtensions.ToByteArray(proto), "short.onnx");

        var error = Assert.Throws<OnnxFormatException>(() => new NativeModel(model));
        Assert.Contains(weight.Name, error.Message);
        Assert.Contains("raw_data", error.Message);
    }
}
