namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// Packs the levels of a <see cref="LowBitGrid"/> into bytes, little-endian: 4-, 3- and 2-bit levels as one bit stream
/// (two int4 or four int2 to a byte; eight int3 in three bytes), the lowest bits of the first level first; ternary
/// levels (0, 1, 2) five to a byte as base-3 digits, the first level the least significant (3⁵ = 243 fits a byte).
/// The same layout is what a rebuild in ONNX unpacks with integer Div/Mod, so it must not change once files exist.
/// </summary>
internal static class LevelPacking
{
    private const int TritsPerByte = 5;

    /// <summary>Bytes that <paramref name="count"/> levels take packed.</summary>
    public static long PackedBytes(long count, LowBitGrid grid) => grid.IsTernary
        ? (count + TritsPerByte - 1) / TritsPerByte
        : (count * grid.Bits + 7) / 8;

    /// <summary>Packs <paramref name="levels"/> (each below <see cref="LowBitGrid.LevelCount"/>).</summary>
    public static byte[] Pack(ReadOnlySpan<byte> levels, LowBitGrid grid)
    {
        var packed = new byte[PackedBytes(levels.Length, grid)];
        for (var i = 0; i < levels.Length; i++)
        {
            if (levels[i] >= grid.LevelCount)
            {
                throw new ArgumentException($"Level {levels[i]} at {i} is outside the {grid.Name} grid.");
            }
        }

        if (grid.IsTernary)
        {
            for (var i = 0; i < levels.Length; i++)
            {
                packed[i / TritsPerByte] += (byte)(levels[i] * Power3(i % TritsPerByte));
            }

            return packed;
        }

        for (var i = 0; i < levels.Length; i++)
        {
            var bit = (long)i * grid.Bits;
            var value = levels[i] << (int)(bit % 8);
            packed[bit / 8] |= (byte)value;
            if (bit % 8 + grid.Bits > 8)
            {
                packed[bit / 8 + 1] |= (byte)(value >> 8);
            }
        }

        return packed;
    }

    /// <summary>The first <paramref name="count"/> levels of a packed stream.</summary>
    public static byte[] Unpack(ReadOnlySpan<byte> packed, int count, LowBitGrid grid)
    {
        if (packed.Length < PackedBytes(count, grid))
        {
            throw new ArgumentException($"{packed.Length} bytes cannot hold {count} {grid.Name} levels.");
        }

        var levels = new byte[count];
        var mask = (1 << grid.Bits) - 1;
        for (var i = 0; i < count; i++)
        {
            if (grid.IsTernary)
            {
                levels[i] = (byte)(packed[i / TritsPerByte] / Power3(i % TritsPerByte) % 3);
                continue;
            }

            var bit = (long)i * grid.Bits;
            var word = packed[(int)(bit / 8)] | (bit / 8 + 1 < packed.Length ? packed[(int)(bit / 8 + 1)] << 8 : 0);
            levels[i] = (byte)((word >> (int)(bit % 8)) & mask);
        }

        return levels;
    }

    private static int Power3(int exponent) => exponent switch { 0 => 1, 1 => 3, 2 => 9, 3 => 27, _ => 81 };
}
