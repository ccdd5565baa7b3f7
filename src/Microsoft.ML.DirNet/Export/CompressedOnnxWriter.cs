using Google.Protobuf;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Export;

/// <summary>
/// Writes a <see cref="CompressionResult"/> as a compressed ONNX model: every compressed initializer is removed and
/// its factors are stored instead (as they are counted: float32 values, 8/16-bit indices, int32 row starts), with the
/// standard-op subgraph that rebuilds it under its old name. The nodes that read it (LSTM, GRU, RNN, MatMul, Gemm,
/// Gather) are untouched, so any ONNX runtime runs the file; ONNX Runtime folds the rebuild into constants at load.
/// </summary>
internal static class CompressedOnnxWriter
{
    public static OnnxModel Write(OnnxModel source, CompressionResult result) => OnnxModel.FromProto(Compose(source, result).Proto, source.SourceName);

    /// <summary>
    /// For each initializer <paramref name="result"/> stores compressed, the bytes it takes in the written file (its
    /// factors, the rebuild nodes and the constants first made for it, its metadata entry) and the bytes its dense
    /// tensor takes in <paramref name="source"/>; and the sizes of both whole files.
    /// </summary>
    public static (IReadOnlyDictionary<string, (long Compressed, long Dense)> Initializers, long FileBytes, long SourceBytes) FileBytes(OnnxModel source, CompressionResult result)
    {
        var written = Compose(source, result);
        static long Framed(IMessage message) => 1 + CodedOutputStream.ComputeMessageSize(message);
        var costs = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        foreach (var (entry, matrices) in written.Entries)
        {
            var prefixes = Enumerable.Range(0, matrices.Length).Select(d => CompressionMetadata.FactorPrefix(entry.Name, d)).ToArray();
            var compressed = written.Factors.Where(f => prefixes.Any(f.Name.StartsWith)).Sum(Framed)
                + written.Rebuild.Nodes.Where(n => written.Rebuild.NodePurposes[n.Name] == entry.Name).Sum(Framed)
                + written.Rebuild.Constants.Where(c => written.Rebuild.ConstantPurposes[c.Name] == entry.Name).Sum(Framed)
                + System.Text.Encoding.UTF8.GetByteCount(CompressionMetadata.ToJson(entry)) + 1;
            var dense = source.Proto.Graph.Initializer.Where(t => t.Name == entry.Name).Sum(Framed)
                + source.Proto.Graph.Input.Where(i => i.Name == entry.Name).Sum(Framed);
            costs[entry.Name] = (compressed, dense);
        }

        return (costs, written.Proto.CalculateSize(), source.Proto.CalculateSize());
    }

    private sealed record Composed(ModelProto Proto, List<(CompressedInitializer Entry, CompressedMatrix[] Matrices)> Entries, List<TensorProto> Factors, GraphBuilder Rebuild);

    private static Composed Compose(OnnxModel source, CompressionResult result)
    {
        var proto = source.Proto.Clone();
        OpsetRaise.RaiseTo(proto, CompressedMatrix.MinimumRebuildOpset, source.SourceName);
        var dictionaries = new Dictionary<float[], string>(ReferenceEqualityComparer.Instance);
        foreach (var weight in result.Weights)
        {
            if (weight.Matrix is DictionaryMatrix { OwnsDictionary: true } owner)
            {
                dictionaries[owner.DictionaryArray] = CompressionMetadata.FactorPrefix(weight.Weight.Initializer, weight.Weight.Direction) + "dictionary";
            }
        }

        var entries = new List<(CompressedInitializer Entry, CompressedMatrix[] Matrices)>();
        var initializers = new List<TensorProto>();
        foreach (var group in result.Weights.GroupBy(w => w.Weight.Initializer).Where(g => g.Any(w => w.Matrix is not DenseMatrix || w.Matrix.Precision != FactorPrecision.Float32)))
        {
            var name = group.Key;
            var (_, shape) = source.Graph.GetInitializerInfo(name);
            // A Conv filter bank is one matrix over its flattened window; a rank-3 recurrent W/R has one per direction.
            var flattened = group.First().Weight.Role == Weights.WeightRole.Conv;
            var directions = shape.Length == 3 && !flattened ? shape[0] : 1;
            var stored = source.Graph.GetInitializer(name).As<float>().Data;
            var matrices = Enumerable.Range(0, directions).Select(d =>
                group.FirstOrDefault(w => w.Weight.Direction == d)?.Matrix ?? DenseSlice(group.First().Weight with { Direction = d }, stored)).ToArray();
            var entry = new CompressedInitializer(name, shape, group.First().Weight.StoredTransposed, matrices.Select(m =>
                StoredMatrix.Of(m, m is DictionaryMatrix dm ? dictionaries[dm.DictionaryArray] : null)).ToArray(), flattened ? true : null);
            entries.Add((entry, matrices));
            for (var d = 0; d < directions; d++)
            {
                var prefix = CompressionMetadata.FactorPrefix(name, d);
                // An empty factor (HMD with no dense rows, or no rows below them) is not stored: no node would read it.
                initializers.AddRange(matrices[d].Factors.Where(f => f.Tensor.Length > 0).Select(f => TensorProtoConverter.ToProto(prefix + f.Name, f.Tensor)));
            }

            Remove(proto.Graph.Initializer, t => t.Name == name);
            Remove(proto.Graph.Input, i => i.Name == name);
        }

        // Producers come before their readers, as ONNX requires of the node list.
        var rebuild = InitializerRebuild.Build(entries);
        var readers = proto.Graph.Node.ToList();
        proto.Graph.Node.Clear();
        proto.Graph.Node.AddRange(rebuild.Nodes.Concat(readers));
        proto.Graph.Initializer.AddRange(initializers.Concat(rebuild.Constants));
        Remove(proto.MetadataProps, p => p.Key == CompressionMetadata.Key);
        var options = result.Options;
        proto.MetadataProps.Add(new StringStringEntryProto
        {
            Key = CompressionMetadata.Key,
            Value = new CompressionMetadata(CompressionMetadata.CurrentFormat, MethodRegistry.NameOf(options.Method), options.Ratio,
                options.Scope.ToString().ToLowerInvariant(), options.Allocation.ToString(), options.Seed, options.Calibration is not null, entries.Select(e => e.Entry).ToArray()).ToJson(),
        });
        return new Composed(proto, entries, initializers, rebuild);
    }

    /// <summary>A direction the plan did not target, stored as it was.</summary>
    private static DenseMatrix DenseSlice(Weights.CompressibleWeight weight, float[] stored) =>
        new(WeightLayout.Read(weight, stored), weight.Rows, weight.Columns);

    private static void Remove<T>(Google.Protobuf.Collections.RepeatedField<T> list, Func<T, bool> match)
    {
        for (var i = list.Count - 1; i >= 0; i--)
        {
            if (match(list[i]))
            {
                list.RemoveAt(i);
            }
        }
    }
}
