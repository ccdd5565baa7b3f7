using System.Diagnostics;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.DirNet.Onnx;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Cancelling a compression leaves nothing behind: through a CancellationToken in the API (mid-way, from the progress
/// callback) and through Ctrl+C on the command line (exit code 130, no output or temporary file, the input's bytes and
/// timestamp unchanged).
/// </summary>
[Collection(nameof(CliCollection))]
public sealed class CancellationTests
{
    [Fact]
    public void TokenCancelledMidwayStopsTheCompression()
    {
        var model = OnnxModel.Load(Path.Combine(TestPaths.Fixtures, "lstm_2layer_bidirectional", "model.onnx"));
        using var cancel = new CancellationTokenSource();
        var reports = new List<CompressionProgress>();
        var progress = new SynchronousProgress(p =>
        {
            reports.Add(p);
            if (p.Stage == "build")
            {
                cancel.Cancel(); // the analysis is done, building has begun
            }
        });
        Assert.ThrowsAny<OperationCanceledException>(() =>
            RnnCompressor.Compress(model, new CompressionOptions { Method = CompressionMethod.DirNet, Ratio = 3 }, progress, cancel.Token));
        Assert.Contains(reports, r => r.Stage == "analyse");
        Assert.Equal(1, reports.Count(r => r.Stage == "build"));
    }

    [Theory]
    [InlineData(CompressionMethod.DirNet)]
    [InlineData(CompressionMethod.Hmd)]
    [InlineData(CompressionMethod.LowRank)]
    [InlineData(CompressionMethod.Prune)]
    [InlineData(CompressionMethod.Odl)]
    public void EstimatorFitStopsAtTheOptionsToken(CompressionMethod method)
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, 3).Select(i => new SpeechFrames { Features = new float[11 * 20] }));
        using var cancel = new CancellationTokenSource();
        var reports = 0;
        var options = new RnnCompressionOptions
        {
            ModelFile = Path.Combine(TestPaths.Fixtures, "asr_bigru_ctc", "model.onnx"), ShapeDictionary = new Dictionary<string, int[]> { ["features"] = [1, 11, 20] },
            Method = method, TargetRatio = 4, CalibrationRows = 2, CancellationToken = cancel.Token,
            Progress = new SynchronousProgress(_ =>
            {
                reports++;
                cancel.Cancel(); // the first matrix (or, for ODL, the one shared plan) has begun
            }),
        };
        var estimator = mlContext.Transforms.CompressRnn(options);
        Assert.ThrowsAny<OperationCanceledException>(() => estimator.Fit(data));
        Assert.Equal(1, reports);
    }

    private sealed class SpeechFrames
    {
        [VectorType(11 * 20)]
        [ColumnName("features")]
        public float[] Features { get; set; } = [];
    }

    [Fact]
    public async Task CtrlCDuringCompressLeavesNoFileAndTheInputUntouched()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var input = Path.Combine(folder, "model.onnx");
        File.Copy(Path.Combine(TestPaths.RepositoryRoot, "samples", "Asr", "model.onnx"), input);
        var written = File.GetLastWriteTimeUtc(input);
        var bytes = await File.ReadAllBytesAsync(input);
        var output = Path.Combine(folder, "compressed.onnx");

        // A shell starts the tool, interrupts it after 4 s (loaded and compressing; the whole compression takes ~25 s)
        // and passes on its exit code. `env --default-signal=INT`: a background job starts with SIGINT ignored.
        var tool = $"dotnet '{Path.Combine(AppContext.BaseDirectory, "dirnet.dll")}' compress '{input}' -o '{output}' --method dirnet --ratio 8 --scope recurrent --json";
        var script = $"env --default-signal=INT {tool} & pid=$!; sleep 4; kill -INT $pid; wait $pid";
        var start = new ProcessStartInfo("bash", ["-c", script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5)); // generous: CI also runs the suite without SIMD
        await process.WaitForExitAsync(timeout.Token);
        await stdout;
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}: {await stderr}");
        Assert.Equal([input], Directory.GetFiles(folder));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(input));
        Assert.Equal(written, File.GetLastWriteTimeUtc(input));
    }

    private sealed class SynchronousProgress(Action<CompressionProgress> report) : IProgress<CompressionProgress>
    {
        public void Report(CompressionProgress value) => report(value);
    }
}
