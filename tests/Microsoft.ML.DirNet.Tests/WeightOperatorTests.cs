using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Runtime.Operators;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The native operators that multiply compressed matrices directly agree with the matrices' reference products, for
/// one input (a recurrent step) and for batches on either side of the batched kernels' threshold, when writing and
/// when accumulating, on odd sizes; and their row ranges and single rows (GRU's gate split, embedding lookups) agree
/// with the dense matrix.
/// </summary>
public sealed class WeightOperatorTests
{
    private static float[] Random(int count, Random random) =>
        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    private static SparseRows RandomSparse(int rows, int columns, double density, Random random) =>
        SparseRows.FromDense(Random(rows * columns, random), rows, columns, (_, _) => random.NextDouble() < density);

    public static IEnumerable<object[]> Matrices() =>
    [
        ["dense"], ["lowrank"], ["prune"], ["dictionary-sparse"], ["dictionary-dense-codes"], ["hybrid"], ["hybrid-no-dense-rows"],
        ["hybrid-tall-blocks"], ["hybrid-many-blocks"], ["hybrid-two-slabs"],
        ["dense-int8"], ["lowrank-int8"], ["dictionary-dense-codes-int8"], ["dictionary-sparse-int8"], ["hybrid-int8"],
    ];

    private static CompressedMatrix Create(string form)
    {
        if (form.EndsWith("-int8", StringComparison.Ordinal))
        {
            // The same structure with int8 values and row scales: single inputs run through the int8 kernels.
            return Create(form[..^"-int8".Length]).ToInt8Precision([]);
        }

        var random = new Random(form.Length * 31 + 7);
        const int rows = 37, columns = 23;
        return form switch
        {
            "dense" => new DenseMatrix(Random(rows * columns, random), rows, columns),
            "lowrank" => new LowRankMatrix(Random(rows * 5, random), Random(5 * columns, random), rows, columns, 5),
            "prune" => new SparseMatrix(RandomSparse(rows, columns, 0.2, random)),
            "dictionary-sparse" => new DictionaryMatrix("dirnet", Random(40 * columns, random), 40, RandomSparse(rows, 40, 0.05, random), true),
            "dictionary-dense-codes" => new DictionaryMatrix("dirnet", Random(11 * columns, random), 11, RandomSparse(rows, 11, 0.4, random), true),
            "hybrid" => new HybridMatrix(rows, columns, 6, 5, 4, Random(6 * columns, random), Random(4 * (rows - 6), random), Random(5 * columns, random)),
            "hybrid-no-dense-rows" => new HybridMatrix(rows, columns, 0, 9, 7, [], Random(7 * rows, random), Random(9 * columns, random)),
            // Block rows of 14-15 rows (a whole vector of outputs and a part), and 37 block rows of 8 over 41 columns
            // (more than one slab of block rows, so the hybrid kernel's slab loop and its four-vector paths run).
            "hybrid-tall-blocks" => new HybridMatrix(103, columns, 2, 7, 5, Random(2 * columns, random), Random(5 * 101, random), Random(7 * columns, random)),
            "hybrid-many-blocks" => new HybridMatrix(300, 41, 4, 37, 9, Random(4 * 41, random), Random(9 * 296, random), Random(37 * 41, random)),
            // 87 block rows of 8 and 10 block columns: a whole slab of 64 block rows for one input (its eight-vector
            // path) and then a partial one, and pairs of block rows for a tile of four inputs.
            "hybrid-two-slabs" => new HybridMatrix(700, 41, 4, 87, 10, Random(4 * 41, random), Random(10 * 696, random), Random(87 * 41, random)),
            _ => throw new ArgumentException(form),
        };
    }

    [Theory]
    [MemberData(nameof(Matrices))]
    public void ProductsMatchTheReference(string form)
    {
        var matrix = Create(form);
        var weight = WeightOperator.For(matrix);
        Assert.Equal((matrix.Rows, matrix.Columns), (weight.Rows, weight.Columns));
        var random = new Random(3);
        foreach (var m in new[] { 1, 3, DictionaryWeight.BatchRows, 19 })
        {
            var a = Random(m * matrix.Columns, random);
            var expected = new float[m * matrix.Rows];
            matrix.Multiply(a, m, expected);
            var written = Random(m * matrix.Rows, random);
            weight.Multiply(a, m, written, accumulate: false);
            var start = Random(m * matrix.Rows, random);
            var accumulated = (float[])start.Clone();
            weight.Multiply(a, m, accumulated, accumulate: true);
            for (var i = 0; i < expected.Length; i++)
            {
                Assert.True(MathF.Abs(written[i] - expected[i]) <= 1e-4f, $"{form} m={m} [{i}]: {written[i]} vs {expected[i]}");
                Assert.True(MathF.Abs(accumulated[i] - start[i] - expected[i]) <= 1e-4f, $"{form} m={m} accumulate [{i}]");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Matrices))]
    public void RowsAndRowRangesMatchTheDenseMatrix(string form)
    {
        var matrix = Create(form);
        var dense = matrix.ToDense();
        var weight = WeightOperator.For(matrix);
        var row = new float[matrix.Columns];
        for (var r = 0; r < matrix.Rows; r++)
        {
            weight.ReadRow(r, row);
            for (var k = 0; k < matrix.Columns; k++)
            {
                Assert.True(MathF.Abs(row[k] - dense[r * matrix.Columns + k]) <= 1e-5f, $"{form} row {r} column {k}");
            }
        }

        var range = weight.RowRange(10, 13);
        Assert.Same(range, weight.RowRange(10, 13)); // made once: a compressed range packs its own arrays
        var x = Random(matrix.Columns, new Random(5));
        var y = new float[13];
        range.Multiply(x, 1, y, accumulate: false);
        for (var r = 0; r < 13; r++)
        {
            var expected = Enumerable.Range(0, matrix.Columns).Sum(k => dense[(10 + r) * matrix.Columns + k] * x[k]);
            Assert.True(MathF.Abs(y[r] - expected) <= 1e-4f, $"{form} range row {r}");
        }
    }

    [Theory]
    [InlineData("dense-int8")]
    [InlineData("lowrank-int8")]
    [InlineData("dictionary-dense-codes-int8")]
    public void Int8ValuesRunThroughTheInt8Kernels(string form)
    {
        Assert.Equal(Numerics.PackedInt8Matrix.IsSupported, WeightOperator.For(Create(form)).RunsInt8);
        Assert.False(WeightOperator.For(Create(form[..^"-int8".Length])).RunsInt8);
    }

    [Fact]
    public void DenseCodesAreChosenOnlyAboveTheVectorDensity()
    {
        // The two dictionaries above exercise both paths: 5 % codes stay sparse, 40 % run as a dense matrix.
        Assert.False(((DictionaryWeight)WeightOperator.For(Create("dictionary-sparse"))).UsesDenseCodes);
        Assert.True(((DictionaryWeight)WeightOperator.For(Create("dictionary-dense-codes"))).UsesDenseCodes);
    }
}
