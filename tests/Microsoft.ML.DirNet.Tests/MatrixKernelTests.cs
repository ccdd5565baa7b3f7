using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The dense product kernels against a plain triple loop on shapes that hit each remainder path: MatMul's row-major
/// kernel (tiles of four rows, pairs of vectors of columns, single vectors, narrower rungs and single columns, leftover
/// rows) and the packed kernel
/// (pairs of panels for four rows at a time, two or three rows left over padded to four, groups of four panels for
/// single rows, a partial last panel).
/// </summary>
public sealed class MatrixKernelTests
{
    public static IEnumerable<object[]> Shapes() =>
        from m in new[] { 1, 3, 4, 6, 7, 13 }
        from k in new[] { 1, 6, 19 }
        from n in new[] { 1, 5, 8, 29, 45 }
        select new object[] { m, k, n };

    private static float[] Random(int count, Random random) =>
        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    /// <summary>MatMul's row-major kernel (B as [k, n]) from every rung of the SIMD ladder down.</summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void RowMajorProductMatchesTheDefinitionOnEveryRung(int m, int k, int n)
    {
        var random = new Random(m * 1000 + k * 10 + n);
        var (a, b, start) = (Random(m * k, random), Random(k * n, random), Random(m * n, random));
        AssertProductOnEveryRung((x, count, c, accumulate, rung) => MatrixMultiply.Multiply(x, count, k, b, n, c, accumulate, rung),
            a, m, start, n, k, (j, p) => b[p * n + j], "row-major B");
    }

    /// <summary>The packed float kernel on every rung of the SIMD ladder (a wider one than the processor's emulated).</summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void PackedProductMatchesTheDefinitionOnEveryRung(int m, int k, int n)
    {
        var random = new Random(m * 1000 + k * 10 + n + 1);
        var rows = 4 * n; // up to 180 outputs: several groups of four 8-row panels and a partial panel
        var (w, a, start) = (Random(rows * k, random), Random(m * k, random), Random(m * rows, random));
        AssertProductOnEveryRung((x, count, c, accumulate, rung) => PackedMatrix.For(w, 0, rows, k, rung).Multiply(x, count, c, accumulate),
            a, m, start, rows, k, (r, p) => w[r * k + p], "packed float32");
    }

    /// <summary>
    /// A MatMul weight B [k, n] packed as W = Bᵀ straight from its rows (PackedMatrix.ForTransposed), on every rung: C =
    /// A·B to 1e-4 relative, written and accumulated, over partial panels and blocks of rows.
    /// </summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void PackedTransposedProductIsTheMatMulOfBOnEveryRung(int m, int k, int n)
    {
        var random = new Random(m * 1000 + k * 10 + n + 7);
        var (a, b, start) = (Random(m * k, random), Random(k * n, random), Random(m * n, random));
        AssertProductOnEveryRung((x, count, c, accumulate, rung) => PackedMatrix.ForTransposed(b, k, n, rung).Multiply(x, count, c, accumulate),
            a, m, start, n, k, (j, p) => b[p * n + j], "packed Bᵀ");
    }

    public static IEnumerable<object[]> LowBitShapes() =>
        from grid in new[] { "int4 g32", "int3 g64", "int2 g32", "ternary g128", "int4 g256" }
        from rows in new[] { 1, 15, 16, 17, 37 }
        from columns in new[] { 1, 7, 8, 33, 300 }
        select new object[] { grid, rows, columns };

