using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>The recurrent step allocates nothing: a run's allocations grow only by its per-step output buffers.</summary>
public sealed class AllocationTests
{
    [Theory]
    [InlineData(RecurrentCellType.Lstm, 4)]
    [InlineData(RecurrentCellType.Gru, 3)]
    [InlineData(RecurrentCellType.Rnn, 1)]
    public void RecurrentStepsDoNotAllocate(RecurrentCellType cell, int gates)
    {
        // Hidden size 1 and batch 1 make the buffers that legitimately scale with the length tiny: per step, one
        // float of input (the test's own), one of Y and `gates` of the input projection.
        var model = SyntheticRecurrentModel.Create(cell, layers: 1, inputSize: 1, hiddenSize: 1, seed: 5);
        var native = new NativeModel(model);
        var shortInputs = RandomInputs.Create(model, batch: 1, steps: 10);
        var longInputs = RandomInputs.Create(model, batch: 1, steps: 1010);
        native.Run(shortInputs);
        native.Run(longInputs);

        long Measure(Tensors.Tensor[] inputs)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            native.Run(inputs);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        var perStep = (Measure(longInputs) - Measure(shortInputs)) / 1000.0;
        var buffers = (1 + gates) * sizeof(float);
        Assert.True(perStep <= buffers + 1, $"{perStep:F1} bytes allocated per step; the buffers account for {buffers}.");
    }
}
