using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Numerics;
using static Microsoft.ML.DirNet.Tests.GroupQuantizationTests;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The left factor refitted to a quantized right factor (<see cref="LowRankRefit"/>): the least-squares optimum of the
/// output error ‖(W − U·V̂)·X‖² on seeded correlated inputs, so no other U does better, and it takes back part of the
/// error V's rounding made; finite where V̂ has a zero row.
/// </summary>
public sealed class LowRankRefitTests
{
    private const int Rows = 48, Columns = 64, Rank = 10;

    [Fact]
    public void RefittedLeftFactorIsTheOutputErrorOptimumForTheQuantizedRight()
    {
        var (w, left, right) = Factors();
        var moment = Gptq.SecondMoment(CorrelatedInputs(Columns, samples: 400, seed: 21), Columns);
        var quantized = RoundToNearest.Quantize(right, Rank, Columns, LowBitGrid.Integer(3, 32)).Dequantize();
        var refitted = LowRankRefit.Left(w, quantized, Rows, Columns, Rank, moment)!;
        Assert.NotNull(refitted);

        // The ridge of the data-aware norm (δ = 1 % of the mean diagonal), as the candidates' errors are measured.
        var damped = (double[])moment.Clone();
        var ridge = InputTransform.Ridge * Enumerable.Range(0, Columns).Average(i => moment[i * Columns + i]);
        for (var i = 0; i < Columns; i++)
        {
            damped[i * Columns + i] += ridge;
        }

        double Error(float[] u) => OutputError(w, Product(u, quantized), damped, Rows, Columns);
        var optimum = Error(refitted);
        Assert.True(optimum < 0.9 * Error(left), $"refitted {optimum:G4}, unrefitted {Error(left):G4}");
        for (var seed = 0; seed < 5; seed++)
        {
            var noise = Gaussian(refitted.Length, seed: 100 + seed);
            var moved = refitted.Select((v, i) => v + 1e-2f * noise[i]).ToArray();
            Assert.True(Error(moved) > optimum, $"a step from U* lowered the error ({Error(moved):G6} against {optimum:G6})");
        }
    }

    [Theory]
    [InlineData(3, false)]
    [InlineData(3, true)]
    [InlineData(2, true)]
    public void QuantizedInTurnTheProductHasLessOutputErrorThanEachFactorQuantizedAlone(int bits, bool gptq)
    {
        var (w, left, right) = Factors();
        var moment = Gptq.SecondMoment(CorrelatedInputs(Columns, samples: 400, seed: 22), Columns);
        var grid = LowBitGrid.Integer(bits, 32);
        var form = new LowRankMatrix(left, right, Rows, Columns, Rank);
        GroupQuantizedValues Quantize(MatrixFactor factor, double[]? m) => LowBitPrecision.Quantize(factor, m, grid);

        var inTurn = LowRankRefit.QuantizeInTurn(form, w, moment, gptq ? moment : null, Quantize);
        var alone = form.ToLowBitPrecision(grid, Quantize, gptq ? moment : null, []);
        Assert.Equal(alone.StorageBytes, inTurn.StorageBytes);
        Assert.Equal(alone.Precision, inTurn.Precision);
        var (ours, theirs) = (OutputError(w, inTurn.ToDense(), moment, Rows, Columns), OutputError(w, alone.ToDense(), moment, Rows, Columns));
        Assert.True(ours < theirs, $"int{bits} {(gptq ? "gptq" : "rtn")}: in turn {ours:G4}, alone {theirs:G4}");

        // Without a moment nothing is refitted: the same values as quantizing each factor alone.
        Assert.Equal(form.ToLowBitPrecision(grid, Quantize, null, []).ToDense(), LowRankRefit.QuantizeInTurn(form, w, null, null, Quantize).ToDense());
    }

    [Fact]
    public void WithoutAMomentItIsThePlainLeastSquaresFit()
    {
        var (w, _, right) = Factors();
        var quantized = RoundToNearest.Quantize(right, Rank, Columns, LowBitGrid.Integer(2, 32)).Dequantize();
        var refitted = LowRankRefit.Left(w, quantized, Rows, Columns, Rank, moment: null)!;
        // At the least-squares optimum the residual is orthogonal to V̂'s rows: (W − U*·V̂)·V̂ᵀ = 0.
        var residual = w.Zip(Product(refitted, quantized), (a, b) => (double)a - b).ToArray();
        var scale = w.Max(Math.Abs) * quantized.Max(Math.Abs) * Columns;
        for (var r = 0; r < Rows; r++)
        {
            for (var k = 0; k < Rank; k++)
            {
                var dot = Enumerable.Range(0, Columns).Sum(j => residual[r * Columns + j] * quantized[k * Columns + j]);
                Assert.True(Math.Abs(dot) < 1e-4 * scale, $"row {r}, atom {k}: {dot:G4}");
            }
        }
    }

    [Fact]
    public void ARightFactorWithAZeroRowStillGivesFiniteValues()
    {
        var (w, _, right) = Factors();
        Array.Clear(right, 3 * Columns, Columns);
        var refitted = LowRankRefit.Left(w, right, Rows, Columns, Rank, moment: null);
        Assert.NotNull(refitted);
        Assert.All(refitted, v => Assert.True(float.IsFinite(v)));
        Assert.All(Enumerable.Range(0, Rows), r => Assert.True(Math.Abs(refitted[r * Rank + 3]) < 1e-3f));
    }

    /// <summary>A seeded W [Rows × Columns] of rank 2·Rank and its best rank-Rank factors (by the SVD).</summary>
    private static (float[] W, float[] Left, float[] Right) Factors()
    {
        var a = Gaussian(Rows * 2 * Rank, seed: 11);
        var b = Gaussian(2 * Rank * Columns, seed: 12);
        var w = new float[Rows * Columns];
        MatrixMultiply.Multiply(a, Rows, 2 * Rank, b, Columns, w, accumulate: false);
        var (left, right) = new PrincipalSubspace(w, Rows, Columns).Truncate(Rank);
        return (w, left, right);
    }

    private static float[] Product(float[] left, float[] right)
    {
        var product = new float[Rows * Columns];
        MatrixMultiply.Multiply(left, Rows, Rank, right, Columns, product, accumulate: false);
        return product;
    }
}
