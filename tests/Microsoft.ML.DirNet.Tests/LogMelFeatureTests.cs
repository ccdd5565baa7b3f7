using System.Text.Json;
using Microsoft.ML.DirNet.Evaluation;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The C# features equal the training script's on the committed examples (samples/Asr/data/feature_reference, made by
/// scripts/make_feature_reference.py with numpy): the filterbank, the log-mel energies and the normalised features.
/// </summary>
public sealed class LogMelFeatureTests
{
    private static readonly string Reference = Path.Combine(TestPaths.RepositoryRoot, "samples", "Asr", "data", "feature_reference");

    [Fact]
    public void FilterbankMatchesTheScript()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Reference, "reference.json")));
        var expected = json.RootElement.GetProperty("mel_filterbank");
        Assert.Equal(LogMelFeatures.Mels, expected.GetArrayLength());
        for (var m = 0; m < LogMelFeatures.Mels; m++)
        {
            var row = expected[m];
            Assert.Equal(129, row.GetArrayLength());
            for (var k = 0; k < 129; k++)
            {
                Assert.Equal(row[k].GetDouble(), LogMelFeatures.Filterbank[m, k], 1e-6);
            }
        }
    }

    [Fact]
    public void FeaturesMatchTheScriptOnEveryExample()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Reference, "reference.json")));
        var examples = json.RootElement.GetProperty("examples");
        Assert.Equal(3, examples.GetArrayLength());
        foreach (var example in examples.EnumerateArray())
        {
            var (samples, rate) = WaveFile.ReadPcm16Mono(Path.Combine(Reference, example.GetProperty("wav").GetString()!));
            Assert.Equal(LogMelFeatures.SampleRate, rate);
            Assert.Equal(example.GetProperty("samples").GetInt32(), samples.Length);

            var logMel = LogMelFeatures.ComputeLogMel(samples, out var frames);
            var features = LogMelFeatures.Compute(samples, out _);
            Assert.Equal(example.GetProperty("frames").GetInt32(), frames);
            var expectedLogMel = example.GetProperty("log_mel");
            var expectedFeatures = example.GetProperty("features");
            for (var t = 0; t < frames; t++)
            {
                for (var m = 0; m < LogMelFeatures.Mels; m++)
                {
                    Assert.Equal(expectedLogMel[t][m].GetDouble(), logMel[t * LogMelFeatures.Mels + m], 1e-4);
                    Assert.Equal(expectedFeatures[t][m].GetDouble(), features[t * LogMelFeatures.Mels + m], 1e-4);
                }
            }
        }
    }

    [Fact]
    public void NonWaveAndWrongFormatsAreRefused()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var path = Path.Combine(folder, "x.wav");
        File.WriteAllText(path, "not audio");
        Assert.Contains("RIFF", Assert.Throws<DirNetException>(() => WaveFile.ReadPcm16Mono(path)).Message);
    }
}