    /// <summary>
    /// The low-bit kernel on every rung of the SIMD ladder (each runs here, a wider one than the processor's emulated)
    /// against the dequantized matrix: partial panels, groups padded to whole words, a partial last group, one and
    /// several inputs, written and accumulated, on a range of rows of a larger array.
    /// </summary>
    [Theory]
    [MemberData(nameof(LowBitShapes))]
    public void LowBitProductMatchesTheDequantizedMatrixOnEveryRung(string gridName, int rows, int columns)
    {
        var random = new Random(rows * 1000 + columns);
        var (grid, packed, w) = LowBitMatrix(gridName, rows, columns, random);
        foreach (var m in new[] { 1, 3 })
        {
            AssertProductOnEveryRung(packed.Multiply, Random(m * columns, random), m, Random(m * rows, random), rows, columns,
                (r, k) => w[r * columns + k], $"{grid} [{rows} x {columns}]");
        }
    }

    /// <summary>
    /// A seeded matrix on the grid named <paramref name="gridName"/> (e.g. "int4 g32"), packed from rows [3, 3 +
    /// <paramref name="rows"/>) of a larger array, and its dequantized values (row-major).
    /// </summary>
    private static (LowBitGrid Grid, PackedLowBitMatrix Packed, float[] Values) LowBitMatrix(string gridName, int rows, int columns, Random random)
    {
        var (bits, group) = (gridName.Split(' ')[0], int.Parse(gridName.Split(' ')[1][1..]));
        var grid = bits == "ternary" ? LowBitGrid.Ternary(group) : LowBitGrid.Integer(bits[3] - '0', group);
        const int above = 3;
        var stored = RoundToNearest.Quantize(Random((above + rows + 2) * columns, random), above + rows + 2, columns, grid);
        return (grid, PackedLowBitMatrix.For(stored, above, rows), stored.Dequantize().AsSpan(above * columns, rows * columns).ToArray());
    }

    /// <summary>The int8 kernel on every rung against the int8 matrix: partial panels, columns padded to whole steps, a range of rows.</summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void Int8ProductMatchesTheDefinitionOnEveryRung(int m, int k, int n)
    {
        var random = new Random(m * 1000 + k * 10 + n + 2);
        var (rows, columns) = (4 * n, 3 * k);
        var (packed, weight) = Int8Matrix(rows, columns, random);
        AssertProductOnEveryRung(packed.Multiply, Random(m * columns, random), m, Random(m * rows, random), rows, columns, weight, $"[{rows} x {columns}]");
    }

    /// <summary>
    /// A seeded int8 matrix packed from rows [2, 2 + <paramref name="rows"/>) of a larger array (its first row all
    /// zeros), and its values by row and column.
    /// </summary>
    private static (PackedInt8Matrix Packed, Func<int, int, float> Weight) Int8Matrix(int rows, int columns, Random random)
    {
        const int above = 2;
        var scales = Random(above + rows, random).Select(v => MathF.Abs(v) / 127).ToArray();
        scales[above] = 0;
        var values = Enumerable.Range(0, (above + rows) * columns).Select(i => random.Next(-127, 128) * scales[i / columns]).ToArray();
        return (PackedInt8Matrix.For(values, scales, above * columns, rows, columns), (r, p) => values[(above + r) * columns + p]);
    }

    /// <summary>
    /// The int8 kernel with its inputs quantized (integer dot products, AVX-VNNI or AVX-512BW) over partial panels, padded columns,
    /// a range of rows and batches of 1 to 13 (four rows at a time and the rest one by one): see
    /// <see cref="AssertQuantizedInputProduct"/>. Where the processor has no integer dot products, the call is refused.
    /// </summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void QuantizedInputInt8ProductMatchesTheDefinitionOnQuantizedInputs(int m, int k, int n)
    {
        var random = new Random(m * 1000 + k * 10 + n + 3);
        var (rows, columns) = (4 * n, 3 * k);
        var (packed, weight) = Int8Matrix(rows, columns, random);
        AssertQuantizedInputProduct(packed.MultiplyQuantized, Random(m * columns, random), m, Random(m * rows, random), rows, columns, weight, $"int8 [{rows} x {columns}]");
    }

