using System.Text;
using Microsoft.ML.DirNet.Runtime;
using Xunit.Abstractions;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The ONNX project's own operator conformance cases (../shared/onnx-node-tests): every case whose ops the engine
/// declares must pass at 1e-4 relative / 1e-5 absolute, and the few it refuses by design must fail with a clear error.
/// </summary>
public sealed class ConformanceTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> ClaimedCases() =>
        ConformanceCase.All().Where(c => c.Status == CaseStatus.Claimed).Select(c => new object[] { c.Name });

    public static IEnumerable<object[]> RefusedCases() =>
        ConformanceCase.All().Where(c => c.Status == CaseStatus.Refused).Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(ClaimedCases))]
    public void ClaimedCasePasses(string name)
    {
        var mismatch = Find(name).RunAndCompare();
        Assert.True(mismatch is null, $"{name}: {mismatch}");
    }

    [Theory]
    [MemberData(nameof(RefusedCases))]
    public void RefusedCaseFailsWithClearError(string name)
    {
        var error = Assert.ThrowsAny<DirNetException>(() => Find(name).RunAndCompare());
        output.WriteLine($"{name}: {error.Message}");
    }

    /// <summary>
    /// Runs the whole suite once more to print, per operator, how many cases ran and passed, so a skipped or failing
    /// case is visible in the log; also writes the table to conformance-summary.txt next to the test assembly.
    /// </summary>
    [Fact]
    public void SuiteSummary()
    {
        var cases = ConformanceCase.All();
        Assert.True(cases.Count > 0, $"No ONNX node tests found at {TestPaths.OnnxNodeTests}; the shared folder must sit beside the clone.");

        var rows = new SortedDictionary<string, (int Ran, int Passed, int Refused)>(StringComparer.Ordinal);
        var failures = new List<string>();
        var notClaimed = 0;
        foreach (var c in cases)
        {
            var status = c.Status;
            if (status == CaseStatus.NotClaimed)
            {
                notClaimed++;
                continue;
            }

            var row = rows.GetValueOrDefault(c.Operators);
            if (status == CaseStatus.Refused)
            {
                row.Refused++;
            }
            else
            {
                row.Ran++;
                string? mismatch;
                try
                {
                    mismatch = c.RunAndCompare();
                }
                catch (Exception e)
                {
                    mismatch = e.Message;
                }

                if (mismatch is null) row.Passed++;
                else failures.Add($"{c.Name}: {mismatch}");
            }

            rows[c.Operators] = row;
        }

        var text = new StringBuilder();
        text.AppendLine($"ONNX node tests at {TestPaths.OnnxNodeTests}: {cases.Count} cases; {notClaimed} use ops the engine does not declare.");
        text.AppendLine($"{"operator(s)",-28} {"ran",5} {"passed",7} {"refused*",9}");
        foreach (var (op, row) in rows)
        {
            text.AppendLine($"{op,-28} {row.Ran,5} {row.Passed,7} {row.Refused,9}");
        }

        text.AppendLine($"{"total",-28} {rows.Values.Sum(r => r.Ran),5} {rows.Values.Sum(r => r.Passed),7} {rows.Values.Sum(r => r.Refused),9}");
        text.AppendLine("* refused: string tensors, sequence/optional values, random training-mode dropout, or input data that contradicts "
            + "the declared shape; each is checked to fail with a clear error.");
        output.WriteLine(text.ToString());
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "conformance-summary.txt"), text.ToString());

        Assert.True(failures.Count == 0, "Failing conformance cases:\n" + string.Join("\n", failures));
        foreach (var required in new[] { "LSTM", "GRU", "RNN" })
        {
            Assert.True(rows.TryGetValue(required, out var r) && r.Ran > 0 && r.Passed == r.Ran, $"{required} cases must all run and pass.");
        }

        var recurrentNames = cases.Where(c => c.Name.StartsWith("test_lstm_") || c.Name.StartsWith("test_gru_")
            || c.Name == "test_rnn_seq_length" || c.Name.StartsWith("test_simple_rnn_")).ToArray();
        Assert.All(recurrentNames, c => Assert.Equal(CaseStatus.Claimed, c.Status));
    }

    private static ConformanceCase Find(string name) => ConformanceCase.All().Single(c => c.Name == name);
}
