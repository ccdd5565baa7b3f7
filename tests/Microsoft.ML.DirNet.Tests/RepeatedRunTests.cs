using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Kernels that keep what they made for one run for the next (a MatMul's B packed once per array, as streaming calls
/// repeat their weights): the same model run again and again, with its inputs and weights changing between runs,
/// matches ONNX Runtime on every run, and gives the same output for the same inputs whatever ran before.
/// </summary>
public sealed class RepeatedRunTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(20)]
    public void MatMulMatchesOnnxRuntimeOnEveryRunAsItsWeightRepeatsAndChanges(int rows)
    {
        const int inner = 19, outer = 37;
        var random = new Random(rows);
        Tensor<float> Random(params int[] shape) =>
            new(shape, Enumerable.Range(0, TensorShape.ElementCount(shape)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray());

        var node = new NodeProto { OpType = "MatMul", Name = "node", Input = { "X", "B" }, Output = { "Y" } };
        var model = SingleNodeModel.Build(node, [("X", TensorElementType.Float), ("B", TensorElementType.Float)], ["Y"]);
        var (first, second) = (Random(inner, outer), Random(inner, outer));
        var native = new NativeModel(model);
        using var ort = new OnnxRuntimeModel(model, optimize: false);
        var x0 = Random(rows, inner);
        var firstRun = native.Run([x0, first])[0];
        foreach (var b in new[] { first, first, second, second, first })
        {
            var x = Random(rows, inner);
            var (actual, expected) = (native.Run([x, b])[0], ort.Run([x, b])[0]);
            Assert.True(TensorComparer.AreClose(actual, expected), $"{rows} rows: native {actual} vs ONNX Runtime {expected}");
        }

        Assert.Equal(firstRun.As<float>().Data, native.Run([x0, first])[0].As<float>().Data);
    }
}
