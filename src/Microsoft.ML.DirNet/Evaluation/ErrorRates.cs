namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>Character and word error rates summed over a set: edit distance over reference length, in total.</summary>
/// <param name="CharacterErrors">Σ character edit distance.</param>
/// <param name="Characters">Σ reference characters.</param>
/// <param name="WordErrors">Σ word edit distance (words split on spaces).</param>
/// <param name="Words">Σ reference words.</param>
public sealed record ErrorRates(long CharacterErrors, long Characters, long WordErrors, long Words)
{
    /// <summary>Character error rate.</summary>
    public double Cer => (double)CharacterErrors / Math.Max(Characters, 1);

    /// <summary>Word error rate.</summary>
    public double Wer => (double)WordErrors / Math.Max(Words, 1);

    /// <summary>Scores hypotheses against references, pairwise.</summary>
    public static ErrorRates Score(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses)
    {
        if (references.Count != hypotheses.Count)
        {
            throw new ArgumentException($"{references.Count} references but {hypotheses.Count} hypotheses.");
        }

        long characterErrors = 0, characters = 0, wordErrors = 0, words = 0;
        for (var i = 0; i < references.Count; i++)
        {
            characterErrors += EditDistance(references[i].ToCharArray(), hypotheses[i].ToCharArray());
            characters += references[i].Length;
            var referenceWords = references[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            wordErrors += EditDistance(referenceWords, hypotheses[i].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            words += referenceWords.Length;
        }

        return new ErrorRates(characterErrors, characters, wordErrors, words);
    }

    /// <summary>Levenshtein distance (unit cost insertions, deletions and substitutions).</summary>
    public static int EditDistance<T>(IReadOnlyList<T> a, IReadOnlyList<T> b)
    {
        var previous = Enumerable.Range(0, b.Count + 1).ToArray();
        var current = new int[b.Count + 1];
        var comparer = EqualityComparer<T>.Default;
        for (var i = 1; i <= a.Count; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Count; j++)
            {
                current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + (comparer.Equals(a[i - 1], b[j - 1]) ? 0 : 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Count];
    }
}
