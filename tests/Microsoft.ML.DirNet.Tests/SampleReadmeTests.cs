using System.Globalization;
using DirNetSamples;
using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The samples' READMEs show numbers the samples wrote (<c>--update-readme</c>): these tests recompute them with the
/// sample's own definitions (LanguageModelShowcase, SpeechShowcase) and fail when the committed block no longer matches
/// the code. Every case must have its row; the sizes and task metrics of every row but DirNet's (minutes to fit) are
/// recomputed, as is the demo line. Latency and fit time vary from run to run and are not checked. Metrics are
/// compared within their printed rounding and 0.1 % (other SIMD paths sum in another order).
/// </summary>
[Trait("Category", "SampleReadme")]
public sealed class SampleReadmeTests
{
    [Fact]
    public void LanguageModelReadmeMatchesTheCode() =>
        Check(LanguageModelShowcase.ReadmePath, LanguageModelShowcase.Showcase, LanguageModelShowcase.FitData,
            LanguageModelShowcase.Cases(), LanguageModelShowcase.DemoCase,
            (mlContext, model) => $"{LanguageModelShowcase.DemoCase}, next word after \"{LanguageModelShowcase.Prompt}\": {LanguageModelShowcase.NextWords(mlContext, model)}");

    [Fact]
    public void SpeechReadmeMatchesTheCode() =>
        Check(SpeechShowcase.ReadmePath, SpeechShowcase.Showcase, SpeechShowcase.FitData, SpeechShowcase.Cases(), SpeechShowcase.DemoCase,
            (mlContext, model) => $"{SpeechShowcase.DemoCase} on {SpeechShowcase.Transcription(mlContext, model)}");

    private static void Check(string readme, Func<MLContext, string?, CompressionShowcase> showcaseOf, Func<MLContext, IDataView> fitDataOf,
        IEnumerable<(string Label, RnnCompressionOptions Options)> cases, string demoCase, Func<MLContext, ITransformer, string> demoOf)
    {
        var block = ReadmeResults.Block(readme);
        var rowsInReadme = ReadmeResults.Table(block);
        var caseList = cases.ToArray();
        Assert.Equal(["original", .. caseList.Select(c => c.Label)], rowsInReadme.Select(row => row["model"]));
        var table = rowsInReadme.ToDictionary(row => row["model"]);

        var output = Directory.CreateTempSubdirectory("dirnet-readme-");
        try
        {
            var mlContext = new MLContext(seed: 0);
            var showcase = showcaseOf(mlContext, output.FullName);
            var fitData = fitDataOf(mlContext);
            var rows = new List<ShowcaseRow>();
            ITransformer? demoModel = null;
            long recurrentBytes = 0;
            foreach (var (label, options) in caseList.Where(c => c.Options.Method != CompressionMethod.DirNet))
            {
                rows.Add(showcase.Measure(label, options, fitData, out var transformer));
                recurrentBytes = transformer.Report.BytesBefore;
                if (label == demoCase)
                {
                    demoModel = transformer;
                }
            }

            var original = showcase.MeasureOriginal(recurrentBytes);
            var columns = showcase.Columns();
            foreach (var row in rows.Prepend(original))
            {
                var cells = showcase.Cells(row, original);
                for (var c = 0; c < columns.Count; c++)
                {
                    if (!columns[c].Timed)
                    {
                        var where = $"{Path.GetFileName(Path.GetDirectoryName(readme))} README, {row.Label}, {columns[c].Name}";
                        var exact = c == 0 || columns[c].Name.EndsWith(" MB", StringComparison.Ordinal);
                        AssertCell(table[row.Label][columns[c].Name], cells[c], exact, where);
                    }
                }
            }

            Assert.NotNull(demoModel);
            Assert.Contains(demoOf(mlContext, demoModel), block.Split('\n'));
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    /// <summary>
    /// <paramref name="exact"/> cells (labels, sizes from byte counts) and blanks must be equal; metrics within their
    /// printed rounding and 0.1 % (changes: 0.1 percentage points).
    /// </summary>
    private static void AssertCell(string committed, string computed, bool exact, string where)
    {
        static string Number(string cell) => cell.Replace(" %", "").Replace("+", "");
        if (exact || !computed.Any(char.IsDigit))
        {
            Assert.True(committed == computed, $"{where}: the README says '{committed}', the code gives '{computed}'; rerun the sample with --update-readme");
            return;
        }

        var expected = double.Parse(Number(computed), CultureInfo.InvariantCulture);
        Assert.True(double.TryParse(Number(committed), CultureInfo.InvariantCulture, out var actual), $"{where}: '{committed}' is not a number");
        var decimals = Number(computed).Split('.').ElementAtOrDefault(1)?.Length ?? 0;
        var change = computed.EndsWith('%');
        var tolerance = 0.5 * Math.Pow(10, -decimals) + (change ? 0.1 : 1e-3 * Math.Abs(expected));
        Assert.True(Math.Abs(actual - expected) <= tolerance,
            $"{where}: the README says '{committed}', the code gives '{computed}'; rerun the sample with --update-readme");
    }
}
