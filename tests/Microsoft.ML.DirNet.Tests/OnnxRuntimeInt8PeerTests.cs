using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Xunit.Abstractions;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The ONNX Runtime int8 peer (<see cref="OnnxRuntimeInt8Peer"/>): LSTMs as DynamicQuantizeLSTM and MatMuls as
/// DynamicQuantizeMatMul, which ONNX Runtime loads and runs close to the float model (int8 weights per output row and
/// activations quantized per call); the input model is left as it was.
/// </summary>
public sealed class OnnxRuntimeInt8PeerTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Models() =>
    [
        ["lm_embedding_lstm_linear", 2, 1],
        ["lstm_2layer_bidirectional", 2, 0],
        ["lstm_1layer", 1, 0],
    ];

    [Theory]
    [MemberData(nameof(Models))]
    public void ThePeerRunsInOnnxRuntimeCloseToTheFloatModel(string fixture, int lstms, int matMuls)
    {
        var path = Path.Combine(TestPaths.Fixtures, fixture, "model.onnx");
        var model = OnnxModel.Load(path);
        var before = model.ToBytes();
        var (peer, quantizedLstms, quantizedMatMuls) = OnnxRuntimeInt8Peer.Write(model);
        Assert.Equal(before, model.ToBytes());
        Assert.Equal((lstms, matMuls), (quantizedLstms, quantizedMatMuls));
        Assert.DoesNotContain(peer.Graph.Nodes, n => n.OpType is "LSTM" or "MatMul");
        // The float weights went with the nodes that read them: the peer holds int8 ones instead.
        Assert.True(peer.ToBytes().Length < before.Length * 0.6, $"the peer takes {peer.ToBytes().Length:N0} bytes against {before.Length:N0}");

        var inputs = RandomInputs.Create(model, batch: 2, steps: 5, seed: 3);
        using var reference = new OnnxRuntimeModel(model);
        using var quantized = new OnnxRuntimeModel(peer);
        var (expected, actual) = (reference.Run(inputs), quantized.Run(inputs));
        for (var k = 0; k < expected.Length; k++)
        {
            var (e, a) = (expected[k].As<float>().Data, actual[k].As<float>().Data);
            var error = Compression.RnnCompressor.RelativeError(e, a);
            output.WriteLine($"{fixture} output {k}: relative RMS error of the int8 peer {error:G3}");
            // int8 weights and per-call int8 activations: a few tenths of a percent to a percent or two of error.
            Assert.True(error is > 1e-5 and < 0.03, $"{fixture} output {k}: the peer's relative RMS error is {error:G3}");
        }
    }

    [Fact]
    public void AModelWithoutLstmOrMatMulWeightsIsRefusedByName()
    {
        var model = OnnxModel.Load(Path.Combine(TestPaths.Fixtures, "gru_1layer", "model.onnx"));
        var error = Assert.Throws<DirNetException>(() => OnnxRuntimeInt8Peer.Write(model));
        Assert.Contains("no LSTM or MatMul", error.Message);
    }
}
