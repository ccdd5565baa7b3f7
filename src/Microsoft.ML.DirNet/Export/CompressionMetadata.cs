using System.Text.Json;
using Microsoft.ML.DirNet.Compression;
using System.Text.Json.Serialization;

namespace Microsoft.ML.DirNet.Export;

/// <summary>
/// What a compressed ONNX records about itself in the model's metadata (key <see cref="Key"/>, JSON): the method and
/// its options, and for every replaced initializer its shape, layout and the stored form of each direction's matrix.
/// The native loader reads it to find the factors; other runtimes ignore it.
/// </summary>
internal sealed record CompressionMetadata(
    int Format, string Method, double TargetRatio, string Scope, string Allocation, int Seed, bool Calibrated,
    IReadOnlyList<CompressedInitializer> Initializers)
{
    /// <summary>The metadata key.</summary>
    public const string Key = CompressionResult.MetadataKey;

    /// <summary>The layout version this library writes and reads.</summary>
    public const int CurrentFormat = 1;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The JSON stored under <see cref="Key"/>.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>One initializer's entry as the stored JSON spells it (what it adds to the metadata).</summary>
    public static string ToJson(CompressedInitializer entry) => JsonSerializer.Serialize(entry, Json);

    /// <summary>Parses the stored JSON; null when it is not valid metadata.</summary>
    public static CompressionMetadata? TryParse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<CompressionMetadata>(json, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The initializer-name prefix of one direction's factors and rebuild nodes.</summary>
    public static string FactorPrefix(string initializer, int direction) => $"dirnet/{initializer}/{direction}/";
}

/// <summary>An initializer the compressed file rebuilds from factors.</summary>
/// <param name="Name">The initializer's name, now the output of its rebuild subgraph.</param>
/// <param name="Shape">Its shape (the original initializer's).</param>
/// <param name="Transposed">Whether it holds Wᵀ (MatMul's B; Gemm's B without transB).</param>
/// <param name="Matrices">One entry per direction (one for non-recurrent weights), in direction order.</param>
/// <param name="Flattened">True for a Conv filter bank [M, C / group, k…] stored as one matrix [M × (C / group)·Πk];
/// absent (null) otherwise, so older files read as before.</param>
internal sealed record CompressedInitializer(string Name, int[] Shape, bool Transposed, IReadOnlyList<StoredMatrix> Matrices, bool? Flattened = null);

/// <summary>One direction's matrix in a compressed file.</summary>
/// <param name="Method">Its stored form: dense, dirnet, odl, hmd, lowrank or prune (<see cref="Compression.CompressedMatrix.Method"/>).</param>
/// <param name="Rows">Rows of W as applied (y = W·x).</param>
/// <param name="Columns">Columns of W.</param>
/// <param name="Structure">The structure in words, for people reading the metadata.</param>
/// <param name="Dictionary">For dictionary forms, the initializer holding P (another matrix's when shared).</param>
/// <param name="Precision">The values' storage: <c>fp32</c>, <c>fp16</c>, <c>int8</c> (with row scales), or per group
/// <c>int4</c>, <c>int3</c>, <c>int2</c> or <c>ternary</c>.</param>
/// <param name="Group">For the per-group precisions, the values per group; null otherwise.</param>
/// <param name="Shapes">For the per-group precisions, the shape of each stored value array by factor name (their packed
/// levels have one dimension); null otherwise.</param>
internal sealed record StoredMatrix(string Method, int Rows, int Columns, string Structure, string? Dictionary = null, string Precision = "fp32",
    int? Group = null, IReadOnlyDictionary<string, int[]>? Shapes = null)
{
    /// <summary>The precision names, as recorded and as the command line spells them.</summary>
    public static readonly IReadOnlyDictionary<string, FactorPrecision> Precisions = new Dictionary<string, FactorPrecision>
    {
        ["fp32"] = FactorPrecision.Float32, ["fp16"] = FactorPrecision.Float16, ["int8"] = FactorPrecision.Int8,
        ["int4"] = FactorPrecision.Int4, ["int3"] = FactorPrecision.Int3, ["int2"] = FactorPrecision.Int2, ["ternary"] = FactorPrecision.Ternary,
    };

    /// <summary>The precision name recorded for a matrix.</summary>
    public static string PrecisionOf(CompressedMatrix matrix) => NameOf(matrix.Precision);

    /// <summary>A matrix's precision for people: its grid with the group (<c>int4 g128</c>), or the precision's name.</summary>
    public static string LabelOf(CompressedMatrix matrix) => matrix.Grid?.ToString() ?? PrecisionOf(matrix);

    /// <summary>The name of a precision.</summary>
    public static string NameOf(FactorPrecision precision) => Precisions.First(p => p.Value == precision).Key;

    /// <summary>How <paramref name="matrix"/> is recorded in a compressed file.</summary>
    public static StoredMatrix Of(CompressedMatrix matrix, string? dictionary) => new(matrix.Method, matrix.Rows, matrix.Columns, matrix.Structure,
        dictionary, PrecisionOf(matrix), matrix.Grid?.GroupSize, matrix.Grid is null ? null : matrix.LowBitShapes);
}
