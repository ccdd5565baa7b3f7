using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Xunit.Abstractions;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// <see cref="NativeModel.QuantizeInt8Activations"/> on a model compressed at int8: with integer dot products the
/// outputs move from ONNX Runtime's on the same file by the inputs' rounding only (relative RMS under 1 %), while the
/// default run still equals ONNX Runtime's within 1e-4; without them the option changes nothing. The setting is the
/// run's own: a model without it, run at the same time on another thread, is unaffected.
/// </summary>
public sealed class QuantizedActivationTests(ITestOutputHelper output)
{
    [Fact]
    public void QuantizedActivationsMoveTheOutputsOnlyByTheInputsRounding()
    {
        var model = OnnxModel.Load(Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear", "model.onnx"));
        var options = new CompressionOptions { Method = CompressionMethod.Quant, Precision = FactorPrecision.Int8, Ratio = 2, Scope = CompressionScope.Model };
        var compressed = OnnxModel.Parse(RnnCompressor.Compress(model, options).ToCompressedModel().ToBytes(), "int8.onnx");
        var inputs = RandomInputs.Create(compressed, batch: 1, steps: 9, seed: 4);
        using var ort = new OnnxRuntimeModel(compressed);
        var expected = ort.Run(inputs);
        var plain = new NativeModel(compressed);
        var quantizing = new NativeModel(compressed) { QuantizeInt8Activations = true };
        Tensors.Tensor[] fromPlain = [], fromQuantizing = [];
        // Both at once on two threads: each run's setting is its own.
        Parallel.Invoke(() => fromPlain = plain.Run(inputs), () => fromQuantizing = quantizing.Run(inputs));
        for (var k = 0; k < expected.Length; k++)
        {
            Assert.True(Tensors.TensorComparer.AreClose(fromPlain[k], expected[k]), $"output {k}: the default run is not ONNX Runtime's within 1e-4");
            var (e, q) = (expected[k].As<float>().Data, fromQuantizing[k].As<float>().Data);
            var error = RnnCompressor.RelativeError(e, q);
            output.WriteLine($"output {k}: relative RMS difference with quantized activations {error:G3}");
            if (PackedInt8Matrix.HasIntegerDotProducts)
            {
                Assert.True(error is > 1e-6 and < 1e-2, $"output {k}: quantized activations move the output by {error:G3} (relative RMS)");
            }
            else
            {
                Assert.Equal(fromPlain[k].As<float>().Data, q);
            }
        }
    }
}
