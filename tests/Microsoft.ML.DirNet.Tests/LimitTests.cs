using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Sequence lengths of 1 and 10,000 steps and batches of 1 and 256 match ONNX Runtime, for every cell type, dense and
/// with compressed weights (whose batched kernels take steps × batch rows at once). Hidden sizes that are not
/// multiples of the SIMD width are <see cref="OddSizeTests"/>.
/// </summary>
public sealed class LimitTests
{
    public static IEnumerable<object[]> Cases() =>
        from cell in new[] { RecurrentCellType.Lstm, RecurrentCellType.Gru, RecurrentCellType.Rnn }
        from shape in new[] { (Steps: 1, Batch: 1), (Steps: 10_000, Batch: 1), (Steps: 3, Batch: 256), (Steps: 1, Batch: 256) }
        from compressed in new[] { false, true }
        select new object[] { cell, shape.Steps, shape.Batch, compressed };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntime(RecurrentCellType cell, int steps, int batch, bool compressed)
    {
        var model = SyntheticRecurrentModel.Create(cell, layers: 2, inputSize: 13, hiddenSize: 17, seed: steps + batch);
        if (compressed)
        {
            model = RnnCompressor.Compress(model, new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = CompressionMethod.Hmd, Ratio = 2, Scope = CompressionScope.Recurrent }).ToCompressedModel();
        }

        var inputs = RandomInputs.Create(model, batch, steps, seed: 3);
        var native = new NativeModel(model).Run(inputs);
        using var ort = new OnnxRuntimeModel(model);
        var reference = ort.Run(inputs);
        Assert.Equal([steps, batch, 17], native[0].Shape);
        for (var k = 0; k < native.Length; k++)
        {
            Assert.True(TensorComparer.AreClose(native[k], reference[k]),
                $"output {k}: max |diff| {TensorComparer.MaxAbsoluteDifference(native[k], reference[k])}");
        }
    }
}
