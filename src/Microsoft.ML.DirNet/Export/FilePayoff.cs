using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML.DirNet.Export;

/// <summary>
/// Keeps dense what compressing does not pay for in the file. A matrix's stored bytes, which the plan counts, are not
/// all it costs: the written file also holds the nodes and constants that rebuild it and its metadata entry, a few
/// hundred bytes, which outweigh what a small matrix saves (models with many tiny GRUs grew when compressed). So every
/// initializer whose compressed form takes at least the file bytes of its dense tensor is kept dense, matrices that
/// share a dictionary as one decision; and a result that would still make the file no smaller is refused.
/// </summary>
internal static class FilePayoff
{
    /// <summary>
    /// <paramref name="result"/> with every initializer that does not pay kept dense; the result itself where its
    /// options say not to (<see cref="CompressionOptions.KeepDenseWhereItDoesNotPay"/> false).
    /// </summary>
    /// <exception cref="DirNetException">No matrix pays, or the file would not be smaller (the message says by how much).</exception>
    public static CompressionResult KeepWhatPays(CompressionResult result)
    {
        if (!result.Options.KeepDenseWhereItDoesNotPay)
        {
            return result;
        }

        var planned = CompressedOnnxWriter.FileBytes(result.Source, result);
        var costs = planned.Initializers;
        var unprofitable = new List<string>();
        foreach (var unit in SharingUnits(result))
        {
            var names = unit.Where(costs.ContainsKey).ToArray();
            if (names.Length > 0 && names.Sum(n => costs[n].Compressed) >= names.Sum(n => costs[n].Dense))
            {
                unprofitable.AddRange(names);
            }
        }

        var kept = unprofitable.Count == 0 ? result : result.KeepingDense(unprofitable);
        var (remaining, fileBytes, sourceBytes) = unprofitable.Count == 0 ? planned : CompressedOnnxWriter.FileBytes(kept.Source, kept);
        if (remaining.Count == 0)
        {
            var largest = costs.MaxBy(c => c.Value.Dense);
            throw new DirNetException(
                $"Compressing '{result.Source.SourceName}' with {MethodRegistry.NameOf(result.Options.Method)} would not make it smaller: each of its {costs.Count} compressed " +
                $"initializer(s) takes as many file bytes compressed, with the graph that rebuilds it, as dense (the largest, '{largest.Key}': " +
                $"{largest.Value.Compressed:N0} bytes against {largest.Value.Dense:N0}). Keep the model as it is, or choose a smaller precision or a higher ratio.");
        }

        if (fileBytes >= sourceBytes)
        {
            throw new DirNetException(
                $"Compressing '{result.Source.SourceName}' with {MethodRegistry.NameOf(result.Options.Method)} would not make it smaller ({fileBytes:N0} bytes against {sourceBytes:N0}): " +
                "the graph that rebuilds its matrices and the compression metadata take more than the matrices save. Choose a smaller precision or a higher ratio.");
        }

        return kept;
    }

    /// <summary>The initializers of the result grouped so that those sharing a dictionary are together (one each otherwise).</summary>
    private static IEnumerable<IReadOnlyList<string>> SharingUnits(CompressionResult result)
    {
        var byDictionary = new Dictionary<float[], List<string>>(ReferenceEqualityComparer.Instance);
        var alone = new List<string>();
        foreach (var weight in result.Weights)
        {
            var name = weight.Weight.Initializer;
            if (weight.Matrix is DictionaryMatrix dictionary)
            {
                var names = byDictionary.TryGetValue(dictionary.DictionaryArray, out var list) ? list : byDictionary[dictionary.DictionaryArray] = [];
                names.Add(name);
            }
            else
            {
                alone.Add(name);
            }
        }

        // An initializer holding several directions can sit in several dictionaries' groups: merge those that meet.
        var units = new List<HashSet<string>>();
        foreach (var group in byDictionary.Values.Concat(alone.Select(n => new List<string> { n })))
        {
            var meeting = units.Where(u => group.Any(u.Contains)).ToList();
            var merged = new HashSet<string>(group, StringComparer.Ordinal);
            foreach (var unit in meeting)
            {
                merged.UnionWith(unit);
                units.Remove(unit);
            }

            units.Add(merged);
        }

        return units.Select(u => (IReadOnlyList<string>)u.Order(StringComparer.Ordinal).ToArray());
    }
}
