using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The numerics of per-group low-bit values (int4, int3, int2, ternary; groups of 32 to 256): packing round trips for
/// every width and odd lengths, exact byte accounting, values on their grid, and round-to-nearest with a clipping
/// search never worse than plain min/max rounding. Not yet a stored precision of the forms (the precision issue wires
/// it into the forms, the file and the tool).
/// </summary>
public sealed class GroupQuantizationTests
{
    public static IEnumerable<object[]> Grids() =>
        from grid in new[] { "int4", "int3", "int2", "ternary" }
        from groupSize in LowBitGrid.GroupSizes
        select new object[] { grid, groupSize };

    private static LowBitGrid Grid(string name, int groupSize) =>
        name == "ternary" ? LowBitGrid.Ternary(groupSize) : LowBitGrid.Integer(name[3] - '0', groupSize);

    [Theory]
    [MemberData(nameof(Grids))]
    public void PackingRoundTripsForEveryLength(string name, int groupSize)
    {
        var grid = Grid(name, groupSize);
        var random = new Random(grid.LevelCount * 1000 + groupSize);
        foreach (var count in new[] { 0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 255, 1000 })
        {
            var levels = Enumerable.Range(0, count).Select(_ => (byte)random.Next(grid.LevelCount)).ToArray();
            var packed = LevelPacking.Pack(levels, grid);
            Assert.Equal(LevelPacking.PackedBytes(count, grid), packed.Length);
            Assert.Equal(levels, LevelPacking.Unpack(packed, count, grid));
        }

        // The extreme levels too, where a carry across a byte boundary would show.
        var top = Enumerable.Repeat((byte)(grid.LevelCount - 1), 41).ToArray();
        Assert.Equal(top, LevelPacking.Unpack(LevelPacking.Pack(top, grid), top.Length, grid));
        Assert.Throws<ArgumentException>(() => LevelPacking.Pack([(byte)grid.LevelCount], grid));
    }

    [Fact]
    public void PackedLayoutIsLittleEndian()
    {
        Assert.Equal([0x21, 0x03], LevelPacking.Pack([1, 2, 3], LowBitGrid.Integer(4, 32)));
        Assert.Equal([0b11_10_01_00], LevelPacking.Pack([0, 1, 2, 3], LowBitGrid.Integer(2, 32)));
        // int3: eight levels in three bytes, level i at bits 3i..3i+2.
        Assert.Equal([0xd1, 0x58, 0x1f], LevelPacking.Pack([1, 2, 3, 4, 5, 6, 7, 0], LowBitGrid.Integer(3, 32)));
        Assert.Equal([(byte)(1 + 2 * 3 + 0 * 9 + 1 * 27 + 2 * 81)], LevelPacking.Pack([1, 2, 0, 1, 2], LowBitGrid.Ternary(32)));
    }

