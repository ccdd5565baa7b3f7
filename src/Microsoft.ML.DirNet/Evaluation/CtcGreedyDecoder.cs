using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>
/// Greedy CTC decoding over a character alphabet whose index 0 is the blank: the most probable class per frame (the
/// first one on ties, as numpy's argmax), repeats collapsed, blanks dropped.
/// </summary>
public sealed class CtcGreedyDecoder
{
    private readonly string[] _symbols;

    /// <summary>Creates a decoder from the alphabet's symbols in class order (index 0 is the blank).</summary>
    public CtcGreedyDecoder(IReadOnlyList<string> symbols)
    {
        if (symbols.Count < 2)
        {
            throw new DirNetException("A CTC alphabet needs the blank and at least one symbol.");
        }

        _symbols = symbols.ToArray();
    }

    /// <summary>The number of classes (blank included).</summary>
    public int Classes => _symbols.Length;

    /// <summary>
    /// Reads an alphabet file: one symbol per line in class order; the first line is the blank, and the line
    /// <c>&lt;space&gt;</c> stands for a space.
    /// </summary>
    public static CtcGreedyDecoder FromFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new DirNetException($"Alphabet file '{path}' does not exist.");
        }

        return new CtcGreedyDecoder(SafeFile.ReadAllLines(path).Where(l => l.Length > 0).Select(l => l == "<space>" ? " " : l).ToArray());
    }

    /// <summary>Decodes one utterance's log-probabilities [frames, classes] (row-major).</summary>
    public string Decode(ReadOnlySpan<float> logProbabilities, int frames)
    {
        if (logProbabilities.Length != frames * Classes)
        {
            throw new DirNetException($"Expected {frames} × {Classes} log-probabilities, got {logProbabilities.Length} values.");
        }

        var text = new System.Text.StringBuilder();
        var previous = -1;
        for (var t = 0; t < frames; t++)
        {
            var best = TensorPrimitives.IndexOfMax(logProbabilities.Slice(t * Classes, Classes));
            if (best != previous && best != 0)
            {
                text.Append(_symbols[best]);
            }

            previous = best;
        }

        return text.ToString();
    }
}
