using Microsoft.ML.Data;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// One loaded model serves many threads: thousands of concurrent requests on a native model (dense and compressed) and
/// on prediction engines made from one transformer give exactly the single-threaded results.
/// </summary>
public sealed class ConcurrencyTests
{
    private const int Requests = 2000;

    private static readonly string Fixture = Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear", "model.onnx");

    /// <summary>Request i: token ids of length 1-12 and random states, batch 1.</summary>
    private static Tensor[] Request(int i)
    {
        var random = new Random(i);
        var steps = 1 + i % 12;
        return
        [
            new Tensor<long>([steps, 1], Enumerable.Range(0, steps).Select(_ => (long)random.Next(50)).ToArray()),
            new Tensor<float>([2, 1, 16], Enumerable.Range(0, 32).Select(_ => (float)random.NextDouble()).ToArray()),
            new Tensor<float>([2, 1, 16], Enumerable.Range(0, 32).Select(_ => (float)random.NextDouble()).ToArray()),
        ];
    }

    public static IEnumerable<object[]> Models() => [["dense"], ["dirnet"], ["hmd"]];

    [Theory]
    [MemberData(nameof(Models))]
    public void ConcurrentRequestsOnOneModelMatchSequentialOnes(string form)
    {
        var original = OnnxModel.Load(Fixture);
        var model = form == "dense" ? original : RnnCompressor.Compress(original, new CompressionOptions
        {
            Method = form == "dirnet" ? CompressionMethod.DirNet : CompressionMethod.Hmd, Ratio = 2, Scope = CompressionScope.Model,
        }).ToCompressedModel();
        var native = new NativeModel(model);
        var expected = Enumerable.Range(0, Requests).Select(i => native.Run(Request(i))).ToArray();

        var fresh = new NativeModel(model); // no request has run on it yet: lazily made state is made under contention
        var results = new Tensor[Requests][];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Parallel.For(0, Requests, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => results[i] = fresh.Run(Request(i)));
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"{Requests} requests took {clock.Elapsed}");
        for (var i = 0; i < Requests; i++)
        {
            for (var k = 0; k < expected[i].Length; k++)
            {
                Assert.True(expected[i][k].As<float>().Data.SequenceEqual(results[i][k].As<float>().Data), $"{form}: request {i}, output {k} differs");
            }
        }
    }

    private sealed class Window
    {
        [ColumnName("ids")]
        public long[] Ids { get; set; } = [];

        [ColumnName("h0"), VectorType(2, 1, 16)]
        public float[] H0 { get; set; } = new float[32];

        [ColumnName("c0"), VectorType(2, 1, 16)]
        public float[] C0 { get; set; } = new float[32];
    }

    private sealed class Scores
    {
        [ColumnName("log_probs")]
        public float[] LogProbs { get; set; } = [];
    }

    [Fact]
    public void PredictionEnginesOnManyThreadsMatchOneThread()
    {
        var mlContext = new MLContext(seed: 1);
        var shapes = new Dictionary<string, int[]> { ["ids"] = [-1, 1], ["h0"] = [2, 1, 16], ["c0"] = [2, 1, 16] };
        var windows = Enumerable.Range(0, 400).Select(i =>
        {
            var request = Request(i);
            return new Window { Ids = request[0].As<long>().Data, H0 = request[1].As<float>().Data, C0 = request[2].As<float>().Data };
        }).ToArray();
        var transformer = mlContext.Transforms.CompressRnn(Fixture, CompressionMethod.LowRank, 3, shapes).Fit(mlContext.Data.LoadFromEnumerable(windows[..4]));
        var single = mlContext.Model.CreatePredictionEngine<Window, Scores>(transformer);
        var expected = windows.Select(w => single.Predict(w).LogProbs).ToArray();

        var results = new float[windows.Length][];
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, worker =>
        {
            var engine = mlContext.Model.CreatePredictionEngine<Window, Scores>(transformer); // one engine per thread, as ML.NET requires
            for (var i = worker; i < windows.Length; i += 8)
            {
                results[i] = engine.Predict(windows[i]).LogProbs;
            }
        });
        for (var i = 0; i < windows.Length; i++)
        {
            Assert.Equal(expected[i], results[i]);
        }
    }
}
