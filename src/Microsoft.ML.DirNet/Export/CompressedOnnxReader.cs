using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Export;

/// <summary>
/// Reads the factors of a compressed ONNX back (<see cref="CompressedOnnxWriter"/>'s layout, found through its
/// metadata) and checks that the rebuild subgraph in the file is exactly the one those factors need, so the native
/// engine can run the factors and skip the rebuild without changing any result. A file edited after compression is
/// refused with the initializer and node that differ.
/// </summary>
internal static class CompressedOnnxReader
{
    /// <summary>The compressed initializers of <paramref name="model"/>, or null when it is not a compressed model.</summary>
    /// <exception cref="OnnxFormatException">The metadata is unreadable, or a factor is missing or inconsistent.</exception>
    /// <exception cref="OnnxGraphException">A rebuild node or constant differs from what the factors need.</exception>
    public static FactoredModel? Read(OnnxModel model)
    {
        if (!model.Metadata.TryGetValue(CompressionMetadata.Key, out var json))
        {
            return null;
        }

        var source = model.SourceName;
        var metadata = CompressionMetadata.TryParse(json) ?? throw new OnnxFormatException(source, $"its '{CompressionMetadata.Key}' metadata is not valid JSON of this library's layout.");
        if (metadata.Format != CompressionMetadata.CurrentFormat || metadata.Initializers is null)
        {
            throw new OnnxFormatException(source, $"its '{CompressionMetadata.Key}' metadata has layout version {metadata.Format}; this library reads version {CompressionMetadata.CurrentFormat}.");
        }

        foreach (var entry in metadata.Initializers)
        {
            CheckEntry(source, entry);
        }

        var nodes = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        foreach (var node in model.Graph.Nodes)
        {
            nodes.TryAdd(node.Name, node);
        }

        var widened = new Dictionary<Tensor, float[]>(ReferenceEqualityComparer.Instance);
        var rounded = new Dictionary<float[], float[]>();
        var scales = new Dictionary<float[], float[]>();
        var lowBit = new Dictionary<float[], GroupQuantizedValues>();
        // A low-bit array's shape is recorded beside the matrix that stores it; a shared dictionary is read by others too.
        var shapes = metadata.Initializers.SelectMany(entry => entry.Matrices.SelectMany((stored, d) => (stored.Shapes ?? new Dictionary<string, int[]>())
            .Select(p => (Name: CompressionMetadata.FactorPrefix(entry.Name, d) + p.Key, Shape: p.Value)))).DistinctBy(p => p.Name).ToDictionary(p => p.Name, p => p.Shape);
        var initializers = metadata.Initializers.Select(entry => new FactoredInitializer(entry, entry.Matrices.Select((stored, d) =>
        {
            var grid = GridOf(source, entry, stored);
            var matrix = ReadMatrix(model, entry, stored, d, grid, shapes, widened, scales, lowBit);
            return stored.Precision switch
            {
                "fp16" => matrix.ToHalfPrecision(rounded),
                "int8" => matrix.WithInt8Scales(scales),
                _ when grid is not null => matrix.WithLowBit(grid, lowBit),
                _ => matrix,
            };
        }).ToArray())).ToArray();
        var expected = InitializerRebuild.Build(initializers.Select(i => (i.Entry, i.Matrices)));
        var rebuildNodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in expected.Nodes)
        {
            if (!nodes.TryGetValue(node.Name, out var actual) || !actual.Proto.Equals(node))
            {
                throw new OnnxGraphException(
                    $"'{source}' stores '{expected.NodePurposes[node.Name]}' compressed, but its rebuild node '{node.Name}' is {(actual is null ? "missing" : "not the one its factors need")}: the file was changed after compression.",
                    node.Name);
            }

            rebuildNodes.Add(node.Name);
        }

        foreach (var constant in expected.Constants)
        {
            if (!constant.Equals(model.Graph.FindInitializerProto(constant.Name)))
            {
                throw new OnnxGraphException($"'{source}' is a compressed model, but its rebuild constant '{constant.Name}' is missing or changed: the file was changed after compression.");
            }
        }