    /// <summary>
    /// The low-bit kernel with its inputs quantized (integer dot products on the nibbles, even and odd columns apart),
    /// against the dequantized matrix: partial panels, groups padded to whole words, a partial last group, a range of
    /// rows, one and several inputs (four at a time and the rest one by one); see <see cref="AssertQuantizedInputProduct"/>.
    /// </summary>
    [Theory]
    [MemberData(nameof(LowBitShapes))]
    public void QuantizedInputLowBitProductMatchesTheDequantizedMatrixOnQuantizedInputs(string gridName, int rows, int columns)
    {
        var random = new Random(rows * 1000 + columns + 1);
        var (grid, packed, w) = LowBitMatrix(gridName, rows, columns, random);
        foreach (var m in new[] { 1, 3, 6 })
        {
            AssertQuantizedInputProduct(packed.MultiplyQuantized, Random(m * columns, random), m, Random(m * rows, random), rows, columns,
                (r, k) => w[r * columns + k], $"{grid} [{rows} x {columns}]");
        }
    }

    /// <summary>
    /// The vector form of the inputs' int8 levels is the scalar definition element by element: random values, exact
    /// ties (n + ½ steps, both signs, which round to even), values past ±127 steps (clamped), a length that is not a
    /// multiple of the vector, and a zero step.
    /// </summary>
    [Fact]
    public void SymmetricInt8LevelsAreTheScalarDefinitionOnEveryValue()
    {
        var random = new Random(17);
        const float step = 0.0625f; // a power of two, so that (n + ½)·step is exact
        var values = Random(103, random).Select(v => v * 9f)
            .Concat(Enumerable.Range(-130, 261).Select(n => (n + 0.5f) * step))
            .Concat([128 * step, -200 * step, 0f, -0f]).ToArray();
        foreach (var s in new[] { step, 0f, SymmetricInt8.Step(values) })
        {
            var levels = new int[values.Length];
            SymmetricInt8.Levels(values, s, levels);
            for (var i = 0; i < values.Length; i++)
            {
                Assert.True(SymmetricInt8.Level(values[i], s) == levels[i], $"value {values[i]} at step {s}: level {levels[i]}, the definition {SymmetricInt8.Level(values[i], s)}");
            }
        }

        Assert.Equal(2, SymmetricInt8.Level(2.5f * step, step)); // ties go to even, as MathF.Round
    }

    /// <summary>
    /// The quantized-input kernels at their largest sums: int4 levels all 15 (every group's values 0 then 1s) and int8
    /// levels all ±127, against inputs whose levels are all +127 or all −127, over long groups (256 columns), so that a
    /// kernel adding more products in 16 or 32 bits than they hold gives a wrong sum here.
    /// </summary>
    [Fact]
    public void QuantizedInputProductsHoldTheirLargestSums()
    {
        const int rows = 17, columns = 512;
        const int m = 5; // four at once, then one
        var inputs = Enumerable.Range(0, m * columns).Select(i => i / columns % 2 == 0 ? 1.5f : -1.5f).ToArray();
        var random = new Random(11);
        var ones = Enumerable.Range(0, (rows + 1) * columns).Select(i => i % 256 == 0 ? 0f : 1f).ToArray();
        var int4 = RoundToNearest.Quantize(ones, rows + 1, columns, LowBitGrid.Integer(4, 256));
        Assert.Equal(15, int4.Levels[1]);
        var dequantized = int4.Dequantize();
        AssertQuantizedInputProduct(PackedLowBitMatrix.For(int4, 1, rows).MultiplyQuantized, inputs, m, Random(m * rows, random), rows, columns,
            (r, k) => dequantized[(r + 1) * columns + k], "int4 levels 15");

        var scales = Enumerable.Repeat(0.01f, rows).ToArray();
        var values = Enumerable.Range(0, rows * columns).Select(i => (i / columns % 2 == 0 ? 127 : -127) * 0.01f).ToArray();
        AssertQuantizedInputProduct(PackedInt8Matrix.For(values, scales, 0, rows, columns).MultiplyQuantized, inputs, m, Random(m * rows, random), rows, columns,
            (r, k) => values[r * columns + k], "int8 levels ±127");
    }

