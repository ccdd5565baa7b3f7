using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Every stored form's own fast product (what the native engine runs, and what its public products run) agrees with
/// the dense matrix it represents (<see cref="CompressedMatrix.ToDense"/>, the oracle), for one input (a recurrent
/// step) and for batches on either side of the batched kernels' threshold, when writing and when accumulating, on odd
/// sizes, with values as float32, float16 and int8; and its row ranges and single rows (GRU's gate split, embedding
/// lookups) agree with the dense matrix.
/// </summary>
public sealed class FormProductTests
{
    private static float[] Random(int count, Random random) =>
        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    private static SparseRows RandomSparse(int rows, int columns, double density, Random random) =>
        SparseRows.FromDense(Random(rows * columns, random), rows, columns, (_, _) => random.NextDouble() < density);

    public static IEnumerable<object[]> Matrices() =>
    [
        ["dense"], ["lowrank"], ["prune"], ["dictionary-sparse"], ["dictionary-dense-codes"], ["hybrid"], ["hybrid-no-dense-rows"],
        ["hybrid-tall-blocks"], ["hybrid-many-blocks"], ["hybrid-two-slabs"],
        ["dense-int8"], ["lowrank-int8"], ["dictionary-dense-codes-int8"], ["dictionary-sparse-int8"], ["hybrid-int8"], ["prune-int8"],
        ["dense-fp16"], ["lowrank-fp16"], ["prune-fp16"], ["dictionary-sparse-fp16"], ["dictionary-dense-codes-fp16"], ["hybrid-fp16"],
        ["dense-wide"], ["dense-int4"], ["dense-int3"], ["dense-int2"], ["dense-ternary"], ["dense-wide-int4"], ["dense-wide-int2"], ["dense-wide-ternary"],
        ["lowrank-int4"], ["lowrank-int3"], ["prune-int4"], ["dictionary-sparse-int3"], ["hybrid-int4"],
    ];

    /// <summary>The low-bit grids a form name may end with (groups of 32: the 23 columns make one partial group, dense-wide's 301 ten).</summary>
    private static readonly Dictionary<string, LowBitGrid> LowBitSuffixes = new()
    {
        ["-int4"] = LowBitGrid.Integer(4, 32), ["-int3"] = LowBitGrid.Integer(3, 32), ["-int2"] = LowBitGrid.Integer(2, 32), ["-ternary"] = LowBitGrid.Ternary(32),
    };