        return new FactoredModel(metadata, initializers, rebuildNodes);
    }

    /// <summary>
    /// Checks that an entry is complete and that its matrices tile its shape: one per direction of a [directions, rows,
    /// columns] recurrent weight, one matrix stored as is or transposed, or (flattened) one matrix over a Conv filter
    /// bank's [M, C / group, k…] as [M × (C / group)·Πk].
    /// </summary>
    private static void CheckEntry(string source, CompressedInitializer? entry)
    {
        if (entry?.Name is null || entry.Shape is null || entry.Matrices is null || entry.Matrices.Any(m => m?.Method is null))
        {
            throw new OnnxFormatException(source, $"its '{CompressionMetadata.Key}' metadata has an incomplete initializer entry.");
        }

        var fits = entry.Matrices.All(m => m.Rows > 0 && m.Columns > 0) && (entry.Flattened == true
            ? entry.Shape.Length >= 3 && entry.Matrices.Count == 1 && !entry.Transposed && entry.Matrices[0].Rows == entry.Shape[0]
                && entry.Matrices[0].Columns == entry.Shape.Skip(1).Aggregate(1L, (a, b) => a * b)
            : entry.Shape.Length switch
        {
            3 => entry.Matrices.Count == entry.Shape[0] && entry.Matrices.All(m => m.Rows == entry.Shape[1] && m.Columns == entry.Shape[2]) && !entry.Transposed,
            2 => entry.Matrices.Count == 1 && (entry.Transposed
                ? entry.Matrices[0].Rows == entry.Shape[1] && entry.Matrices[0].Columns == entry.Shape[0]
                : entry.Matrices[0].Rows == entry.Shape[0] && entry.Matrices[0].Columns == entry.Shape[1]),
            _ => false,
        });
        if (!fits)
        {
            throw new OnnxFormatException(source,
                $"compressed initializer '{entry.Name}' declares shape {TensorShape.Format(entry.Shape)}{(entry.Transposed ? " (transposed)" : "")} but matrices {string.Join(", ", entry.Matrices.Select(m => $"[{m.Rows} × {m.Columns}]"))}.");
        }
    }

    /// <summary>The grid of a matrix stored at a low-bit precision, or null for the others.</summary>
    private static LowBitGrid? GridOf(string source, CompressedInitializer entry, StoredMatrix stored)
    {
        if (!StoredMatrix.Precisions.TryGetValue(stored.Precision ?? "", out var precision))
        {
            throw new OnnxFormatException(source, $"compressed initializer '{entry.Name}' declares the unknown precision '{stored.Precision}'.");
        }

        if (!LowBitPrecision.IsLowBit(precision))
        {
            return null;
        }

        if (stored.Group is not { } group || !LowBitGrid.GroupSizes.Contains(group) || stored.Shapes is null)
        {
            throw new OnnxFormatException(source,
                $"compressed initializer '{entry.Name}' is stored as {stored.Precision} but its metadata has no valid group size (one of {string.Join(", ", LowBitGrid.GroupSizes)}) and array shapes.");
        }

        return LowBitPrecision.Grid(precision, group);
    }

    private static CompressedMatrix ReadMatrix(OnnxModel model, CompressedInitializer entry, StoredMatrix stored, int direction, LowBitGrid? grid,
        IReadOnlyDictionary<string, int[]> shapes, Dictionary<Tensor, float[]> widened, Dictionary<float[], float[]> scales, Dictionary<float[], GroupQuantizedValues> lowBit)
    {
        if (!MethodRegistry.StoredForms.TryGetValue(stored.Method, out var read))
        {
            throw new OnnxFormatException(model.SourceName, $"compressed initializer '{entry.Name}' declares the unknown stored form '{stored.Method}'.");
        }

        try
        {
            return read(new StoredFactors(model, entry, stored, direction, grid, shapes, widened, scales, lowBit));
        }
        catch (ArgumentException e)
        {
            throw new OnnxFormatException(model.SourceName, $"the factors of compressed initializer '{entry.Name}' (direction {direction}) are inconsistent: {e.Message}", e);
        }
    }

    /// <summary>
    /// One direction's factors in the file, checked as they are read. Values come as the precision the metadata
    /// declares; float16, int8 and low-bit ones are widened once per tensor, so matrices that share a dictionary still
    /// share one array. Int8 values are read with their row scales, low-bit ones with their group scales and zero points.
    /// </summary>
    private sealed class StoredFactors(OnnxModel model, CompressedInitializer entry, StoredMatrix stored, int direction, LowBitGrid? grid,
        IReadOnlyDictionary<string, int[]> shapes, Dictionary<Tensor, float[]> widened, Dictionary<float[], float[]> scales,
        Dictionary<float[], GroupQuantizedValues> lowBit) : IFactorSource
    {
        private readonly string _prefix = CompressionMetadata.FactorPrefix(entry.Name, direction);

        private readonly TensorElementType _valueType = stored.Precision switch
        {
            "fp16" => TensorElementType.Float16, "int8" => TensorElementType.Int8, "fp32" => TensorElementType.Float, _ => TensorElementType.UInt8,
        };

        public string Method => stored.Method;

        public int Rows => stored.Rows;

        public int Columns => stored.Columns;

        public float[] Values(string factor) => Floats(_prefix + factor);

        // The writer leaves out empty factors (HMD with no dense rows, or none below them).
        public float[] OptionalValues(string factor) => model.Graph.HasInitializer(_prefix + factor) ? Values(factor) : [];

        public int Dimension(string factor, int axis) => DimensionOf(_prefix + factor, axis);

        public int OptionalDimension(string factor, int axis) => model.Graph.HasInitializer(_prefix + factor) ? Dimension(factor, axis) : 0;

        public (float[] Values, int Atoms, bool Owned) Dictionary()
        {
            var name = stored.Dictionary ?? _prefix + "dictionary";
            return (Floats(name), DimensionOf(name, 0), stored.Dictionary == _prefix + "dictionary");
        }

        public SparseRows Sparse(string factorPrefix, int columns)
        {
            var name = _prefix + factorPrefix;
            var rowStarts = Indices(name + "row_starts");
            if (rowStarts.Length != stored.Rows + 1 || rowStarts.Any(v => v < 0))
            {
                throw new OnnxFormatException(model.SourceName, $"the factor '{name}row_starts' of compressed initializer '{entry.Name}' must hold {stored.Rows + 1} non-negative offsets.");
            }

            // No stored entry at all (DirNet's codes of an all-zero matrix): the writer leaves out the empty index and
            // value arrays, as it does every empty factor.
            if (rowStarts[^1] == 0 && !model.Graph.HasInitializer(name + "columns") && !model.Graph.HasInitializer(name + "values"))
            {
                return new(stored.Rows, columns, rowStarts, [], []);
            }

            return new(stored.Rows, columns, rowStarts, Indices(name + "columns"), Floats(name + "values", rowStarts));
        }

        private Tensor Factor(string name) => model.Graph.HasInitializer(name)
            ? model.Graph.GetInitializer(name)
            : throw new OnnxFormatException(model.SourceName, $"the factor '{name}' of compressed initializer '{entry.Name}' is missing.");

        private float[] Floats(string name, int[]? rowStarts = null) => Factor(name) switch
        {
            Tensor<float> t when _valueType == TensorElementType.Float => t.Data,
            Tensor<byte> t when grid is not null => widened.TryGetValue(t, out var w) ? w : widened[t] = Unpack(name, t, grid),
            Tensor<Half> t when _valueType == TensorElementType.Float16 => widened.TryGetValue(t, out var w) ? w : widened[t] = Array.ConvertAll(t.Data, v => (float)v),
            Tensor<sbyte> t when _valueType == TensorElementType.Int8 => widened.TryGetValue(t, out var w) ? w : widened[t] = Dequantize(name, t, rowStarts),
            var t => throw new OnnxFormatException(model.SourceName, $"the factor '{name}' of compressed initializer '{entry.Name}' must be {_valueType}, not {t.ElementType}."),
        };

        private float[] Dequantize(string name, Tensor<sbyte> levels, int[]? rowStarts)
        {
            var rows = levels.Rank == 2 ? levels.Shape[0] : rowStarts is null ? -1 : rowStarts.Length - 1;
            var scale = Factor(Int8Rows.ScaleName(name));
            if (rows < 0 || scale is not Tensor<float> { Rank: 2 } s || s.Shape[0] != rows || s.Shape[1] != 1)
            {
                throw new OnnxFormatException(model.SourceName, $"the int8 factor '{name}' of compressed initializer '{entry.Name}' needs float scales of shape [{rows}, 1] in '{Int8Rows.ScaleName(name)}'.");
            }

            var values = Int8Rows.Dequantize(levels.Data, s.Data, rowStarts ?? Int8Rows.MatrixRowStarts(rows, levels.Shape[1]));
            scales[values] = s.Data;
            return values;
        }

        private float[] Unpack(string name, Tensor<byte> levels, LowBitGrid grid)
        {
            var shape = LowBitShape(name);
            var (rows, columns) = CompressedMatrix.LowBitLayout(shape);
            var zeroName = CompressedMatrix.ZeroPointName(name);
            var groups = grid.GroupsPerRow(columns);
            if (levels.Rank != 1 || Factor(Int8Rows.ScaleName(name)) is not Tensor<Half> { Rank: 2 } s || s.Shape[0] != rows || s.Shape[1] != groups
                || (grid.HasZeroPoints ? Factor(zeroName) is not Tensor<byte> { Rank: 1 } : model.Graph.HasInitializer(zeroName)))
            {
                throw new OnnxFormatException(model.SourceName,
                    $"the {grid} factor '{name}' of compressed initializer '{entry.Name}' needs packed uint8 levels, float16 scales of shape [{rows}, {groups}] in '{Int8Rows.ScaleName(name)}'" +
                    (grid.HasZeroPoints ? $" and packed uint8 zero points in '{zeroName}'." : " and no zero points."));
            }

            // Past 242 a byte is not five base-3 digits, and ONNX's Div/Mod would read it differently from the unpacking here.
            if (grid.IsTernary && Array.FindIndex(levels.Data, b => b > 242) is var bad and >= 0)
            {
                throw new OnnxFormatException(model.SourceName, $"the ternary factor '{name}' of compressed initializer '{entry.Name}' holds byte {levels.Data[bad]} at {bad}, which is not five base-3 levels.");
            }

            var values = GroupQuantizedValues.FromPacked(grid, rows, columns, levels.Data, s.Data, grid.HasZeroPoints ? Factor(zeroName).As<byte>().Data : []);
            var dequantized = values.Dequantize();
            lowBit[dequantized] = values;
            return dequantized;
        }

        private int[] LowBitShape(string name) =>
            shapes.TryGetValue(name, out var shape) && shape is { Length: 1 or 2 } && shape.All(d => d > 0) && shape.Aggregate(1L, (a, b) => a * b) <= int.MaxValue
                ? shape
                : throw new OnnxFormatException(model.SourceName, $"the low-bit factor '{name}' of compressed initializer '{entry.Name}' has no valid shape in the metadata.");

        private int[] Indices(string name) => Factor(name) switch
        {
            Tensor<byte> t => Array.ConvertAll(t.Data, v => (int)v),
            Tensor<ushort> t => Array.ConvertAll(t.Data, v => (int)v),
            Tensor<int> t => t.Data,
            var t => throw new OnnxFormatException(model.SourceName, $"the factor '{name}' of compressed initializer '{entry.Name}' must hold uint8, uint16 or int32 indices, not {t.ElementType}."),
        };

        private int DimensionOf(string name, int axis) => grid is not null && Factor(name) is Tensor<byte>
            ? LowBitShape(name) is { Length: 2 } shape ? shape[axis] : throw NotAMatrix(name)
            : Factor(name).Rank == 2 ? Factor(name).Shape[axis] : throw NotAMatrix(name);

        private OnnxFormatException NotAMatrix(string name) =>
            new(model.SourceName, $"the factor '{name}' of compressed initializer '{entry.Name}' must be a matrix.");
    }
}

/// <summary>A compressed initializer with its matrices read back, one per direction.</summary>
internal sealed record FactoredInitializer(CompressedInitializer Entry, CompressedMatrix[] Matrices)
{
    /// <summary>The initializer as the original dense tensor (what the rebuild subgraph computes).</summary>
    public Tensor<float> ToDense()
    {
        var data = new float[Entry.Shape.Aggregate(1L, (a, b) => a * b)];
        for (var d = 0; d < Matrices.Length; d++)
        {
            var matrix = Matrices[d];
            var weight = new Weights.CompressibleWeight(Entry.Name, "", "", default, d, matrix.Rows, matrix.Columns, 0, Entry.Transposed);
            WeightLayout.Write(weight, matrix.ToDense(), data);
        }

        return new Tensor<float>(Entry.Shape, data);
    }
}

/// <summary>What <see cref="CompressedOnnxReader.Read"/> found: the metadata, the factored initializers, and the rebuild nodes.</summary>
internal sealed record FactoredModel(CompressionMetadata Metadata, IReadOnlyList<FactoredInitializer> Initializers, IReadOnlySet<string> RebuildNodes);
