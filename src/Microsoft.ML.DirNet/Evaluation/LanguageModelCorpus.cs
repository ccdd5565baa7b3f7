using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>
/// A PTB-style word corpus as token ids: a vocabulary file (one word per line, id = line number, with <c>&lt;unk&gt;</c>
/// and <c>&lt;eos&gt;</c>) and a split (space-separated tokens, one sentence per line; <c>&lt;eos&gt;</c> is appended to
/// each line and unknown words map to <c>&lt;unk&gt;</c>).
/// </summary>
public static class LanguageModelCorpus
{
    /// <summary>Reads <c>vocab.txt</c> and a split file from <paramref name="directory"/> and returns the token ids.</summary>
    /// <param name="directory">The folder holding <c>vocab.txt</c> and the split.</param>
    /// <param name="split">The split's file name, e.g. <c>test.txt</c>.</param>
    public static long[] ReadIds(string directory, string split = "test.txt")
    {
        var vocabularyPath = Path.Combine(directory, "vocab.txt");
        var splitPath = Path.Combine(directory, split);
        foreach (var path in new[] { vocabularyPath, splitPath })
        {
            if (!File.Exists(path))
            {
                throw new DirNetException($"The language-model data folder '{directory}' has no '{Path.GetFileName(path)}'.");
            }
        }

        var vocabulary = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var word in SafeFile.ReadAllLines(vocabularyPath))
        {
            if (!vocabulary.TryAdd(word, vocabulary.Count))
            {
                throw new DirNetException($"'{vocabularyPath}' lists '{word}' twice (line {vocabulary.Count + 1}).");
            }
        }

        if (!vocabulary.TryGetValue("<unk>", out var unknown) || !vocabulary.TryGetValue("<eos>", out var endOfSentence))
        {
            throw new DirNetException($"'{vocabularyPath}' must contain <unk> and <eos>.");
        }

        var ids = new List<long>();
        foreach (var line in SafeFile.ReadAllLines(splitPath))
        {
            foreach (var token in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                ids.Add(vocabulary.GetValueOrDefault(token, unknown));
            }

            ids.Add(endOfSentence);
        }

        return ids.ToArray();
    }
}
