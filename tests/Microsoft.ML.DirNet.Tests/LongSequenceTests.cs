using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Runtime.Kernels.Recurrent;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Sequences and batches whose buffers do not fit 32-bit offsets: the recurrent cells project the input in chunks of
/// steps when X·Wᵀ would exceed <see cref="RecurrentKernel.ProjectionBudget"/> (and still match ONNX Runtime), and
/// refuse with an error naming the node and the limit, before allocating, what one tensor cannot hold. Before this,
/// a 1,048,577-step LSTM of 1,024 units wrapped the projection's size and the packed kernels wrote past its end.
/// </summary>
public sealed class LongSequenceTests
{
    /// <summary>Shapes whose projection (steps × batch × gates × hidden floats) needs two or more chunks.</summary>
    public static IEnumerable<object[]> ChunkedCases() =>
    [
        ["LSTM", "forward", 70_000, 1, 64, false],
        ["LSTM", "bidirectional", 2_100, 64, 32, true],
        ["GRU", "reverse", 7_300, 16, 48, true],
        ["RNN", "reverse", 66_000, 2, 128, false],
    ];

    [Theory]
    [MemberData(nameof(ChunkedCases))]
    public void ChunkedInputProjectionMatchesOnnxRuntime(string op, string direction, int steps, int batch, int hidden, bool raggedLengths)
    {
        var directions = direction == "bidirectional" ? 2 : 1;
        Assert.True((long)steps * batch * Gates(op) * hidden > RecurrentKernel.ProjectionBudget, "the case must need more than one chunk");
        var (model, inputs) = Cell(op, direction, steps, batch, input: 5, hidden, raggedLengths, seed: steps);

        var native = new NativeModel(model).Run(inputs);
        using var ort = new OnnxRuntimeModel(model, optimize: false);
        var reference = ort.Run(inputs);
        Assert.Equal([steps, directions, batch, hidden], native[0].Shape);
        for (var k = 0; k < native.Length; k++)
        {
            Assert.True(TensorComparer.AreClose(native[k], reference[k]),
                $"output {k}: max |diff| {TensorComparer.MaxAbsoluteDifference(native[k], reference[k])}");
        }
    }

    /// <summary>
    /// The issue's case (a legitimate 1-layer LSTM, input 32, hidden 1,024, given 1,048,577 steps: Y alone is 4 GB) and
    /// crafted cells whose batch or length overflows the per-step buffers: each a clear error, never a crash.
    /// </summary>
    [Theory]
    [InlineData("LSTM", 1_048_577, 1, 32, 1_024, "output Y")]
    [InlineData("GRU", 1, 524_289, 1, 1_024, "output Y")]
    [InlineData("LSTM", 1, 131_073, 1, 1_024, "one step's gates")]
    [InlineData("RNN", 33_554_433, 1, 1, 16, "output Y")]
    public void SizesBeyondOneTensorAreRefusedCleanly(string op, int steps, int batch, int input, int hidden, string what)
    {
        var (model, inputs) = Cell(op, "forward", steps, batch, input, hidden, raggedLengths: false, seed: 1, sparseInput: true);
        var error = Assert.Throws<ModelExecutionException>(() => new NativeModel(model).Run(inputs));
        Assert.Contains("cell", error.Message);
        Assert.Contains(what, error.Message);
        Assert.Contains("limit for one tensor", error.Message);
    }

    private static int Gates(string op) => op switch { "LSTM" => 4, "GRU" => 3, _ => 1 };

    /// <summary>
    /// A single-node cell with small weights (so a long run stays contractive and both engines agree), random inputs,
    /// and optionally ragged sequence lengths. <paramref name="sparseInput"/> leaves X zero, for shapes that only need
    /// to reach the kernel.
    /// </summary>
    private static (OnnxModel Model, Tensor[] Inputs) Cell(string op, string direction, int steps, int batch, int input, int hidden,
        bool raggedLengths, int seed, bool sparseInput = false)
    {
        var gates = Gates(op);
        var directions = direction == "bidirectional" ? 2 : 1;
        var node = new NodeProto { OpType = op, Name = "cell" };
        node.Attribute.Add(new AttributeProto { Name = "hidden_size", Type = AttributeProto.Types.AttributeType.Int, I = hidden });
        node.Attribute.Add(new AttributeProto { Name = "direction", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(direction) });

        var random = new Random(seed);
        var scale = 1f / MathF.Sqrt(hidden);
        Tensor<float> Random(float range, params int[] shape) =>
            new(shape, Enumerable.Range(0, TensorShape.ElementCount(shape)).Select(_ => (float)(random.NextDouble() * 2 - 1) * range).ToArray());

        var x = sparseInput ? new Tensor<float>([steps, batch, input]) : Random(1f, steps, batch, input);
        var lengths = Enumerable.Range(0, batch).Select(b => raggedLengths ? random.Next(1, steps + 1) : steps).ToArray();
        if (raggedLengths)
        {
            lengths[0] = steps; // the longest sequence decides Y's extent in both engines
        }

        var inputs = new List<(string Name, Tensor Value)>
        {
            ("X", x),
            ("W", Random(scale, directions, gates * hidden, input)),
            ("R", Random(scale, directions, gates * hidden, hidden)),
            ("B", Random(0.1f, directions, 2 * gates * hidden)),
            ("sequence_lens", new Tensor<int>([batch], lengths)),
        };
        node.Input.Add(inputs.Select(i => i.Name));
        var outputs = new[] { "Y", "Y_h" };
        node.Output.Add(outputs);
        return (SingleNodeModel.Build(node, inputs.Select(i => (i.Name, i.Value.ElementType)), outputs), inputs.Select(i => i.Value).ToArray());
    }
}
