using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Models of opsets 7-10: the compressed file's rebuild needs opset 11, so its import is raised where every node means
/// the same there (and the result runs as the original does), and refused naming the operator where one would not.
/// </summary>
public sealed class OldOpsetTests
{
    [Theory]
    [InlineData(7)]
    [InlineData(9)]
    [InlineData(10)]
    public void AnOldOpsetIsRaisedWhereEveryNodeKeepsItsMeaning(long opset)
    {
        var model = WithOpset(SyntheticRecurrentModel.Create(RecurrentCellType.Lstm, 2, 8, 16, seed: 3), opset);
        var options = new CompressionOptions { Method = CompressionMethod.Quant, Precision = FactorPrecision.Int8, Ratio = 2, Scope = CompressionScope.Recurrent };
        var compressed = OnnxModel.Parse(RnnCompressor.Compress(model, options).ToCompressedModel().ToBytes(), "compressed.onnx");
        Assert.Equal(CompressedMatrix.MinimumRebuildOpset, compressed.DefaultOpset);
        Assert.Equal(opset, model.DefaultOpset);

        var x = new Tensor<float>([5, 1, 8], Enumerable.Range(0, 40).Select(i => MathF.Sin(i)).ToArray());
        var original = new NativeModel(model).Run(x)[0];
        using var ort = new OnnxRuntimeModel(compressed, optimize: false);
        var fromOrt = ort.Run(x)[0];
        var fromNative = new NativeModel(compressed).Run(x)[0];
        Assert.True(TensorComparer.AreClose(fromNative, fromOrt), $"native {fromNative} vs ONNX Runtime {fromOrt}");
        Assert.True(TensorComparer.MaxAbsoluteDifference(fromOrt, original) < 0.05, "int8 moved the output too far");
    }

    [Fact]
    public void AnOldOpsetWhoseNodesWouldChangeMeaningIsRefusedNamingThem()
    {
        var model = SyntheticRecurrentModel.Create(RecurrentCellType.Lstm, 1, 8, 16, seed: 4);
        var proto = model.Proto.Clone();
        // Slice before opset 10 takes its starts and ends as attributes: at opset 11 the node would read inputs.
        var slice = new NodeProto { OpType = "Slice", Name = "crop" };
        slice.Input.Add(proto.Graph.Output[0].Name);
        slice.Output.Add("cropped");
        foreach (var (name, value) in new[] { ("starts", 0L), ("ends", 2L), ("axes", 0L) })
        {
            var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            attribute.Ints.Add(value);
            slice.Attribute.Add(attribute);
        }

        proto.Graph.Node.Add(slice);
        proto.Graph.Output.Add(new ValueInfoProto { Name = "cropped", Type = proto.Graph.Output[0].Type });
        var old = WithOpset(OnnxModel.FromProto(proto, "old.onnx"), 9);
        var options = new CompressionOptions { Method = CompressionMethod.Quant, Precision = FactorPrecision.Int8, Ratio = 2, Scope = CompressionScope.Recurrent };
        var error = Assert.ThrowsAny<DirNetException>(() => RnnCompressor.Compress(old, options).ToCompressedModel());
        Assert.Contains("opset 9", error.Message);
        Assert.Contains("Slice", error.Message);
    }

    /// <summary>The model at an older opset, its Squeeze nodes given their axes as an attribute, as before opset 13.</summary>
    private static OnnxModel WithOpset(OnnxModel model, long opset)
    {
        var proto = model.Proto.Clone();
        proto.OpsetImport.Single(o => o.Domain.Length == 0).Version = opset;
        foreach (var squeeze in proto.Graph.Node.Where(n => n.OpType == "Squeeze" && n.Input.Count == 2))
        {
            var axes = proto.Graph.Initializer.Single(t => t.Name == squeeze.Input[1]);
            var attribute = new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints };
            attribute.Ints.Add(TensorProtoConverter.ToTensor(axes).As<long>().Data);
            squeeze.Attribute.Add(attribute);
            squeeze.Input.RemoveAt(1);
        }

        return OnnxModel.FromProto(proto, "model.onnx");
    }
}