    [Theory]
    [MemberData(nameof(Grids))]
    public void ValuesLieOnTheirGridAndBytesAreCounted(string name, int groupSize)
    {
        var grid = Grid(name, groupSize);
        foreach (var (rows, columns) in new[] { (1, 1), (1, groupSize), (3, groupSize + 5), (2, groupSize - 3), (4, 3 * groupSize), (5, 1) })
        {
            var values = Gaussian(rows * columns, seed: rows * 31 + columns);
            var q = RoundToNearest.Quantize(values, rows, columns, grid);
            var groupsPerRow = grid.GroupsPerRow(columns);
            Assert.Equal(rows * groupsPerRow, q.Scales.Length);
            Assert.Equal(
                LevelPacking.PackedBytes(rows * columns, grid) + 2 * q.Scales.Length + (grid.HasZeroPoints ? LevelPacking.PackedBytes(q.ZeroPoints.Length, grid) : 0),
                q.StoredBytes);

            // What is counted is what is written: the packed arrays and the float16 scales, and they read back.
            var packedLevels = q.PackedLevels();
            var packedZeroPoints = q.PackedZeroPoints();
            Assert.Equal(packedLevels.Length + 2 * q.Scales.Length + packedZeroPoints.Length, q.StoredBytes);
            Assert.Equal(grid.StoredBytes(rows, columns), q.StoredBytes);
            var read = GroupQuantizedValues.FromPacked(grid, rows, columns, packedLevels, q.Scales, packedZeroPoints);
            Assert.Equal(q.Levels, read.Levels);
            Assert.Equal(q.ZeroPoints, read.ZeroPoints);
            Assert.Throws<ArgumentException>(() => GroupQuantizedValues.FromPacked(grid, rows, columns, [.. packedLevels, 0], q.Scales, packedZeroPoints));

            var dequantized = q.Dequantize();
            Assert.Equal(dequantized, read.Dequantize());
            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < columns; c++)
                {
                    var group = r * groupsPerRow + c / groupSize;
                    var level = q.Levels[r * columns + c];
                    Assert.InRange(level, 0, grid.LevelCount - 1);
                    Assert.Equal((level - q.Zero(group)) * (float)q.Scales[group], dequantized[r * columns + c]);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Grids))]
    public void ClippingSearchIsNeverWorseThanMinMaxRounding(string name, int groupSize)
    {
        var grid = Grid(name, groupSize);
        const int rows = 16, columns = 300;
        foreach (var values in new[] { Gaussian(rows * columns, seed: 1), HeavyTailed(rows * columns, seed: 2) })
        {
            var searched = SquaredError(values, RoundToNearest.Quantize(values, rows, columns, grid).Dequantize());
            var plain = SquaredError(values, RoundToNearest.Quantize(values, rows, columns, grid, clippingSearch: false).Dequantize());
            Assert.True(searched <= plain, $"{grid}: search {searched} > min/max {plain}");
        }

        // With outliers the search must actually clip: a clear gain, not only a tie.
        var tailed = HeavyTailed(rows * columns, seed: 3);
        var gain = SquaredError(tailed, RoundToNearest.Quantize(tailed, rows, columns, grid).Dequantize())
            / SquaredError(tailed, RoundToNearest.Quantize(tailed, rows, columns, grid, clippingSearch: false).Dequantize());
        Assert.True(gain < 0.97, $"{grid}: clipping kept {gain:P1} of the min/max error");
    }

    [Theory]
    [InlineData(32)]
    [InlineData(128)]
    public void ErrorFallsAsBitsRise(int groupSize)
    {
        const int rows = 8, columns = 512;
        var values = Gaussian(rows * columns, seed: groupSize);
        double Error(LowBitGrid grid) => SquaredError(values, RoundToNearest.Quantize(values, rows, columns, grid).Dequantize());
        var errors = new[] { Error(LowBitGrid.Ternary(groupSize)), Error(LowBitGrid.Integer(2, groupSize)), Error(LowBitGrid.Integer(3, groupSize)), Error(LowBitGrid.Integer(4, groupSize)) };
        Assert.True(errors[1] < errors[0] && errors[2] < errors[1] && errors[3] < errors[2], string.Join(" > ", errors));
        // Smaller groups fit their ranges more closely.
        Assert.True(SquaredError(values, RoundToNearest.Quantize(values, rows, columns, LowBitGrid.Integer(3, 32)).Dequantize())
            <= SquaredError(values, RoundToNearest.Quantize(values, rows, columns, LowBitGrid.Integer(3, 256)).Dequantize()));
    }

    [Theory]
    [MemberData(nameof(Grids))]
    public void ZerosStayExactAndNothingIsNaN(string name, int groupSize)
    {
        var grid = Grid(name, groupSize);
        const int columns = 70;
        var values = new float[3 * columns];
        Gaussian(columns, seed: 9).CopyTo(values, columns); // row 0 zeros, row 1 random, row 2 zeros but one value
        values[2 * columns + 5] = 0.25f;
        var dequantized = RoundToNearest.Quantize(values, 3, columns, grid).Dequantize();
        Assert.All(dequantized, v => Assert.True(float.IsFinite(v)));
        Assert.All(dequantized.Take(columns), v => Assert.Equal(0f, v));
        for (var c = 0; c < columns; c++)
        {
            if (c != 5)
            {
                Assert.Equal(0f, dequantized[2 * columns + c]);
            }
        }

        Assert.Equal(0.25f, dequantized[2 * columns + 5], 0.25f * 0.01f);
    }

    /// <summary>
    /// A constant row (a bias-like row, a saturated gate's weights) comes back exactly wherever float16 holds its value,
    /// and otherwise no further off than float16 rounding: a range from 0 alone would put it at steps·half(c/steps).
    /// </summary>
    [Theory]
    [MemberData(nameof(Grids))]
    public void ConstantRowsStayExact(string name, int groupSize)
    {
        var grid = Grid(name, groupSize);
        var constants = new[] { 0.75f, -2f, 3.5f, -0.1f, 0.1f, 1e-3f, 60000f };
        const int columns = 300; // whole groups and a shorter last one
        var values = constants.SelectMany(c => Enumerable.Repeat(c, columns)).ToArray();
        var dequantized = RoundToNearest.Quantize(values, constants.Length, columns, grid).Dequantize();
        for (var r = 0; r < constants.Length; r++)
        {
            var c = constants[r];
            var row = dequantized.Skip(r * columns).Take(columns).ToArray();
            Assert.All(row, v => Assert.Equal(row[0], v));
            if ((float)(Half)c == c)
            {
                Assert.Equal(c, row[0]);
            }
            else
            {
                Assert.True(MathF.Abs(row[0] - c) <= MathF.Abs((float)(Half)c - c), $"{grid}: {c} became {row[0]}");
            }
        }

        // GPTQ chooses its ranges by the same search, and a constant row has no error left to spread.
        var moment = new double[columns * columns];
        for (var i = 0; i < columns; i++)
        {
            moment[i * columns + i] = 1 + i % 3;
        }

        var gptq = Gptq.Quantize(values, constants.Length, columns, moment, grid).Dequantize();
        Assert.Equal(dequantized, gptq);
    }

    /// <summary>
    /// On inputs with correlated features (as a layer's really are), GPTQ's output error ‖(W − Ŵ)·X‖² is below RTN's at
    /// every low-bit grid; a feature that is always zero costs nothing and its weights become 0.
    /// </summary>
    [Theory]
    [InlineData("int4")]
    [InlineData("int3")]
    [InlineData("int2")]
    [InlineData("ternary")]
    public void GptqReducesTheOutputErrorBelowRoundToNearest(string name)
    {
        const int rows = 64, columns = 128, samples = 512;
        var grid = Grid(name, 32);
        var w = Gaussian(rows * columns, seed: 5);
        // x = A·z: 128 features mixed from 16 sources, plus a little noise, feature 7 always zero.
        var mixing = Gaussian(columns * 16, seed: 6);
        var sources = Gaussian(16 * samples, seed: 7);
        var noise = Gaussian(columns * samples, seed: 8);
        var x = new double[columns * samples];
        for (var f = 0; f < columns; f++)
        {
            for (var t = 0; t < samples; t++)
            {
                double v = 0.1 * noise[f * samples + t];
                for (var k = 0; k < 16; k++)
                {
                    v += mixing[f * 16 + k] * sources[k * samples + t];
                }

                x[f * samples + t] = f == 7 ? 0 : v;
            }
        }

        var moment = new double[columns * columns];
        for (var i = 0; i < columns; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                double sum = 0;
                for (var t = 0; t < samples; t++)
                {
                    sum += x[i * samples + t] * x[j * samples + t];
                }

                moment[i * columns + j] = sum;
            }
        }

        double OutputError(float[] q)
        {
            double total = 0;
            for (var r = 0; r < rows; r++)
            {
                for (var i = 0; i < columns; i++)
                {
                    for (var j = 0; j < columns; j++)
                    {
                        total += (w[r * columns + i] - q[r * columns + i]) * moment[i * columns + j] * (w[r * columns + j] - q[r * columns + j]);
                    }
                }
            }

            return total;
        }

        var gptq = Gptq.Quantize(w, rows, columns, moment, grid);
        var rtn = OutputError(RoundToNearest.Quantize(w, rows, columns, grid).Dequantize());
        var ours = OutputError(gptq.Dequantize());
        Assert.True(ours < 0.9 * rtn, $"{grid}: GPTQ {ours:G4} against RTN {rtn:G4}");
        Assert.All(Enumerable.Range(0, rows), r => Assert.Equal(0f, gptq.Dequantize()[r * columns + 7]));
        Assert.All(gptq.Dequantize(), v => Assert.True(float.IsFinite(v)));
    }

    /// <summary>
    /// Shapes that cross the lazy blocks of 128 columns, end in a short group, or are smaller than a group: the blocked
    /// updates still lower the output error below RTN's where there is error to spread, every value is finite, the
    /// vectors and their moment give the same bytes, and so does a second run.
    /// </summary>
    [Theory]
    [InlineData("int4", 32)]
    [InlineData("int3", 64)]
    [InlineData("int2", 128)]
    [InlineData("ternary", 256)]
    public void GptqHandlesOddShapesAndBlocks(string name, int groupSize)
    {
        var grid = Grid(name, groupSize);
        foreach (var (rows, columns) in new[] { (8, 300), (3, 129), (2, 20), (1, 1), (1, 45) })
        {
            var w = Gaussian(rows * columns, seed: rows + columns);
            var inputs = CorrelatedInputs(columns, samples: 2 * columns + 16, seed: columns);
            var moment = Gptq.SecondMoment(inputs, columns);
            var gptq = Gptq.Quantize(w, rows, columns, inputs, grid);
            var again = Gptq.Quantize(w, rows, columns, moment, grid);
            Assert.Equal(gptq.Levels, again.Levels);
            Assert.Equal(gptq.Scales, again.Scales);
            Assert.Equal(gptq.ZeroPoints, again.ZeroPoints);
            var dequantized = gptq.Dequantize();
            Assert.All(dequantized, v => Assert.True(float.IsFinite(v)));
            if (columns >= 20)
            {
                var ours = OutputError(w, dequantized, moment, rows, columns);
                var rtn = OutputError(w, RoundToNearest.Quantize(w, rows, columns, grid).Dequantize(), moment, rows, columns);
                Assert.True(ours < rtn, $"{grid} [{rows} × {columns}]: GPTQ {ours:G4} against RTN {rtn:G4}");
            }
        }

        Assert.Throws<ArgumentException>(() => Gptq.SecondMoment(new float[10], 3));
    }

    /// <summary>
    /// Inputs whose feature i + 150 repeats feature i, the features otherwise independent: all the error that GPTQ can
    /// take back goes from a column to its twin in a later block of 128, so only the update that carries a block's
    /// errors to the later columns can bring the output error well below RTN's.
    /// </summary>
    [Theory]
    [InlineData("int4")]
    [InlineData("int2")]
    [InlineData("ternary")]
    public void GptqSpreadsErrorsAcrossBlocks(string name)
    {
        const int rows = 8, columns = 300, samples = 600, half = columns / 2;
        var grid = Grid(name, 64);
        var z = Gaussian(samples * half, seed: 21);
        var noise = Gaussian(samples * half, seed: 22);
        var inputs = new float[samples * columns];
        for (var t = 0; t < samples; t++)
        {
            for (var i = 0; i < half; i++)
            {
                inputs[t * columns + i] = z[t * half + i];
                inputs[t * columns + half + i] = z[t * half + i] + 0.05f * noise[t * half + i];
            }
        }

        var w = Gaussian(rows * columns, seed: 23);
        var moment = Gptq.SecondMoment(inputs, columns);
        var ours = OutputError(w, Gptq.Quantize(w, rows, columns, moment, grid).Dequantize(), moment, rows, columns);
        var rtn = OutputError(w, RoundToNearest.Quantize(w, rows, columns, grid).Dequantize(), moment, rows, columns);
        Assert.True(ours < 0.75 * rtn, $"{grid}: GPTQ {ours:G4} against RTN {rtn:G4} ({ours / rtn:F3})");
    }

    [Fact]
    public void GridsOutsideTheFormatAreRefused()
    {
        Assert.Throws<ArgumentException>(() => LowBitGrid.Integer(5, 64));
        Assert.Throws<ArgumentException>(() => LowBitGrid.Integer(4, 48));
        Assert.Throws<ArgumentException>(() => LowBitGrid.Ternary(512));
    }

    /// <summary>‖(W − Ŵ)·X‖² from the moment Σ x·xᵀ.</summary>
    internal static double OutputError(float[] w, float[] q, double[] moment, int rows, int columns)
    {
        double total = 0;
        var d = new double[columns];
        for (var r = 0; r < rows; r++)
        {
            for (var i = 0; i < columns; i++)
            {
                d[i] = w[r * columns + i] - q[r * columns + i];
            }

            for (var i = 0; i < columns; i++)
            {
                for (var j = 0; j < columns; j++)
                {
                    total += d[i] * moment[i * columns + j] * d[j];
                }
            }
        }

        return total;
    }

    /// <summary>Row-major [samples × columns] vectors mixed from a few sources with a little noise: correlated features.</summary>
    internal static float[] CorrelatedInputs(int columns, int samples, int seed)
    {
        const int sources = 6;
        var mixing = Gaussian(columns * sources, seed);
        var z = Gaussian(samples * sources, seed + 1);
        var noise = Gaussian(samples * columns, seed + 2);
        var x = new float[samples * columns];
        for (var t = 0; t < samples; t++)
        {
            for (var i = 0; i < columns; i++)
            {
                var v = 0.1f * noise[t * columns + i];
                for (var k = 0; k < sources; k++)
                {
                    v += mixing[i * sources + k] * z[t * sources + k];
                }

                x[t * columns + i] = v;
            }
        }

        return x;
    }

    private static double SquaredError(float[] a, float[] b) => a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum();

    internal static float[] Gaussian(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();
    }

    /// <summary>Gaussian values with one in fifty multiplied by 8: the outliers that trained weights have.</summary>
    private static float[] HeavyTailed(int count, int seed)
    {
        var values = Gaussian(count, seed);
        var random = new Random(seed + 1);
        for (var i = 0; i < count; i++)
        {
            if (random.Next(50) == 0)
            {
                values[i] *= 8;
            }
        }

        return values;
    }
}
