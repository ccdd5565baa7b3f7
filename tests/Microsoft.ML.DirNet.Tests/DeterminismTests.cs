using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The same input, options and seed give byte-identical compressed files: twice in this process, and in fresh
/// processes of the command-line tool limited to one and to two processors.
/// </summary>
[Collection(nameof(CliCollection))]
public sealed class DeterminismTests
{
    private static readonly string Fixture = Path.Combine(TestPaths.Fixtures, "asr_bigru_ctc", "model.onnx");

    public static IEnumerable<object[]> Methods() =>
    [
        ["dirnet", CompressionMethod.DirNet], ["hmd", CompressionMethod.Hmd], ["lowrank", CompressionMethod.LowRank],
        ["prune", CompressionMethod.Prune], ["odl", CompressionMethod.Odl],
    ];

    private static string Hash(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task CompressedFilesAreByteIdenticalAcrossRunsProcessesAndThreadCounts(string method, CompressionMethod value)
    {
        var options = new CompressionOptions { Method = value, Ratio = 2, Scope = CompressionScope.Recurrent, Seed = 7 };
        var first = Hash(RnnCompressor.Compress(OnnxModel.Load(Fixture), options).ToCompressedModel().ToBytes());
        var second = Hash(RnnCompressor.Compress(OnnxModel.Load(Fixture), options).ToCompressedModel().ToBytes());
        Assert.Equal(first, second);

        var folder = TestPaths.NewTemporaryFolder();
        foreach (var processors in new[] { 1, 2 })
        {
            var output = Path.Combine(folder, $"p{processors}.onnx");
            var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "dirnet.dll"), "compress", Fixture, "-o", output,
                "--method", method, "--ratio", "2", "--scope", "recurrent", "--seed", "7", "--json"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.Environment["DOTNET_PROCESSOR_COUNT"] = processors.ToString();
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            await process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, await stderr);
            Assert.Equal(first, Hash(File.ReadAllBytes(output)));
        }
    }
}
