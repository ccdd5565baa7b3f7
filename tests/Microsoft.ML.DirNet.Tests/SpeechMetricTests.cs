using Microsoft.ML.DirNet.Evaluation;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>Greedy CTC decoding and error rates, defined as the speech sample's training script defines them.</summary>
public sealed class SpeechMetricTests
{
    [Fact]
    public void GreedyDecodingCollapsesRepeatsAndDropsBlanks()
    {
        var decoder = CtcGreedyDecoder.FromFile(Path.Combine(TestPaths.RepositoryRoot, "samples", "Asr", "data", "alphabet.txt"));
        Assert.Equal(29, decoder.Classes);
        // Frames' best classes: a a <blank> a <space> b b '  ->  "aa b'"  (a=3, space=1, b=4, apostrophe=2)
        int[] best = [3, 3, 0, 3, 1, 4, 4, 2];
        var logProbabilities = new float[best.Length * 29];
        Array.Fill(logProbabilities, -5f);
        for (var t = 0; t < best.Length; t++) logProbabilities[t * 29 + best[t]] = -0.1f;
        Assert.Equal("aa b'", decoder.Decode(logProbabilities, best.Length));
    }

    [Fact]
    public void ErrorRatesSumEditDistancesOverTheSet()
    {
        Assert.Equal(3, ErrorRates.EditDistance("kitten".ToCharArray(), "sitting".ToCharArray()));
        var rates = ErrorRates.Score(["the cat sat", "in the house"], ["the cat sad", "in house"]);
        Assert.Equal(1 + 4, rates.CharacterErrors);
        Assert.Equal(11 + 12, rates.Characters);
        Assert.Equal(1 + 1, rates.WordErrors);
        Assert.Equal(6, rates.Words);
        Assert.Equal(5.0 / 23, rates.Cer, 12);
        Assert.Equal(2.0 / 6, rates.Wer, 12);
    }
}
