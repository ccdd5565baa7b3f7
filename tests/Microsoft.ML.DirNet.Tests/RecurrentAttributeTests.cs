using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The LSTM/GRU/RNN attributes and optional inputs the ONNX conformance cases leave out (reverse and bidirectional
/// runs over ragged sequence_lens, clip, non-default activations with alpha/beta, input_forget, layout 1, GRU without
/// linear_before_reset), each checked against ONNX Runtime on a single-node model. ONNX Runtime refuses layout 1, so
/// there the reference is the same node with layout 0 on transposed inputs, its outputs transposed back.
/// </summary>
public sealed class RecurrentAttributeTests
{
    private const int Steps = 5, Batch = 3, Input = 4, Hidden = 6;

    public static IEnumerable<object[]> Cases() =>
    [
        ["LSTM", "reverse", 0, true, "", null!, 0],
        ["LSTM", "bidirectional", 0, true, "", null!, 0],
        ["LSTM", "forward", 0, true, "clip", null!, 0],
        ["LSTM", "bidirectional", 0, false, "activations", new[] { "HardSigmoid", "LeakyRelu", "Softsign", "HardSigmoid", "Affine", "Elu" }, 0],
        ["LSTM", "forward", 0, true, "input_forget", null!, 0],
        ["LSTM", "bidirectional", 1, false, "", null!, 0],
        ["GRU", "bidirectional", 0, true, "", null!, 0],
        ["GRU", "reverse", 0, true, "", null!, 1],
        ["GRU", "forward", 0, false, "activations", new[] { "Softsign", "ScaledTanh" }, 0],
        ["GRU", "forward", 1, true, "clip", null!, 1],
        ["RNN", "bidirectional", 0, true, "activations", new[] { "Relu", "ThresholdedRelu" }, 0],
        ["RNN", "reverse", 1, true, "", null!, 0],
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntime(string op, string direction, int layout, bool raggedLengths, string feature, string[]? activations, int linearBeforeReset)
    {
        var gates = op switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
        var directions = direction == "bidirectional" ? 2 : 1;
        var node = new NodeProto { OpType = op, Name = "cell" };
        node.Attribute.Add(Int("hidden_size", Hidden));
        node.Attribute.Add(new AttributeProto { Name = "direction", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(direction) });
        if (layout != 0) node.Attribute.Add(Int("layout", layout));
        if (op == "GRU") node.Attribute.Add(Int("linear_before_reset", linearBeforeReset));
        if (feature == "clip") node.Attribute.Add(new AttributeProto { Name = "clip", Type = AttributeProto.Types.AttributeType.Float, F = 0.7f });
        if (feature == "input_forget") node.Attribute.Add(Int("input_forget", 1));
        if (activations is not null)
        {
            var names = new AttributeProto { Name = "activations", Type = AttributeProto.Types.AttributeType.Strings };
            names.Strings.Add(activations.Select(ByteString.CopyFromUtf8));
            node.Attribute.Add(names);
            var alphas = new AttributeProto { Name = "activation_alpha", Type = AttributeProto.Types.AttributeType.Floats };
            alphas.Floats.Add([0.3f, 0.2f, 0.9f, 0.5f]);
            node.Attribute.Add(alphas);
            var betas = new AttributeProto { Name = "activation_beta", Type = AttributeProto.Types.AttributeType.Floats };
            betas.Floats.Add([0.4f, 0.1f]);
            node.Attribute.Add(betas);
        }

        var random = new Random(op.Length * 100 + directions * 10 + layout);
        Tensor<float> Random(params int[] shape) =>
            new(shape, Enumerable.Range(0, TensorShape.ElementCount(shape)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray());

        var state = layout == 0 ? new[] { directions, Batch, Hidden } : [Batch, directions, Hidden];
        var inputs = new List<(string Name, Tensor Value)>
        {
            ("X", Random(layout == 0 ? [Steps, Batch, Input] : [Batch, Steps, Input])),
            ("W", Random(directions, gates * Hidden, Input)),
            ("R", Random(directions, gates * Hidden, Hidden)),
            ("B", Random(directions, 2 * gates * Hidden)),
            ("sequence_lens", new Tensor<int>([Batch], raggedLengths ? [5, 2, 4] : [Steps, Steps, Steps])),
            ("initial_h", Random(state)),
        };
        if (op == "LSTM")
        {
            inputs.Add(("initial_c", Random(state)));
            inputs.Add(("P", Random(directions, 3 * Hidden)));
        }

        node.Input.Add(inputs.Select(i => i.Name));
        var outputs = op == "LSTM" ? new[] { "Y", "Y_h", "Y_c" } : ["Y", "Y_h"];
        node.Output.Add(outputs);
        var model = SingleNodeModel.Build(node, inputs.Select(i => (i.Name, i.Value.ElementType)), outputs);

        var values = inputs.Select(i => i.Value).ToArray();
        var native = new NativeModel(model).Run(values);
        Tensor[] reference;
        if (layout == 0)
        {
            using var ort = new OnnxRuntimeModel(model, optimize: false);
            reference = ort.Run(values);
        }
        else
        {
            node.Attribute.Remove(node.Attribute.Single(a => a.Name == "layout"));
            using var ort = new OnnxRuntimeModel(SingleNodeModel.Build(node, inputs.Select(i => (i.Name, i.Value.ElementType)), outputs), optimize: false);
            // Batch-major → time-major: X [B,T,I] → [T,B,I]; states [B,D,H] → [D,B,H]; then Y [T,D,B,H] → [B,T,D,H].
            var timeMajor = inputs.Select(i => i.Name is "X" or "initial_h" or "initial_c" ? SwapFirstTwoAxes(i.Value) : i.Value).ToArray();
            var result = ort.Run(timeMajor);
            reference = result.Select((t, k) => k == 0 ? Permute(t, [2, 0, 1, 3]) : SwapFirstTwoAxes(t)).ToArray();
        }
        for (var k = 0; k < outputs.Length; k++)
        {
            Assert.True(TensorComparer.AreClose(native[k], reference[k]),
                $"{outputs[k]}: native {native[k]} vs ONNX Runtime {reference[k]}, max |diff| {TensorComparer.MaxAbsoluteDifference(native[k], reference[k])}");
        }
    }

    private static Tensor SwapFirstTwoAxes(Tensor t) => Permute(t, [1, 0, .. Enumerable.Range(2, t.Rank - 2)]);

    /// <summary>Output axis i is input axis perm[i] (as ONNX Transpose).</summary>
    private static Tensor Permute(Tensor t, int[] perm)
    {
        var strides = TensorShape.Strides(t.Shape);
        return Runtime.Kernels.StridedCopy.Copy(t, 0, perm.Select(p => strides[p]).ToArray(), perm.Select(p => t.Shape[p]).ToArray());
    }

    private static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
}
