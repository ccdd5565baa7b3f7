using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Benchmarking;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>Whole-model compression: the planner meets its target, refuses what it cannot do, and is deterministic.</summary>
public sealed class CompressionPlannerTests
{
    private static readonly OnnxModel Lstm = SyntheticRecurrentModel.Create(RecurrentCellType.Lstm, layers: 2, inputSize: 24, hiddenSize: 40, seed: 3);

    public static IEnumerable<object[]> Methods() =>
        from method in new[] { CompressionMethod.DirNet, CompressionMethod.Hmd, CompressionMethod.LowRank, CompressionMethod.Prune, CompressionMethod.Odl }
        from allocation in new[] { BudgetAllocation.ErrorPerByte, BudgetAllocation.EqualError, BudgetAllocation.Uniform }
        select new object[] { method, allocation };

    [Theory]
    [MemberData(nameof(Methods))]
    public void MeetsTheRequestedRatioWithinTwoPercent(CompressionMethod method, BudgetAllocation allocation)
    {
        foreach (var (scope, ratio) in new[] { (CompressionScope.Recurrent, 4.0), (CompressionScope.Model, 2.5) })
        {
            var result = RnnCompressor.Compress(Lstm, new CompressionOptions { Method = method, Ratio = ratio, Scope = scope, Allocation = allocation });
            Assert.InRange(result.AchievedRatio, ratio * 0.98, ratio * 1.02);
            Assert.Equal(4, result.Weights.Count);
            Assert.All(result.Weights, w => Assert.InRange(w.RelativeError, 0, 1.5));
            Assert.Equal(result.FileBytesBefore - result.MatrixBytesBefore + result.MatrixBytesAfter, result.FileBytesAfter);
        }
    }

    [Fact]
    public void RebuiltModelRunsAndStaysCloseToTheOriginalAtMildCompression()
    {
        var inputs = RandomInputs.Create(Lstm, batch: 2, steps: 5, seed: 1);
        var reference = new NativeModel(Lstm).Run(inputs)[0].As<float>().Data;
        var result = RnnCompressor.Compress(Lstm, new CompressionOptions { Method = CompressionMethod.LowRank, Ratio = 1.25, Scope = CompressionScope.Recurrent });
        var rebuilt = new NativeModel(result.ToDenseModel()).Run(inputs)[0].As<float>().Data;
        var error = RnnCompressor.RelativeError(reference, rebuilt);
        Assert.InRange(error, 1e-6, 0.5);
        // The source is untouched: its initializers still give the original outputs.
        Assert.Equal(reference, new NativeModel(Lstm).Run(inputs)[0].As<float>().Data);
    }

    [Fact]
    public void SameSeedGivesByteIdenticalOutputAndAnotherSeedDoesNot()
    {
        var options = new CompressionOptions { Method = CompressionMethod.DirNet, Ratio = 5, Scope = CompressionScope.Recurrent, Seed = 7 };
        var first = RnnCompressor.Compress(Lstm, options).ToDenseModel().ToBytes();
        var second = RnnCompressor.Compress(Lstm, options).ToDenseModel().ToBytes();
        var other = RnnCompressor.Compress(Lstm, options with { Seed = 8 }).ToDenseModel().ToBytes();
        Assert.Equal(first, second);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void ReportsProgressPerGroupAndStopsWhenCancelled()
    {
        var reports = new List<CompressionProgress>();
        RnnCompressor.Compress(Lstm, new CompressionOptions { Method = CompressionMethod.LowRank, Ratio = 2, Scope = CompressionScope.Recurrent },
            new SynchronousProgress(reports.Add));
        Assert.Equal(4, reports.Count(r => r.Stage == "analyse"));
        Assert.Contains(reports, r => r.Stage == "build" && r.Done == r.Total);

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => RnnCompressor.Compress(Lstm, new CompressionOptions { Ratio = 2 }, cancellationToken: cancelled.Token));
    }

    private sealed class SynchronousProgress(Action<CompressionProgress> report) : IProgress<CompressionProgress>
    {
        public void Report(CompressionProgress value) => report(value);
    }

    [Fact]
    public void UnreachableRatioSaysWhatIsReachable()
    {
        var error = Assert.Throws<DirNetException>(() => RnnCompressor.Compress(Lstm,
            new CompressionOptions { Method = CompressionMethod.LowRank, Ratio = 500, Scope = CompressionScope.Recurrent }));
        Assert.Contains("out of reach", error.Message);
        Assert.Matches("smallest it can make is ratio [0-9.]+", error.Message);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.5)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void RatioMustBeAboveOne(double ratio)
    {
        var error = Assert.Throws<DirNetException>(() => RnnCompressor.Compress(Lstm, new CompressionOptions { Ratio = ratio }));
        Assert.Contains("ratio", error.Message);
    }

    [Fact]
    public void NonFiniteWeightIsNamed()
    {
        var proto = Lstm.Proto.Clone();
        var r = proto.Graph.Node.First(n => n.OpType == "LSTM").Input[2];
        var model = OnnxModel.Parse(Google.Protobuf.MessageExtensions.ToByteArray(proto), "nan.onnx");
        var values = (float[])model.Graph.GetInitializer(r).As<float>().Data.Clone();
        values[123] = float.NaN;
        model.ReplaceInitializer(r, new Tensor<float>(model.Graph.GetInitializer(r).Shape, values));

        var error = Assert.Throws<DirNetException>(() => RnnCompressor.Compress(model, new CompressionOptions { Ratio = 2 }));
        Assert.Contains($"'{r}'", error.Message);
        Assert.Contains("NaN", error.Message);
    }

    [Fact]
    public void ModelWithoutCompressibleMatricesIsRefused()
    {
        var proto = Lstm.Proto.Clone();
        foreach (var node in proto.Graph.Node.Where(n => n.OpType == "LSTM"))
        {
            node.OpType = "NotARecurrentOp";
        }

        var model = OnnxModel.Parse(Google.Protobuf.MessageExtensions.ToByteArray(proto), "plain.onnx");
        var error = Assert.Throws<DirNetException>(() => RnnCompressor.Compress(model, new CompressionOptions { Ratio = 2 }));
        Assert.Contains("plain.onnx has no compressible matrix", error.Message);
    }

    [Fact]
    public void DirNetSharesOneDictionaryBetweenLayerOnesRAndLayerTwosW()
    {
        var result = RnnCompressor.Compress(Lstm, new CompressionOptions { Ratio = 4, Scope = CompressionScope.Recurrent });
        var matrices = result.Weights.Select(w => w.Matrix).OfType<DictionaryMatrix>().ToArray();
        var r0 = result.Weights.Single(w => w.Weight.Role == Weights.WeightRole.RecurrentHidden && w.Weight.NodeName == result.Weights[0].Weight.NodeName).Matrix;
        var w1 = result.Weights.Single(w => w.Weight.Role == Weights.WeightRole.RecurrentInput && w.Weight.NodeName != result.Weights[0].Weight.NodeName).Matrix;
        if (r0 is DictionaryMatrix a && w1 is DictionaryMatrix b)
        {
            Assert.True(a.SharesDictionaryWith(b));
            Assert.NotEqual(a.OwnsDictionary, b.OwnsDictionary);
        }
        else
        {
            Assert.Fail($"expected dictionary matrices, got {r0.Method} and {w1.Method} ({matrices.Length} dictionaries)");
        }
    }
}
