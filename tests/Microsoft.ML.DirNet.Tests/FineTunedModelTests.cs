using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The other half of the PyTorch round trip (python/dirnet_torch; its own tests are python/tests): compressed fixtures
/// written by <c>dirnet compress</c> with every method (and every low-bit precision: int4, int3, int2 and ternary per
/// group), fine-tuned in PyTorch and written back
/// (Fixtures/fine_tuning, made by python/tests/make_fixtures.sh). The fine-tuned file must keep the compressed file's
/// structure exactly (only factor values change), load as compressed in the native engine, agree with ONNX Runtime, and
/// carry what the training gained: its outputs are closer to the original model's than the compressed file's were.
/// </summary>
public sealed class FineTunedModelTests
{
    private static readonly string Folder = Path.Combine(TestPaths.Fixtures, "fine_tuning");

    public static IEnumerable<object[]> Cases() =>
        Directory.GetFiles(Folder, "*.fine_tuned.onnx").Order().Select(f => new object[] { Path.GetFileName(f) });

    [Fact]
    public void EveryMethodHasAFineTunedFixture() => Assert.Equal(24, Cases().Count());

    [Fact]
    public void EveryLowBitPrecisionHasAFineTunedFixture() =>
        Assert.All(new[] { "quant-int4", "lowrank-int3", "hmd-int2", "dirnet-ternary" },
            variant => Assert.Equal(2, Cases().Count(c => ((string)c[0]).Split('.')[1] == variant)));

    [Theory]
    [MemberData(nameof(Cases))]
    public void FineTunedFileKeepsTheStructureAndRunsNativelyAsOnnxRuntimeDoes(string name)
    {
        var fixture = name.Split('.')[0];
        var compressed = OnnxModel.Load(Path.Combine(Folder, name.Replace(".fine_tuned", "")));
        var tuned = OnnxModel.Load(Path.Combine(Folder, name));

        Assert.Equal(compressed.Proto.Graph.Node, tuned.Proto.Graph.Node);
        Assert.Equal(compressed.Metadata["dirnet.compression"], tuned.Metadata["dirnet.compression"]);
        Assert.Contains("distillation", tuned.Metadata["dirnet.fine_tuning"]);
        var changedFactors = 0;
        var changedLevels = 0;
        var scales = compressed.Proto.Graph.Initializer.Where(t => t.Name.EndsWith("_scale", StringComparison.Ordinal)).ToDictionary(t => t.Name[..^"_scale".Length], t => t.DataType);
        var lowBit = scales.Where(p => p.Value == (int)TensorProto.Types.DataType.Float16).Select(p => p.Key).ToHashSet();
        foreach (var (before, after) in compressed.Proto.Graph.Initializer.Zip(tuned.Proto.Graph.Initializer))
        {
            Assert.Equal((before.Name, before.DataType), (after.Name, after.DataType));
            Assert.Equal(before.Dims, after.Dims);
            var (a, b) = (TensorProtoConverter.ToTensor(before), TensorProtoConverter.ToTensor(after));
            if (a is Tensor<float> or Tensor<Half> or Tensor<sbyte>)
            {
                // float values and int8 levels train (int8 stays on its grid: sbyte holds it, -128 is never used)
                changedFactors += before.Name.StartsWith("dirnet/", StringComparison.Ordinal) && TensorComparer.MaxAbsoluteDifference(a, b) > 0 ? 1 : 0;
                Assert.True(b is not Tensor<sbyte> levels || levels.Data.All(v => v >= -127), before.Name);
            }
            else if (lowBit.Contains(before.Name))
            {
                // packed low-bit levels, re-derived from the trained values and scales (the native engine below checks
                // each array unpacks as its precision's packing defines); their zero points are fixed, as indices are
                changedLevels += a.As<byte>().Data.SequenceEqual(b.As<byte>().Data) ? 0 : 1;
            }
            else
            {
                Assert.True(TensorComparer.MaxAbsoluteDifference(a, b) == 0, $"{before.Name}: indices, row starts and zero points never change");
            }
        }

        Assert.True(changedFactors > 0, "the fine-tuning changed factor values");
        Assert.True(lowBit.Count == 0 || changedLevels > 0, "the fine-tuning changed low-bit levels");

        var native = new NativeModel(tuned);
        Assert.Equal(new NativeModel(compressed).CompressedWeights, native.CompressedWeights);
        var inputs = TensorFile.ReadSeries(Path.Combine(TestPaths.Fixtures, fixture, "test_data_set_0"), "input");
        var original = TensorFile.ReadSeries(Path.Combine(TestPaths.Fixtures, fixture, "test_data_set_0"), "output");
        var tunedOutputs = native.Run(inputs);
        using var ort = new OnnxRuntimeModel(tuned);
        var ortOutputs = ort.Run(inputs);
        var compressedOutputs = new NativeModel(compressed).Run(inputs);
        for (var k = 0; k < tunedOutputs.Length; k++)
        {
            Assert.True(TensorComparer.MaxAbsoluteDifference(tunedOutputs[k], ortOutputs[k]) <= 1e-4, $"output {k}: native vs ONNX Runtime");
        }

        double Error(Tensor[] outputs) => outputs.Zip(original).Sum(p => SquaredError(p.First.As<float>().Data, p.Second.As<float>().Data));
        Assert.True(Error(tunedOutputs) < 0.5 * Error(compressedOutputs),
            $"squared error against the original's outputs: fine-tuned {Error(tunedOutputs):G4}, compressed {Error(compressedOutputs):G4}");
    }

    private static double SquaredError(float[] a, float[] b) => a.Zip(b).Sum(p => (double)(p.First - p.Second) * (p.First - p.Second));
}
