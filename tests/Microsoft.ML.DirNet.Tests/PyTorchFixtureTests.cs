using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Models exported from PyTorch 1.13 by Fixtures/export_pytorch_fixtures.py, with PyTorch's own outputs: the native
/// engine must match PyTorch and ONNX Runtime within 1e-4 on inputs of another batch and length than the export trace.
/// </summary>
public sealed class PyTorchFixtureTests
{
    public static IEnumerable<object[]> Fixtures() =>
        Directory.GetDirectories(TestPaths.Fixtures).Order(StringComparer.Ordinal)
            .Where(d => Path.GetFileName(d) != "fine_tuning") // compressed and fine-tuned files, FineTunedModelTests' fixtures
            .Select(d => new object[] { Path.GetFileName(d) });

    [Fact]
    public void EveryDocumentedFixtureIsPresent()
    {
        var names = Fixtures().Select(f => (string)f[0]).ToArray();
        Assert.Equal(
            ["asr_bigru_ctc", "gru_1layer", "gru_bidirectional", "lm_embedding_lstm_linear", "lstm_1layer",
             "lstm_2layer_bidirectional", "lstm_3layer_batch_first", "lstm_no_bias", "rnn_relu", "rnn_tanh"],
            names);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void NativeMatchesPyTorchAndOnnxRuntime(string name)
    {
        var folder = Path.Combine(TestPaths.Fixtures, name);
        var model = OnnxModel.Load(Path.Combine(folder, "model.onnx"));
        var inputs = TensorFile.ReadSeries(Path.Combine(folder, "test_data_set_0"), "input");
        var pytorch = TensorFile.ReadSeries(Path.Combine(folder, "test_data_set_0"), "output");
        Assert.NotEmpty(pytorch);

        var native = new NativeModel(model).Run(inputs);
        using var ort = new OnnxRuntimeModel(model);
        var reference = ort.Run(inputs);

        Assert.Equal(pytorch.Length, native.Length);
        for (var k = 0; k < pytorch.Length; k++)
        {
            Assert.True(TensorComparer.MaxAbsoluteDifference(native[k], pytorch[k]) <= 1e-4,
                $"{name} output {k}: native vs PyTorch max |diff| {TensorComparer.MaxAbsoluteDifference(native[k], pytorch[k])}");
            Assert.True(TensorComparer.MaxAbsoluteDifference(native[k], reference[k]) <= 1e-4,
                $"{name} output {k}: native vs ONNX Runtime max |diff| {TensorComparer.MaxAbsoluteDifference(native[k], reference[k])}");
        }
    }

    [Fact]
    public void LanguageModelRunsAtBatchOneAndLongSequences()
    {
        // Batch 1 and a length far from the export trace exercise the dynamic-axis shape arithmetic once more.
        var model = OnnxModel.Load(Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear", "model.onnx"));
        var random = new Random(7);
        var ids = new Tensor<long>([100, 1], Enumerable.Range(0, 100).Select(_ => (long)random.Next(50)).ToArray());
        var h0 = new Tensor<float>([2, 1, 16]);
        var c0 = new Tensor<float>([2, 1, 16]);
        var native = new NativeModel(model).Run(ids, h0, c0);
        using var ort = new OnnxRuntimeModel(model);
        var reference = ort.Run(ids, h0, c0);
        for (var k = 0; k < native.Length; k++)
        {
            Assert.True(TensorComparer.AreClose(native[k], reference[k]), $"output {k}");
        }
    }
}
