using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Sizes that are not multiples of any SIMD width exercise every remainder path of the packed and blocked kernels;
/// each must match ONNX Runtime.
/// </summary>
public sealed class OddSizeTests
{
    public static IEnumerable<object[]> Cases() =>
        from cell in new[] { RecurrentCellType.Lstm, RecurrentCellType.Gru, RecurrentCellType.Rnn }
        from hidden in new[] { 1, 3, 17, 33 }
        from batch in new[] { 1, 5 }
        select new object[] { cell, hidden, batch };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntime(RecurrentCellType cell, int hidden, int batch)
    {
        var model = SyntheticRecurrentModel.Create(cell, layers: 2, inputSize: 19, hiddenSize: hidden, seed: hidden * 10 + batch);
        var inputs = RandomInputs.Create(model, batch, steps: 6, seed: hidden);
        var native = new NativeModel(model).Run(inputs);
        using var ort = new OnnxRuntimeModel(model);
        var reference = ort.Run(inputs);
        Assert.Equal([6, batch, hidden], native[0].Shape);
        Assert.True(TensorComparer.AreClose(native[0], reference[0]),
            $"max |diff| {TensorComparer.MaxAbsoluteDifference(native[0], reference[0])}");
    }
}
