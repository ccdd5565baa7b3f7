using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Index and shape values at the edges of int64 reach the kernels unchanged: Slice with steps of ±(2^63 − 1) takes one
/// element as ONNX Runtime does (it returned an empty tensor), a Reshape to a dimension beyond 32 bits is refused
/// (it was truncated, so [2^32 + 1] read as [1]), and so is a Concat whose joined axis would be.
/// </summary>
public sealed class ExtremeIndexTests
{
    [Theory]
    [InlineData(0L, 5L, long.MaxValue)]
    [InlineData(4L, -6L, -long.MaxValue)]
    [InlineData(-1L, long.MinValue, -long.MaxValue)]
    [InlineData(1L, long.MaxValue, long.MaxValue)]
    [InlineData(2L, long.MaxValue, 3L)]
    public void SliceWithExtremeStepsMatchesOnnxRuntime(long start, long end, long step)
    {
        var node = new NodeProto { OpType = "Slice", Name = "slice", Input = { "data", "starts", "ends", "axes", "steps" }, Output = { "y" } };
        var inputs = new Tensor[]
        {
            new Tensor<float>([5], [10f, 11f, 12f, 13f, 14f]),
            new Tensor<long>([1], [start]),
            new Tensor<long>([1], [end]),
            new Tensor<long>([1], [0]),
            new Tensor<long>([1], [step]),
        };
        var model = SingleNodeModel.Build(node,
            [("data", TensorElementType.Float), ("starts", TensorElementType.Int64), ("ends", TensorElementType.Int64), ("axes", TensorElementType.Int64), ("steps", TensorElementType.Int64)],
            ["y"]);

        var native = new NativeModel(model).Run(inputs)[0];
        using var ort = new OnnxRuntimeModel(model, optimize: false);
        var reference = ort.Run(inputs)[0];
        Assert.Equal(reference.Shape, native.Shape);
        Assert.Equal(reference.As<float>().Data, native.As<float>().Data);
    }

    [Theory]
    [InlineData(4_294_967_297L)]
    [InlineData(long.MaxValue)]
    public void ReshapeBeyondThirtyTwoBitsIsRefused(long dimension)
    {
        var node = new NodeProto { OpType = "Reshape", Name = "reshape", Input = { "data", "shape" }, Output = { "y" } };
        var model = SingleNodeModel.Build(node, [("data", TensorElementType.Float), ("shape", TensorElementType.Int64)], ["y"]);
        var error = Assert.Throws<ModelExecutionException>(() =>
            new NativeModel(model).Run(new Tensor<float>([1], [1f]), new Tensor<long>([1], [dimension])));
        Assert.Contains("reshape", error.Message);
        Assert.Contains(dimension.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
    }

    /// <summary>A Concat left with no inputs (the structured fuzzer made one) names the problem, not an index.</summary>
    [Fact]
    public void ConcatWithoutInputsIsRefusedByName()
    {
        var node = new NodeProto { OpType = "Concat", Name = "join", Output = { "y" } };
        node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        var model = SingleNodeModel.Build(node, [("unused", TensorElementType.Float)], ["y"]);
        var error = Assert.ThrowsAny<DirNetException>(() => new NativeModel(model).Run(new Tensor<float>([1], [1f])));
        Assert.Contains("at least one input", error.Message);
    }
}
