using Google.Protobuf;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Kernels that keep what they made for one run for the next (a constant weight packed once, as streaming calls repeat
/// their weights; nothing kept from a caller's arrays): the same model run again and again, with its inputs and weights changing between runs,
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

    /// <summary>
    /// A caller that refills the same input arrays between runs (a streaming loop reusing its buffers) gets the new
    /// values' result on every run: weights that arrive as graph inputs are the same arrays each run but not constants,
    /// so nothing packed from them may be kept. Each op whose kernel packs its weight: MatMul (few rows and many), Gemm
    /// with transB, LSTM's W and R, and Conv on few positions.
    /// </summary>
    [Theory]
    [InlineData("MatMul", 1)]
    [InlineData("MatMul", 20)]
    [InlineData("Gemm", 3)]
    [InlineData("LSTM", 4)]
    [InlineData("Conv", 1)]
    public void RefilledInputArraysAreReadAfreshOnEveryRun(string op, int rows)
    {
        var random = new Random(rows);
        var (node, shapes) = op switch
        {
            "MatMul" => (new NodeProto { OpType = op, Input = { "X", "B" }, Output = { "Y" } }, new[] { new[] { rows, 19 }, [19, 37] }),
            "Gemm" => (new NodeProto { OpType = op, Input = { "X", "B" }, Output = { "Y" }, Attribute = { new AttributeProto { Name = "transB", I = 1, Type = AttributeProto.Types.AttributeType.Int } } },
                new[] { new[] { rows, 19 }, [37, 19] }),
            "LSTM" => (new NodeProto { OpType = op, Input = { "X", "B" , "R" }, Output = { "Y" }, Attribute = { new AttributeProto { Name = "hidden_size", I = 8, Type = AttributeProto.Types.AttributeType.Int } } },
                new[] { new[] { rows, 1, 5 }, [1, 32, 5], [1, 32, 8] }),
            _ => (new NodeProto { OpType = op, Input = { "X", "B" }, Output = { "Y" } }, new[] { new[] { 1, 6, 4 }, [9, 6, 4] }),
        };
        node.Name = "node";
        var names = new[] { "X", "B", "R" }[..shapes.Length];
        var model = SingleNodeModel.Build(node, names.Select(n => (n, TensorElementType.Float)), ["Y"]);
        var tensors = shapes.Select(shape => new Tensor<float>(shape)).ToArray();
        var native = new NativeModel(model);
        using var ort = new OnnxRuntimeModel(model, optimize: false);
        for (var run = 0; run < 4; run++)
        {
            foreach (var tensor in tensors)
            {
                for (var i = 0; i < tensor.Data.Length; i++)
                {
                    tensor.Data[i] = (float)(random.NextDouble() * 2 - 1);
                }
            }

            var (actual, expected) = (native.Run(tensors)[0], ort.Run(tensors)[0]);
            Assert.True(TensorComparer.AreClose(actual, expected), $"{op}, {rows} rows, run {run}: native {actual} vs ONNX Runtime {expected}");
        }
    }

    /// <summary>
    /// Large intermediates come from the run's arena and go back to it once no value holds them: run again, the model
    /// reuses them and still matches ONNX Runtime, and what an earlier run returned (an output that is a view of an
    /// intermediate included) is never written by a later run.
    /// </summary>
    [Fact]
    public void ArenaArraysNeverReachTheCallersOutputsAndRunsStillMatchOnnxRuntime()
    {
        const int length = 20_000; // above ArrayArena.MinimumLength
        var graph = new GraphProto { Name = "arena" };
        graph.Node.Add(new NodeProto { OpType = "Add", Input = { "X", "X" }, Output = { "T" } });
        graph.Node.Add(new NodeProto { OpType = "Reshape", Input = { "T", "shape" }, Output = { "Y" } });
        graph.Node.Add(new NodeProto { OpType = "Mul", Input = { "X", "X" }, Output = { "V" } });
        graph.Node.Add(new NodeProto { OpType = "Add", Input = { "V", "T" }, Output = { "Z" } });
        var shape = new TensorProto { Name = "shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 2 } };
        shape.Int64Data.Add([100, 200]);
        graph.Initializer.Add(shape);
        graph.Input.Add(FloatValue("X"));
        graph.Output.Add(FloatValue("Y"));
        graph.Output.Add(FloatValue("Z"));
        var model = Parse(graph);
        var random = new Random(3);
        Tensor<float> Random() => new([length], Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray());

        var native = new NativeModel(model);
        using var ort = new OnnxRuntimeModel(model, optimize: false);
        var earlier = new List<(Tensor Output, float[] Copy)>();
        for (var run = 0; run < 4; run++)
        {
            var x = Random();
            var (actual, expected) = (native.Run(x), ort.Run([x]));
            for (var k = 0; k < 2; k++)
            {
                Assert.True(TensorComparer.AreClose(actual[k], expected[k]), $"run {run}, output {k}: native {actual[k]} vs ONNX Runtime {expected[k]}");
                earlier.Add((actual[k], actual[k].As<float>().Data.ToArray()));
            }

            Assert.All(earlier, e => Assert.Equal(e.Copy, e.Output.As<float>().Data));
        }
    }

    /// <summary>
    /// A weight computed in the run (from the arena) is not a model's constant, so the kernel packs it per call and keeps
    /// nothing of it: when its array goes back to the arena and holds the next run's weight, computed from other values,
    /// that weight is packed afresh rather than read from a stale copy.
    /// </summary>
    [Fact]
    public void AComputedWeightThatIsPackedIsNotRecycledIntoTheNextRunsWeight()
    {
        const int inner = 128, outer = 160; // B of 20,480 floats comes from the arena
        var graph = new GraphProto { Name = "computed_weight" };
        graph.Node.Add(new NodeProto { OpType = "Add", Input = { "Bin", "Bin" }, Output = { "B" } });
        graph.Node.Add(new NodeProto { OpType = "MatMul", Input = { "X", "B" }, Output = { "Y" } });
        graph.Input.Add(FloatValue("X"));
        graph.Input.Add(FloatValue("Bin"));
        graph.Output.Add(FloatValue("Y"));
        var model = Parse(graph);
        var random = new Random(4);
        Tensor<float> Random(params int[] shape) =>
            new(shape, Enumerable.Range(0, TensorShape.ElementCount(shape)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray());

        var native = new NativeModel(model);
        using var ort = new OnnxRuntimeModel(model, optimize: false);
        for (var run = 0; run < 4; run++)
        {
            var inputs = new[] { Random(1, inner), Random(inner, outer) };
            var (actual, expected) = (native.Run(inputs)[0], ort.Run(inputs)[0]);
            Assert.True(TensorComparer.AreClose(actual, expected), $"run {run}: native {actual} vs ONNX Runtime {expected}");
        }
    }

    /// <summary>
    /// A subgraph's view of an enclosing graph's array counts as one more holder of it: an If branch that reshapes the
    /// outer value A and drops its view does not hand A's array back while the outer graph still reads A after the If.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ASubgraphsViewOfAnOuterValueDoesNotGiveItsArrayBack(bool condition)
    {
        const int length = 20_000;
        GraphProto Branch(string name, string op)
        {
            var branch = new GraphProto { Name = name };
            branch.Node.Add(new NodeProto { OpType = "Reshape", Input = { "A", "flat" }, Output = { $"{name}_view" } });
            branch.Node.Add(new NodeProto { OpType = op, Input = { $"{name}_view", $"{name}_view" }, Output = { $"{name}_out" } });
            branch.Output.Add(FloatValue($"{name}_out"));
            return branch;
        }

        var graph = new GraphProto { Name = "outer_view" };
        graph.Node.Add(new NodeProto { OpType = "Add", Input = { "X", "X" }, Output = { "A" } });
        var choose = new NodeProto { OpType = "If", Input = { "cond" }, Output = { "U" } };
        choose.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = Branch("then", "Mul") });
        choose.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = Branch("else", "Add") });
        graph.Node.Add(choose);
        graph.Node.Add(new NodeProto { OpType = "Sub", Input = { "A", "U" }, Output = { "Z" } });
        var flat = new TensorProto { Name = "flat", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 } };
        flat.Int64Data.Add(length);
        graph.Initializer.Add(flat);
        graph.Input.Add(FloatValue("X"));
        graph.Input.Add(new ValueInfoProto { Name = "cond", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Bool } } });
        graph.Output.Add(FloatValue("Z"));
        var model = Parse(graph);
        var random = new Random(5);
        var native = new NativeModel(model);
        using var ort = new OnnxRuntimeModel(model, optimize: false);
        for (var run = 0; run < 3; run++)
        {
            var inputs = new Tensor[] { new Tensor<float>([length], Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()), new Tensor<bool>([], [condition]) };
            var (actual, expected) = (native.Run(inputs)[0], ort.Run(inputs)[0]);
            Assert.True(TensorComparer.AreClose(actual, expected), $"run {run}: native {actual} vs ONNX Runtime {expected}");
        }
    }

    private static ValueInfoProto FloatValue(string name) =>
        new() { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } };

    private static OnnxModel Parse(GraphProto graph)
    {
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 16 });
        return OnnxModel.Parse(model.ToByteArray(), $"{graph.Name}.onnx");
    }
}
