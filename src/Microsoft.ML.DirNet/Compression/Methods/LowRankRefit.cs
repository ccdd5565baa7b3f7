using MathNet.Numerics.LinearAlgebra;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// The left factor of W ≈ U·V that fits W best for a given (already quantized) right factor V̂, in the data-aware norm:
/// U* = argmin ‖(W − U·V̂)·L‖²_F with L·Lᵀ = C + δ·I, i.e. U* = W·C̃·V̂ᵀ·(V̂·C̃·V̂ᵀ)⁻¹ with C̃ = C + δ·I (C̃ = I without
/// calibration). Quantizing V moves the product away from W; refitting U to V̂ before U is quantized takes back the
/// part of that error U can absorb, and what U's own rounding adds is then an error about U*, so GPTQ on U with the
/// moment V̂·C̃·V̂ᵀ minimises the product's output error, not U's distance to the unquantized factor.
/// </summary>
internal static class LowRankRefit
{
    /// <summary>The ridge on V̂·C̃·V̂ᵀ, relative to its mean diagonal.</summary>
    private const double GramRidge = 1e-6;

    /// <summary>
    /// U* [<paramref name="rows"/> × <paramref name="rank"/>], row-major, for W [rows × columns] and V̂ [rank × columns]
    /// (row-major) and the input moment C [columns × columns] (null: the plain Frobenius norm). A ridge of
    /// <see cref="GramRidge"/> × mean(diag V̂·C̃·V̂ᵀ) keeps U* bounded where rows of V̂ rounded to (nearly) zero or to
    /// one another; null if the solve still fails, so that the caller keeps its unrefitted factor.
    /// </summary>
    public static float[]? Left(float[] weight, float[] right, int rows, int columns, int rank, double[]? moment)
    {
        var w = Matrix<double>.Build.Dense(rows, columns, (i, j) => weight[(long)i * columns + j]);
        var v = Matrix<double>.Build.Dense(rank, columns, (k, j) => right[(long)k * columns + j]);
        Matrix<double> cv; // C̃·V̂ᵀ [columns × rank]
        if (moment is null)
        {
            cv = v.Transpose();
        }
        else
        {
            var c = Matrix<double>.Build.Dense(columns, columns, (i, j) => moment[(long)i * columns + j]);
            var ridge = InputTransform.Ridge * Math.Max(c.Diagonal().Average(), 1e-12);
            cv = c * v.Transpose() + ridge * v.Transpose();
        }

        var gram = v * cv; // V̂·C̃·V̂ᵀ [rank × rank]
        var mean = gram.Diagonal().Average();
        if (!(mean > 0) || !double.IsFinite(mean))
        {
            return null;
        }

        Matrix<double> left; // (V̂·C̃·V̂ᵀ)⁻¹·(W·C̃·V̂ᵀ)ᵀ [rank × rows]
        try
        {
            left = (gram + Matrix<double>.Build.DenseIdentity(rank) * (GramRidge * mean)).Cholesky().Solve((w * cv).Transpose());
        }
        catch (ArgumentException)
        {
            return null; // not positive definite even with the ridge
        }

        var result = new float[(long)rows * rank];
        for (var i = 0; i < rows; i++)
        {
            for (var k = 0; k < rank; k++)
            {
                result[(long)i * rank + k] = (float)left[k, i];
            }
        }

        return result.All(float.IsFinite) ? result : null;
    }
}
