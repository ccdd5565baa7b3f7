using System.Globalization;
using System.Text.Json;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The result tables in docs/results that <c>dirnet compare --markdown</c> wrote (each file names its command) must
/// still be what the code computes. Calibrated and structured rows take minutes to hours, so the fast ones stand
/// for each table: its uncalibrated quant and int8 rows, recomputed by one <c>compare</c> run on the same slice of
/// the test set (the language model's first 5,000 tokens, the first 100 utterances for speech), must give the
/// table's stored bytes exactly and its relative reconstruction error and metric within the printed rounding (and
/// 0.1 % for the metric, which moves that much between SIMD widths). A table with fewer than three such rows fails,
/// so a check cannot pass by finding nothing. Trait SampleReadme: run in the first test pass only, as the samples'
/// README checks are.
/// </summary>
[Trait("Category", "SampleReadme")]
public sealed class ResultTableTests
{
    [Fact]
    public void LanguageModelTablesMatchTheCode() => Check(
        ["lm-precision.md", "lm-frontier.md"], "perplexity",
        "compare", Path.Combine(TestPaths.RepositoryRoot, "samples", "LanguageModel", "model.onnx"), "--task", "lm",
        "--data", Path.Combine(TestPaths.RepositoryRoot, "samples", "LanguageModel", "data"), "--tokens", "5000");

    [Fact]
    public void SpeechTablesMatchTheCode() => Check(
        ["asr-frontier.md", "asr-frontier-7.md"], "cer",
        "compare", Path.Combine(TestPaths.RepositoryRoot, "samples", "Asr", "model.onnx"), "--task", "asr",
        "--data", Path.Combine(TestPaths.RepositoryRoot, "samples", "Asr", "data", "test"), "--utterances", "100");

    private static void Check(string[] files, string metric, params string[] command)
    {
        var (code, stdout, stderr) = CliTests.Dirnet([.. command, "--methods", "quant,int8", "--precisions", "int8,int4,int3", "--json", "--no-progress"]);
        Assert.True(code == 0, stderr);
        var computed = JsonDocument.Parse(stdout).RootElement.GetProperty("rows").EnumerateArray()
            .Where(r => !r.GetProperty("calibrated").GetBoolean() && r.GetProperty("method").GetString() is "quant" or "int8")
            .ToDictionary(r => $"{r.GetProperty("method").GetString()} {r.GetProperty("precision").GetString()}");
        foreach (var file in files)
        {
            var path = Path.Combine(TestPaths.RepositoryRoot, "docs", "results", file);
            var checkedRows = 0;
            foreach (var row in DirNetSamples.ReadmeResults.Tables(File.ReadAllText(path)).SelectMany(t => t).Where(r => r.TryGetValue("calibrated", out var c) && c == "no"))
            {
                if (!computed.TryGetValue($"{row["method"]} {row["precision"]}", out var now))
                {
                    continue; // a group size this run does not try (the frontier's): not recomputed here
                }

                var where = $"docs/results/{file}, {row["method"]} {row["precision"]}";
                Assert.True(long.Parse(row["bytes"], NumberStyles.AllowThousands, CultureInfo.InvariantCulture) == now.GetProperty("matrix_bytes").GetInt64(),
                    $"{where}: the table says {row["bytes"]} bytes, the code gives {now.GetProperty("matrix_bytes").GetInt64():N0}");
                AssertWithin(where, "rel. recon. error", row["rel. recon. error"], now.GetProperty("reconstruction_error").GetDouble(), 0);
                AssertWithin(where, metric, row[metric], now.GetProperty("metrics")[0].GetDouble(), 0.001);
                checkedRows++;
            }

            Assert.True(checkedRows >= 3, $"docs/results/{file}: only {checkedRows} uncalibrated quant or int8 rows were found to check");
        }
    }

    /// <summary>A printed cell against a value: equal to the cell's last digit (half a unit either way), and <paramref name="relative"/>.</summary>
    private static void AssertWithin(string where, string column, string cell, double value, double relative)
    {
        var printed = double.Parse(cell, CultureInfo.InvariantCulture);
        var decimals = cell.Contains('.') ? cell.Length - cell.IndexOf('.') - 1 : 0;
        var tolerance = 0.5 * Math.Pow(10, -decimals) + relative * Math.Abs(value) + 1e-12;
        Assert.True(Math.Abs(printed - value) <= tolerance, $"{where}, {column}: the table says '{cell}', the code gives {value.ToString($"F{decimals}", CultureInfo.InvariantCulture)}");
    }
}
