using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// What the ONNX conformance cases of Conv, ConvTranspose, the pools and Pad leave out (groups, depthwise filters,
/// dilations with strides, 1-D front-ends like Silero's and DTLN's, few and many output positions (the two ways Conv
/// lays out its windows), bias, output_padding with groups, ceil_mode in 1-D,
/// reflect padding of several axes, cropping by negative pads), each checked against ONNX Runtime on a single-node model.
/// </summary>
public sealed class SpatialOperatorTests
{
    public static IEnumerable<object[]> Cases() =>
    [
        ["Conv 1-D, groups 2, stride 2, dilation 2, asymmetric pads, bias", "Conv", new[] { 1, 4, 19 }, new[] { 6, 2, 3 }, true, "group=2;strides=2;dilations=2;pads=1,2"],
        ["Conv 1-D, SAME_UPPER, stride 3", "Conv", new[] { 2, 3, 16 }, new[] { 5, 3, 4 }, true, "strides=3;auto_pad=SAME_UPPER"],
        ["Conv 2-D depthwise (groups = channels), SAME_LOWER", "Conv", new[] { 1, 4, 7, 6 }, new[] { 4, 1, 3, 2 }, true, "group=4;auto_pad=SAME_LOWER"],
        ["Conv 2-D, strides 2×1, dilations 1×2, pads", "Conv", new[] { 2, 3, 9, 8 }, new[] { 4, 3, 3, 3 }, false, "strides=2,1;dilations=1,2;pads=1,0,2,1"],
        ["Conv 1-D, kernel 1 (pointwise)", "Conv", new[] { 1, 8, 5 }, new[] { 3, 8, 1 }, true, ""],
        ["Conv 1-D, kernel 1 on one position (a frame, the channels as the window), batch 2, groups 2", "Conv", new[] { 2, 8, 1 }, new[] { 6, 4, 1 }, true, "group=2"],
        ["Conv 1-D, 80 output positions (windows as columns), groups 3", "Conv", new[] { 2, 6, 83 }, new[] { 9, 2, 4 }, true, "group=3"],
        ["Conv 2-D, 10×8 output positions (windows as columns), pads", "Conv", new[] { 1, 2, 10, 8 }, new[] { 3, 2, 3, 3 }, true, "pads=1,1,1,1"],
        ["ConvTranspose 1-D, groups 2, stride 2, dilation 2, pads, output_padding, bias", "ConvTranspose", new[] { 1, 4, 7 }, new[] { 4, 3, 3 }, true, "group=2;strides=2;dilations=2;pads=1,2;output_padding=1"],
        ["ConvTranspose 2-D, groups 2, strides 2×3", "ConvTranspose", new[] { 2, 2, 4, 3 }, new[] { 2, 2, 3, 2 }, true, "group=2;strides=2,3"],
        ["ConvTranspose 1-D, SAME_LOWER, stride 2", "ConvTranspose", new[] { 1, 2, 5 }, new[] { 2, 3, 4 }, false, "strides=2;auto_pad=SAME_LOWER"],
        ["MaxPool 1-D, ceil_mode, stride 2, pads", "MaxPool", new[] { 1, 3, 10 }, null!, false, "kernel_shape=3;strides=2;pads=1,1;ceil_mode=1"],
        ["AveragePool 1-D, ceil_mode, pads, excluding pads", "AveragePool", new[] { 2, 2, 11 }, null!, false, "kernel_shape=4;strides=3;pads=2,1;ceil_mode=1"],
        ["AveragePool 2-D, pads counted", "AveragePool", new[] { 1, 2, 6, 5 }, null!, false, "kernel_shape=3,2;strides=2,2;pads=1,1,1,0;count_include_pad=1"],
        ["Pad reflect on two axes", "Pad", new[] { 2, 5, 4 }, null!, false, "mode=reflect;pads=0,2,3,0,4,1"],
        ["Pad constant with negative pads (crop)", "Pad", new[] { 3, 6 }, null!, false, "mode=constant;pads=-1,2,1,-3"],
        ["Pad edge", "Pad", new[] { 1, 2, 3 }, null!, false, "mode=edge;pads=0,0,2,0,1,3"],
        ["Pad constant cropping the start of the last axis and padding its end", "Pad", new[] { 2, 3, 7 }, null!, false, "mode=constant;pads=1,0,-2,0,1,3"],
        ["Pad reflect on the last axis only", "Pad", new[] { 2, 6 }, null!, false, "mode=reflect;pads=0,3,0,2"],
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntime(string description, string op, int[] xShape, int[]? wShape, bool bias, string attributes)
    {
        var node = new NodeProto { OpType = op, Name = "node" };
        foreach (var attribute in attributes.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var (name, value) = (attribute.Split('=')[0], attribute.Split('=')[1]);
            if (name is "auto_pad" or "mode")
            {
                node.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) });
            }
            else if (name is "group" or "ceil_mode" or "count_include_pad")
            {
                node.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = long.Parse(value) });
            }
            else if (!(op == "Pad" && name == "pads"))
            {
                var ints = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
                ints.Ints.Add(value.Split(',').Select(long.Parse));
                node.Attribute.Add(ints);
            }
        }

        var random = new Random(description.Length);
        Tensor<float> Random(int[] shape) =>
            new(shape, Enumerable.Range(0, TensorShape.ElementCount(shape)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray());

        var inputs = new List<(string Name, Tensor Value)> { ("X", Random(xShape)) };
        if (wShape is not null)
        {
            inputs.Add(("W", Random(wShape)));
            if (bias) inputs.Add(("B", Random([op == "Conv" ? wShape[0] : wShape[1] * (int)(node.Attribute.FirstOrDefault(a => a.Name == "group")?.I ?? 1)])));
        }

        if (op == "Pad")
        {
            var pads = attributes.Split(';').Single(a => a.StartsWith("pads=", StringComparison.Ordinal))[5..].Split(',').Select(long.Parse).ToArray();
            inputs.Add(("pads", new Tensor<long>([pads.Length], pads)));
        }

        node.Input.Add(inputs.Select(i => i.Name));
        node.Output.Add("Y");
        var model = SingleNodeModel.Build(node, inputs.Select(i => (i.Name, i.Value.ElementType)), ["Y"]);
        var values = inputs.Select(i => i.Value).ToArray();
        var native = new NativeModel(model).Run(values)[0];
        using var ort = new OnnxRuntimeModel(model, optimize: false);
        var reference = ort.Run(values)[0];
        Assert.True(TensorComparer.AreClose(native, reference),
            $"{description}: native {native} vs ONNX Runtime {reference}, max |diff| {(TensorShape.SameAs(native.Shape, reference.Shape) ? TensorComparer.MaxAbsoluteDifference(native, reference) : double.NaN)}");
    }

    /// <summary>
    /// A Conv node keeps its window table per input shape and its packed filters per W tensor between runs (a
    /// streaming call repeats both): one model run on inputs of two lengths and two W tensors in turn, padded (windows
    /// that cross the pad) and unpadded (windows copied whole), matches ONNX Runtime on every run.
    /// </summary>
    [Theory]
    [InlineData("strides=4", 8)]
    [InlineData("strides=3;pads=2,1;dilations=2", 4)]
    public void ConvMatchesOnnxRuntimeWhenShapesAndWeightsChangeBetweenRuns(string attributes, int kernel)
    {
        var node = new NodeProto { OpType = "Conv", Name = "node", Input = { "X", "W" }, Output = { "Y" } };
        foreach (var attribute in attributes.Split(';'))
        {
            var ints = new AttributeProto { Name = attribute.Split('=')[0], Type = AttributeProto.Types.AttributeType.Ints };
            ints.Ints.Add(attribute.Split('=')[1].Split(',').Select(long.Parse));
            node.Attribute.Add(ints);
        }

        var model = SingleNodeModel.Build(node, [("X", TensorElementType.Float), ("W", TensorElementType.Float)], ["Y"]);
        var random = new Random(kernel);
        Tensor<float> Random(params int[] shape) =>
            new(shape, Enumerable.Range(0, TensorShape.ElementCount(shape)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray());

        var (first, second) = (Random(5, 2, kernel), Random(5, 2, kernel));
        var native = new NativeModel(model);
        using var ort = new OnnxRuntimeModel(model, optimize: false);
        foreach (var (x, w) in new[] { (Random(1, 2, 40), first), (Random(1, 2, 57), first), (Random(1, 2, 40), second), (Random(1, 2, 40), first) })
        {
            var (actual, expected) = (native.Run([x, w])[0], ort.Run([x, w])[0]);
            Assert.True(TensorComparer.AreClose(actual, expected), $"{attributes}, X {TensorShape.Format(x.Shape)}: native {actual} vs ONNX Runtime {expected}");
        }
    }
}
