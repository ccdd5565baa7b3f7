using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Resize in the forms the conformance cases (../shared/onnx-node-tests) do not cover, against ONNX Runtime: opset 10's
/// (X, scales, asymmetric coordinates), opset 18's axes and keep_aspect_ratio_policy, opset 19's half_pixel_symmetric,
/// and a 1-D resize of a [batch, channels, time] signal as audio models have.
/// </summary>
public sealed class ResizeTests
{
    public static TheoryData<string, long, int[], float[]?, long[]?, string> Cases => new()
    {
        { "opset 10 nearest up", 10, [1, 1, 3, 4], [1, 1, 2, 3], null, "mode=nearest" },
        { "opset 10 nearest down", 10, [1, 2, 5, 7], [1, 1, 0.5f, 0.6f], null, "mode=nearest" },
        { "opset 10 linear", 10, [1, 1, 3, 4], [1, 1, 2, 1.5f], null, "mode=linear" },
        { "1-D linear, time halved", 13, [1, 3, 9], [1, 1, 0.5f], null, "mode=linear" },
        { "1-D nearest, asymmetric floor", 13, [2, 2, 5], [1, 1, 3], null, "mode=nearest;coordinate_transformation_mode=asymmetric;nearest_mode=floor" },
        { "half_pixel_symmetric linear", 19, [1, 1, 4, 5], [1, 1, 1.7f, 0.6f], null, "mode=linear;coordinate_transformation_mode=half_pixel_symmetric" },
        { "half_pixel_symmetric cubic sizes", 19, [1, 1, 4, 6], null, [1, 1, 7, 3], "mode=cubic;coordinate_transformation_mode=half_pixel_symmetric" },
        { "axes with sizes, not_larger", 18, [1, 2, 4, 6], null, [5, 9], "mode=linear;axes=2,3;keep_aspect_ratio_policy=not_larger" },
        { "axes with sizes, not_smaller", 18, [1, 2, 4, 6], null, [5, 9], "mode=nearest;axes=2,3;keep_aspect_ratio_policy=not_smaller" },
        { "axes with scales", 18, [2, 3, 4], [2.5f], null, "mode=linear;axes=-1" },
        { "cubic, exclude_outside", 13, [1, 1, 5, 4], [1, 1, 1.5f, 0.75f], null, "mode=cubic;exclude_outside=1" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntime(string description, long opset, int[] shape, float[]? scales, long[]? sizes, string attributes)
    {
        var node = new NodeProto { OpType = "Resize", Name = "resize" };
        var random = new Random(shape.Sum());
        var inputs = new List<(string Name, Tensor Value)> { ("X", new Tensor<float>(shape, Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)random.NextDouble() * 4 - 2).ToArray())) };
        node.Input.Add("X");
        if (opset < 11)
        {
            node.Input.Add("scales");
            inputs.Add(("scales", new Tensor<float>([scales!.Length], scales)));
        }
        else
        {
            node.Input.Add("");
            node.Input.Add(scales is null ? "" : "scales");
            if (scales is not null)
            {
                inputs.Add(("scales", new Tensor<float>([scales.Length], scales)));
            }
            else
            {
                node.Input.Add("sizes");
                inputs.Add(("sizes", new Tensor<long>([sizes!.Length], sizes)));
            }
        }

        node.Output.Add("Y");
        foreach (var pair in attributes.Split(';'))
        {
            var (name, value) = (pair.Split('=')[0], pair.Split('=')[1]);
            var attribute = new AttributeProto { Name = name };
            if (name == "axes")
            {
                attribute.Type = AttributeProto.Types.AttributeType.Ints;
                attribute.Ints.Add(value.Split(',').Select(long.Parse));
            }
            else if (name == "exclude_outside")
            {
                (attribute.Type, attribute.I) = (AttributeProto.Types.AttributeType.Int, long.Parse(value));
            }
            else
            {
                (attribute.Type, attribute.S) = (AttributeProto.Types.AttributeType.String, Google.Protobuf.ByteString.CopyFromUtf8(value));
            }

            node.Attribute.Add(attribute);
        }

        var model = SingleNodeModel.Build(node, inputs.Select(i => (i.Name, i.Value.ElementType)), ["Y"], opset);
        var values = inputs.Select(i => i.Value).ToArray();
        using var ort = new OnnxRuntimeModel(model, optimize: false);
        var expected = ort.Run(values)[0];
        var actual = new NativeModel(model).Run(values)[0];
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.True(TensorComparer.AreClose(actual, expected), $"{description}: max |diff| {TensorComparer.MaxAbsoluteDifference(actual, expected):G4}");
    }
}
