using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Graphs large in nodes or in the memory their intermediate values take: a 100,000-node chain loads and runs,
/// intermediates are dropped once dead, and a run that would hold more than
/// <see cref="NativeModel.MemoryLimitBytes"/> stops with an error naming the node.
/// </summary>
public sealed class GraphScaleTests
{
    /// <summary>
    /// Reversed in the file, so the engine must sort it. The old wave-by-wave sort and the per-node copy of the value
    /// table in constant folding were quadratic: this did not finish in 120 s; it now takes about a second.
    /// </summary>
    [Fact]
    public void AHundredThousandNodeChainLoadsAndRuns()
    {
        var model = OnnxModel.Parse(Chain(100_000, reversed: true));
        Assert.Empty(WeightFinder.FindWeights(model));
        var output = new NativeModel(model).Run(new Tensor<float>([4], [-1f, 0f, 2f, -3f]));
        Assert.Equal([0f, 0f, 2f, 0f], output[0].As<float>().Data);
    }

    [Fact]
    public void ARunThatWouldHoldMoreThanTheLimitStopsNamingTheNode()
    {
        // Each Expand makes a 4 MB tensor that the next node reads and then drops, except the Concat at the end, which
        // keeps them all alive: 32 × 4 MB live at once against a limit of 64 MB.
        var model = OnnxModel.Parse(ExpandFan(constantSource: false));
        var x = new Tensor<float>([1], [1f]);

        var limited = new NativeModel(model) { MemoryLimitBytes = 64L << 20 };
        var error = Assert.Throws<ModelExecutionException>(() => limited.Run(x));
        Assert.Contains("expand_", error.Message);
        Assert.Contains("limit of 64 MB", error.Message);

        Assert.Equal([32 * 1024, 1024], new NativeModel(model).Run(x)[0].Shape);
    }

    /// <summary>
    /// DIRNET_MEMORY_LIMIT_MB caps every model the tool runs (in a child process: the variable is process-wide and
    /// other tests construct engines in parallel).
    /// </summary>
    [Fact]
    public async Task TheToolTakesItsMemoryLimitFromTheEnvironment()
    {
        var folder = TestPaths.NewTemporaryFolder();
        File.WriteAllBytes(Path.Combine(folder, "fan.onnx"), ExpandFan(constantSource: false));
        Directory.CreateDirectory(Path.Combine(folder, "data"));
        TensorFile.Write(Path.Combine(folder, "data", "input_0.pb"), new Tensor<float>([1], [1f]));

        var start = new System.Diagnostics.ProcessStartInfo("dotnet",
            [Path.Combine(AppContext.BaseDirectory, "dirnet.dll"), "run", Path.Combine(folder, "fan.onnx"), "--data", Path.Combine(folder, "data")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["DIRNET_MEMORY_LIMIT_MB"] = "32" },
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        var message = await stderr;
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("limit of 32 MB", message);
        Assert.Single(message.Trim().Split('\n'));
    }

    [Fact]
    public void ConstantFoldingKeepsWithinABudgetTiedToTheWeights()
    {
        // 32 Expands of a constant scalar into 4 MB each, joined: folding all of them would keep 128 MB (and a hostile
        // file can ask for far more); the budget of twice the initializers plus 64 MB folds about half, the rest runs
        // per call and the result is the same.
        var model = new NativeModel(OnnxModel.Parse(ExpandFan(constantSource: true)));

        var expandsPerRun = model.ExecutedNodes.Count(n => n.OpType == "Expand");
        Assert.InRange(expandsPerRun, 1, 31);
        var y = model.Run(new Tensor<float>([1], [0f]))[0].As<float>();
        Assert.Equal([32 * 1024, 1024], y.Shape);
        Assert.All(y.Data, v => Assert.Equal(3f, v));
    }

    [Fact]
    public void DeadIntermediatesAreDroppedDuringARun()
    {
        // A chain of 64 Expand → Relu pairs, each Expand 4 MB: the limit of 16 MB holds only if each value is dropped
        // once its reader has run.
        var graph = new GraphProto { Name = "expand_chain" };
        graph.Input.Add(FloatInput("x"));
        graph.Initializer.Add(new TensorProto { Name = "shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 2 }, Int64Data = { 1024, 1024 } });
        var previous = "x";
        for (var k = 0; k < 64; k++)
        {
            graph.Node.Add(new NodeProto { OpType = "Expand", Name = $"expand_{k}", Input = { previous, "shape" }, Output = { $"e{k}" } });
            graph.Node.Add(new NodeProto { OpType = "Relu", Name = $"relu_{k}", Input = { $"e{k}" }, Output = { $"r{k}" } });
            previous = $"r{k}";
        }

        graph.Output.Add(FloatInput(previous));
        var model = new NativeModel(OnnxModel.Parse(Serialize(graph))) { MemoryLimitBytes = 16L << 20 };
        Assert.Equal([1024, 1024], model.Run(new Tensor<float>([1], [2f]))[0].Shape);
    }

    /// <summary>
    /// 32 Expands of one value into [1024, 1024] floats (4 MB each), joined by a Concat that keeps them all alive. The
    /// value is the graph input x, or with <paramref name="constantSource"/> the initializer x = 3 (the input unused).
    /// </summary>
    private static byte[] ExpandFan(bool constantSource)
    {
        var graph = new GraphProto { Name = "expand_fan" };
        graph.Input.Add(FloatInput(constantSource ? "unused" : "x"));
        if (constantSource)
        {
            graph.Initializer.Add(new TensorProto { Name = "x", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 1 }, FloatData = { 3f } });
        }

        graph.Initializer.Add(new TensorProto { Name = "shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 2 }, Int64Data = { 1024, 1024 } });
        var concat = new NodeProto { OpType = "Concat", Name = "join", Output = { "y" } };
        concat.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        for (var k = 0; k < 32; k++)
        {
            graph.Node.Add(new NodeProto { OpType = "Expand", Name = $"expand_{k}", Input = { "x", "shape" }, Output = { $"e{k}" } });
            concat.Input.Add($"e{k}");
        }

        graph.Node.Add(concat);
        graph.Output.Add(FloatInput("y"));
        return Serialize(graph);
    }

    private static byte[] Chain(int length, bool reversed)
    {
        var graph = new GraphProto { Name = "chain" };
        graph.Input.Add(FloatInput("v0"));
        var nodes = Enumerable.Range(0, length).Select(k => new NodeProto { OpType = "Relu", Name = $"relu_{k}", Input = { $"v{k}" }, Output = { $"v{k + 1}" } });
        graph.Node.Add(reversed ? nodes.Reverse() : nodes);
        graph.Output.Add(FloatInput($"v{length}"));
        return Serialize(graph);
    }

    private static ValueInfoProto FloatInput(string name) =>
        new() { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorElementType.Float } } };

    private static byte[] Serialize(GraphProto graph)
    {
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 14 });
        return model.ToByteArray();
    }
}