    /// <summary>
    /// A product with its inputs quantized, written and accumulated: each output is, to float rounding, the matrix
    /// times the input as quantized (symmetric int8, one scale per input row: its largest magnitude over 127), and
    /// within the rounding bound Σ|w|·sₓ/2 of the float product. The first input's largest magnitude is negative. Where
    /// the processor has no integer dot products, the call must be refused.
    /// </summary>
    private static void AssertQuantizedInputProduct(Action<ReadOnlySpan<float>, int, Span<float>, bool> multiply,
        float[] a, int m, float[] start, int rows, int columns, Func<int, int, float> weight, string label)
    {
        a[0] = -1.5f;
        if (!PackedInt8Matrix.HasIntegerDotProducts)
        {
            Assert.Throws<InvalidOperationException>(() => multiply(a, m, new float[m * rows], false));
            return;
        }

        foreach (var accumulate in new[] { false, true })
        {
            var c = (float[])start.Clone();
            multiply(a, m, c, accumulate);
            for (var i = 0; i < m; i++)
            {
                var x = a.AsSpan(i * columns, columns).ToArray();
                var step = x.Max(MathF.Abs) / 127;
                var quantized = x.Select(v => step == 0 ? 0 : System.Math.Clamp(MathF.Round(v / step), -127, 127) * step).ToArray();
                for (var r = 0; r < rows; r++)
                {
                    var w = Enumerable.Range(0, columns).Select(p => (double)weight(r, p)).ToArray();
                    var offset = accumulate ? start[i * rows + r] : 0.0;
                    var expected = offset + w.Select((v, p) => v * quantized[p]).Sum();
                    var exact = offset + w.Select((v, p) => v * x[p]).Sum();
                    var bound = w.Sum(System.Math.Abs) * step / 2;
                    Assert.True(System.Math.Abs(c[i * rows + r] - expected) <= 1e-5 * (1 + System.Math.Abs(expected) + w.Sum(System.Math.Abs)),
                        $"{label} m={m} accumulate={accumulate} [{i},{r}]: {c[i * rows + r]} vs {expected} on the quantized input");
                    Assert.True(System.Math.Abs(c[i * rows + r] - exact) <= bound + 1e-5 * (1 + System.Math.Abs(exact)),
                        $"{label} m={m} [{i},{r}]: {c[i * rows + r]} is {System.Math.Abs(c[i * rows + r] - exact):G3} from the float product, over the rounding bound {bound:G3}");
                }
            }
        }
    }

    /// <summary>A packed kernel's multiply on every rung, written and accumulated, is C = A·Wᵀ (+ start) within 1e-4 relative.</summary>
    private static void AssertProductOnEveryRung(Action<ReadOnlySpan<float>, int, Span<float>, bool, Numerics.Simd.LaneWidth> multiply,
        float[] a, int m, float[] start, int rows, int columns, Func<int, int, float> weight, string label)
    {
        foreach (var rung in Enum.GetValues<Numerics.Simd.LaneWidth>())
        {
            foreach (var accumulate in new[] { false, true })
            {
                var c = (float[])start.Clone();
                multiply(a, m, c, accumulate, rung);
                for (var i = 0; i < m; i++)
                {
                    for (var r = 0; r < rows; r++)
                    {
                        var expected = (accumulate ? start[i * rows + r] : 0.0) + Enumerable.Range(0, columns).Sum(k => (double)weight(r, k) * a[i * columns + k]);
                        Assert.True(System.Math.Abs(c[i * rows + r] - expected) <= 1e-4 * (1 + System.Math.Abs(expected)),
                            $"{label} m={m} {rung} accumulate={accumulate} [{i},{r}]: {c[i * rows + r]} vs {expected}");
                    }
                }
            }
        }
    }
}