    private static CompressedMatrix Create(string form)
    {
        if (form.EndsWith("-int8", StringComparison.Ordinal))
        {
            // The same structure with int8 values and row scales: single inputs run through the int8 kernels.
            return Create(form[..^"-int8".Length]).ToInt8Precision([]);
        }

        if (form.EndsWith("-fp16", StringComparison.Ordinal))
        {
            // Values rounded to float16 and kept as float32: the products run the float32 kernels on the rounded values.
            return Create(form[..^"-fp16".Length]).ToHalfPrecision([]);
        }

        foreach (var (suffix, grid) in LowBitSuffixes)
        {
            if (form.EndsWith(suffix, StringComparison.Ordinal))
            {
                // Values on the grid, levels kept: dense matrices and low-rank factors run single inputs from the levels.
                return Create(form[..^suffix.Length]).ToLowBitPrecision(grid, (factor, moment) => LowBitPrecision.Quantize(factor, moment, grid), null, []);
            }
        }

        var random = new Random(form.Length * 31 + 7);
        const int rows = 37, columns = 23;
        return form switch
        {
            "dense" => new DenseMatrix(Random(rows * columns, random), rows, columns),
            "dense-wide" => new DenseMatrix(Random(45 * 301, random), 45, 301),
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

    /// <summary>C = A·Wᵀ from the dense matrix, in double: the oracle every fast product is held to.</summary>
    private static float[] DenseProduct(float[] dense, int rows, int columns, float[] a, int m)
    {
        var c = new float[m * rows];
        for (var i = 0; i < m; i++)
        {
            for (var r = 0; r < rows; r++)
            {
                var sum = 0.0;
                for (var k = 0; k < columns; k++)
                {
                    sum += (double)dense[r * columns + k] * a[i * columns + k];
                }

                c[i * rows + r] = (float)sum;
            }
        }

        return c;
    }

    /// <summary>
    /// The hybrid kernels and the sparse batch kernel (pruned weights, DirNet's codes) packed for and run on every rung of
    /// the SIMD ladder (a wider one than the processor's emulated), against the dense matrix.
    /// </summary>
    [Theory]
    [InlineData("hybrid")]
    [InlineData("hybrid-no-dense-rows")]
    [InlineData("hybrid-tall-blocks")]
    [InlineData("hybrid-many-blocks")]
    [InlineData("hybrid-two-slabs")]
    [InlineData("prune")]
    public void ProductsMatchTheDenseMatrixOnEveryRung(string form)
    {
        var matrix = Create(form);
        var dense = matrix.ToDense();
        var random = new Random(5);
        foreach (var rung in Enum.GetValues<Numerics.Simd.LaneWidth>())
        {
            foreach (var m in new[] { 1, 3, 4, SparseRows.BatchRows, 19 })
            {
                var a = Random(m * matrix.Columns, random);
                var expected = DenseProduct(dense, matrix.Rows, matrix.Columns, a, m);
                foreach (var accumulate in new[] { false, true })
                {
                    var start = Random(m * matrix.Rows, random);
                    var c = (float[])start.Clone();
                    if (matrix is HybridMatrix hybrid)
                    {
                        hybrid.Multiply(a, m, c, accumulate, rung);
                    }
                    else if (m >= SparseRows.BatchRows)
                    {
                        ((SparseMatrix)matrix).Storage.MultiplyBatch(a, m, c, accumulate, rung);
                    }
                    else
                    {
                        continue; // single inputs of a sparse matrix run one scalar kernel on every machine
                    }

                    for (var i = 0; i < expected.Length; i++)
                    {
                        var got = accumulate ? c[i] - start[i] : c[i];
                        Assert.True(MathF.Abs(got - expected[i]) <= 1e-4f, $"{form} {rung} m={m} accumulate={accumulate} [{i}]: {got} vs {expected[i]}");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Matrices))]
    public void ProductsMatchTheDenseMatrix(string form)
    {
        var matrix = Create(form);
        var dense = matrix.ToDense();
        var random = new Random(3);
        foreach (var m in new[] { 1, 3, SparseRows.BatchRows, 19 })
        {
            var a = Random(m * matrix.Columns, random);
            var expected = DenseProduct(dense, matrix.Rows, matrix.Columns, a, m);
            var written = Random(m * matrix.Rows, random);
            matrix.Multiply(a, m, written, accumulate: false);
            var start = Random(m * matrix.Rows, random);
            var accumulated = (float[])start.Clone();
            matrix.Multiply(a, m, accumulated, accumulate: true);
            var batch = Random(m * matrix.Rows, random);
            matrix.Multiply(a, m, batch);
            for (var i = 0; i < expected.Length; i++)
            {
                Assert.True(MathF.Abs(written[i] - expected[i]) <= 1e-4f, $"{form} m={m} [{i}]: {written[i]} vs {expected[i]}");
                Assert.True(MathF.Abs(accumulated[i] - start[i] - expected[i]) <= 1e-4f, $"{form} m={m} accumulate [{i}]");
                Assert.Equal(written[i], batch[i]); // the public batch product is the engine's product
            }
        }

        // The public one-vector product, on spans longer than the matrix: the same product, the rest left alone.
        var x = Random(matrix.Columns + 3, random);
        var y = Enumerable.Repeat(7f, matrix.Rows + 2).ToArray();
        matrix.Multiply(x, y);
        var one = DenseProduct(dense, matrix.Rows, matrix.Columns, x, 1);
        for (var r = 0; r < matrix.Rows; r++)
        {
            Assert.True(MathF.Abs(y[r] - one[r]) <= 1e-4f, $"{form} one vector [{r}]: {y[r]} vs {one[r]}");
        }

        Assert.Equal([7f, 7f], y[matrix.Rows..]);
    }

    [Theory]
    [MemberData(nameof(Matrices))]
    public void RowRangesMatchTheDenseRowsForBatchesAndAccumulation(string form)
    {
        var matrix = Create(form);
        var dense = matrix.ToDense();
        var random = new Random(11);
        foreach (var (first, count) in new[] { (0, 2 * matrix.Rows / 3), (2 * matrix.Rows / 3, matrix.Rows - 2 * matrix.Rows / 3), (10, 13) })
        {
            var range = matrix.RowRange(first, count);
            Assert.Equal((count, matrix.Columns, matrix.Form), (range.Rows, range.Columns, range.Form));
            var rows = dense.AsSpan(first * matrix.Columns, count * matrix.Columns).ToArray();
            Assert.Equal(rows, range.ToDense());
            var row = new float[matrix.Columns];
            for (var r = 0; r < count; r++)
            {
                range.ReadRow(r, row);
                for (var k = 0; k < matrix.Columns; k++)
                {
                    Assert.True(MathF.Abs(row[k] - rows[r * matrix.Columns + k]) <= 1e-5f, $"{form} range {first} row {r} column {k}");
                }
            }

            foreach (var m in new[] { 1, 5, 19 })
            {
                var a = Random(m * matrix.Columns, random);
                var expected = DenseProduct(rows, count, matrix.Columns, a, m);
                var written = Random(m * count, random);
                range.Multiply(a, m, written, accumulate: false);
                var start = Random(m * count, random);
                var accumulated = (float[])start.Clone();
                range.Multiply(a, m, accumulated, accumulate: true);
                for (var i = 0; i < expected.Length; i++)
                {
                    Assert.True(MathF.Abs(written[i] - expected[i]) <= 1e-4f, $"{form} range {first} m={m} [{i}]: {written[i]} vs {expected[i]}");
                    Assert.True(MathF.Abs(accumulated[i] - start[i] - expected[i]) <= 1e-4f, $"{form} range {first} m={m} accumulate [{i}]");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Matrices))]
    public void RowsAndRowRangesMatchTheDenseMatrix(string form)
    {
        var matrix = Create(form);
        var dense = matrix.ToDense();
        var row = new float[matrix.Columns];
        for (var r = 0; r < matrix.Rows; r++)
        {
            matrix.ReadRow(r, row);
            for (var k = 0; k < matrix.Columns; k++)
            {
                Assert.True(MathF.Abs(row[k] - dense[r * matrix.Columns + k]) <= 1e-5f, $"{form} row {r} column {k}");
            }
        }

        var range = matrix.RowRange(10, 13);
        Assert.Same(range, matrix.RowRange(10, 13)); // made once: a compressed range packs its own arrays
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
        Assert.Equal(Numerics.PackedInt8Matrix.IsPreferred, Create(form).RunsInt8);
        Assert.False(Create(form[..^"-int8".Length]).RunsInt8);
    }

    [Theory]
    [InlineData("dense-int4")]
    [InlineData("dense-ternary")]
    [InlineData("lowrank-int3")]
    public void LowBitValuesRunFromTheirLevels(string form)
    {
        var matrix = Create(form);
        Assert.Equal(PackedLowBitMatrix.IsPreferred, matrix.RunsLowBit);
        Assert.Equal(PackedLowBitMatrix.IsPreferred, matrix.RowRange(10, 13).RunsLowBit); // a range reads its rows of the whole array's levels
        Assert.False(Create(form[..form.LastIndexOf('-')]).RunsLowBit);
        Assert.False(Create("hybrid-int4").RunsLowBit); // forms without a low-bit kernel run on the dequantized values
    }

    [Fact]
    public void DenseCodesAreChosenOnlyAboveTheVectorDensity()
    {
        // The two dictionaries above exercise both paths: 5 % codes stay sparse, 40 % run as a dense matrix.
        Assert.False(((DictionaryMatrix)Create("dictionary-sparse")).UsesDenseCodes);
        Assert.True(((DictionaryMatrix)Create("dictionary-dense-codes")).UsesDenseCodes);
    }

    [Theory]
    [InlineData("dense-int8")]
    [InlineData("lowrank-int8")]
    [InlineData("dictionary-dense-codes-int8")]
    public void RowRangesOfInt8ValuesKeepTheirScales(string form)
    {
        // A range reads its rows' scales from the whole array's, so GRU's gate blocks stay on the int8 kernels.
        Assert.Equal(Numerics.PackedInt8Matrix.IsPreferred, Create(form).RowRange(10, 13).RunsInt8);
    }

    [Fact]
    public void EngineFormsReportTheirForms()
    {
        Assert.Equal(
            ["dense", "lowrank", "sparse", "dictionary", "dictionary", "hybrid", "dense"],
            new[] { "dense", "lowrank", "prune", "dictionary-sparse", "dictionary-dense-codes", "hybrid", "dense-int8" }.Select(f => Create(f).Form));
    }

    [Fact]
    public void ADenseViewReadsItsSliceInPlaceAndCopiesItOnlyToStoreIt()
    {
        // The engine's view of direction 1 of a [2, 5, 3] weight tensor: no copy to multiply, read or split.
        const int rows = 5, columns = 3;
        var tensor = Random(2 * rows * columns, new Random(17));
        var view = new DenseMatrix(tensor, rows * columns, rows, columns);
        var slice = tensor[(rows * columns)..];
        Assert.Equal(slice, view.ToDense());
        Assert.Equal(slice, view.Values.ToArray());
        Assert.Equal(rows * columns, view.Parameters);
        var stored = Assert.Single(view.Factors);
        Assert.Equal(slice, ((Tensors.Tensor<float>)stored.Tensor).Data);
        Assert.Same(((Tensors.Tensor<float>)stored.Tensor).Data, ((Tensors.Tensor<float>)view.Factors[0].Tensor).Data); // copied once
        Assert.Equal(rows * columns * sizeof(float), view.StorageBytes);

        var a = Random(4 * columns, new Random(18));
        var c = new float[4 * rows];
        view.Multiply(a, 4, c, accumulate: false);
        var expected = DenseProduct(slice, rows, columns, a, 4);
        Assert.All(Enumerable.Range(0, c.Length), i => Assert.True(MathF.Abs(c[i] - expected[i]) <= 1e-5f));

        var row = new float[columns];
        view.RowRange(2, 3).ReadRow(1, row);
        Assert.Equal(slice[(3 * columns)..(4 * columns)], row);

        // Changes to the tensor show through (it is read, not copied).
        tensor[rows * columns] = 42;
        view.ReadRow(0, row);
        Assert.Equal(42, row[0]);

        // An ONNX tensor may have an empty dimension; the view multiplies it as a zero product.
        var empty = new DenseMatrix(tensor, 0, 0, columns);
        empty.Multiply(a, 4, Span<float>.Empty, accumulate: false);
    }

    [Theory]
    [InlineData("dictionary-dense-codes")]
    [InlineData("hybrid-two-slabs")]
    [InlineData("lowrank-int8")]
    [InlineData("dense-int8")]
    public void AFreshFormGivesTheSameProductsFromManyThreadsAtOnce(string form)
    {
        // The packed state is built on first use; threads racing to build it all get the same products.
        var reference = Create(form);
        var random = new Random(23);
        var inputs = Enumerable.Range(0, 8).Select(i => Random((i % 2 == 0 ? 1 : 9) * reference.Columns, random)).ToArray();
        var expected = inputs.Select(a =>
        {
            var c = new float[a.Length / reference.Columns * reference.Rows];
            reference.Multiply(a, a.Length / reference.Columns, c, accumulate: false);
            return c;
        }).ToArray();

        var fresh = Create(form);
        var results = new float[inputs.Length][];
        Parallel.For(0, inputs.Length, new ParallelOptions { MaxDegreeOfParallelism = inputs.Length }, i =>
        {
            var m = inputs[i].Length / fresh.Columns;
            results[i] = new float[m * fresh.Rows];
            fresh.Multiply(inputs[i], m, results[i], accumulate: false);
        });

        for (var i = 0; i < inputs.Length; i++)
        {
            Assert.Equal(expected[i], results[i]);
        }
    }
}
