namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// A row-major [<see cref="Rows"/> × <see cref="Columns"/>] array of values on a <see cref="LowBitGrid"/>: one level
/// per value, and per group a float16 scale and (asymmetric grids) a zero point. <see cref="Dequantize"/> gives the
/// float32 values (level − zero)·scale that a product multiplies by.
/// </summary>
internal sealed class GroupQuantizedValues
{
    public GroupQuantizedValues(LowBitGrid grid, int rows, int columns, byte[] levels, Half[] scales, byte[] zeroPoints)
    {
        var groups = (long)rows * grid.GroupsPerRow(columns);
        if (levels.LongLength != (long)rows * columns || scales.LongLength != groups || zeroPoints.LongLength != (grid.HasZeroPoints ? groups : 0))
        {
            throw new ArgumentException(
                $"A {grid} array of [{rows} × {columns}] needs {(long)rows * columns} levels and {groups} scales{(grid.HasZeroPoints ? " and zero points" : "")}, got {levels.Length}, {scales.Length} and {zeroPoints.Length}.");
        }

        Grid = grid;
        Rows = rows;
        Columns = columns;
        Levels = levels;
        Scales = scales;
        ZeroPoints = zeroPoints;
    }

    public LowBitGrid Grid { get; }

    public int Rows { get; }

    public int Columns { get; }

    /// <summary>One level per value, unpacked (0 … <see cref="LowBitGrid.LevelCount"/> − 1).</summary>
    public byte[] Levels { get; }

    /// <summary>One scale per group, row by row.</summary>
    public Half[] Scales { get; }

    /// <summary>One zero point per group (empty for the ternary grid, whose zero is level 1).</summary>
    public byte[] ZeroPoints { get; }

    /// <summary>Exact stored bytes: packed levels, scales and packed zero points.</summary>
    public long StoredBytes => Grid.StoredBytes(Rows, Columns);

    /// <summary>The levels packed as stored (<see cref="LevelPacking"/>).</summary>
    public byte[] PackedLevels() => LevelPacking.Pack(Levels, Grid);

    /// <summary>The zero points packed as stored (empty for the ternary grid).</summary>
    public byte[] PackedZeroPoints() => Grid.HasZeroPoints ? LevelPacking.Pack(ZeroPoints, Grid) : [];

    /// <summary>Reads back what <see cref="PackedLevels"/>, <see cref="Scales"/> and <see cref="PackedZeroPoints"/> hold.</summary>
    public static GroupQuantizedValues FromPacked(LowBitGrid grid, int rows, int columns, byte[] packedLevels, Half[] scales, byte[] packedZeroPoints)
    {
        var count = (long)rows * columns;
        var groups = (long)rows * grid.GroupsPerRow(columns);
        if (packedLevels.LongLength != LevelPacking.PackedBytes(count, grid)
            || packedZeroPoints.LongLength != (grid.HasZeroPoints ? LevelPacking.PackedBytes(groups, grid) : 0))
        {
            throw new ArgumentException(
                $"A {grid} array of [{rows} × {columns}] packs into {LevelPacking.PackedBytes(count, grid)} bytes of levels and {(grid.HasZeroPoints ? LevelPacking.PackedBytes(groups, grid) : 0)} of zero points, got {packedLevels.Length} and {packedZeroPoints.Length}.");
        }

        var zeroPoints = grid.HasZeroPoints ? LevelPacking.Unpack(packedZeroPoints, (int)groups, grid) : [];
        return new GroupQuantizedValues(grid, rows, columns, LevelPacking.Unpack(packedLevels, (int)count, grid), scales, zeroPoints);
    }

    /// <summary>The level that stands for 0 in group <paramref name="group"/>.</summary>
    public int Zero(int group) => Grid.HasZeroPoints ? ZeroPoints[group] : 1;

    /// <summary>The values as float32, row-major.</summary>
    public float[] Dequantize()
    {
        var values = new float[Levels.Length];
        var groupsPerRow = Grid.GroupsPerRow(Columns);
        for (var r = 0; r < Rows; r++)
        {
            for (var c = 0; c < Columns; c++)
            {
                var group = r * groupsPerRow + c / Grid.GroupSize;
                var i = r * Columns + c;
                values[i] = (Levels[i] - Zero(group)) * (float)Scales[group];
            }
        }

        return values;
    }
}
