namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// A low-bit grid for a matrix's values, per group of <see cref="GroupSize"/> consecutive values along each row (the
/// last group of a row is shorter when the columns are not a multiple of it). Each group has a float16 scale; the
/// 4-, 3- and 2-bit grids are asymmetric, value = (level − zero)·scale with a zero point of the same width, and the
/// ternary grid is symmetric, value = level·scale with level in {−1, 0, 1} (stored as 0, 1, 2; no zero point).
/// </summary>
internal sealed record LowBitGrid
{
    /// <summary>The group sizes the file format and the planner use.</summary>
    public static readonly IReadOnlyList<int> GroupSizes = [32, 64, 128, 256];

    private LowBitGrid(int bits, bool ternary, int groupSize)
    {
        if (!GroupSizes.Contains(groupSize))
        {
            throw new ArgumentException($"Group size {groupSize} is not one of {string.Join(", ", GroupSizes)}.");
        }

        Bits = bits;
        IsTernary = ternary;
        GroupSize = groupSize;
    }

    /// <summary>An asymmetric grid of 4, 3 or 2 bits per value.</summary>
    public static LowBitGrid Integer(int bits, int groupSize) => bits is 4 or 3 or 2
        ? new LowBitGrid(bits, false, groupSize)
        : throw new ArgumentException($"A low-bit grid has 4, 3 or 2 bits, not {bits}.");

    /// <summary>The symmetric grid {−1, 0, 1}·scale, five values to a byte.</summary>
    public static LowBitGrid Ternary(int groupSize) => new(2, true, groupSize);

    /// <summary>Bits per level in the packed stream (ternary packs by base 3 instead, see <see cref="LevelPacking"/>).</summary>
    public int Bits { get; }

    /// <summary>Whether this is the ternary grid.</summary>
    public bool IsTernary { get; }

    /// <summary>Values per group along a row.</summary>
    public int GroupSize { get; }

    /// <summary>How many levels the grid has.</summary>
    public int LevelCount => IsTernary ? 3 : 1 << Bits;

    /// <summary>Whether each group stores a zero point.</summary>
    public bool HasZeroPoints => !IsTernary;

    /// <summary>The name used in tables and on the command line, e.g. <c>int4</c> or <c>ternary</c>.</summary>
    public string Name => IsTernary ? "ternary" : $"int{Bits}";

    /// <summary>Groups of one row of <paramref name="columns"/> values.</summary>
    public int GroupsPerRow(int columns) => (columns + GroupSize - 1) / GroupSize;

    /// <summary>
    /// Exact stored bytes of a [<paramref name="rows"/> × <paramref name="columns"/>] matrix on this grid: its levels
    /// packed as one stream, a float16 scale per group, and the zero points packed as a second stream.
    /// </summary>
    public long StoredBytes(int rows, int columns)
    {
        var groups = (long)rows * GroupsPerRow(columns);
        return LevelPacking.PackedBytes((long)rows * columns, this) + 2 * groups + (HasZeroPoints ? LevelPacking.PackedBytes(groups, this) : 0);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} g{GroupSize}";
}
