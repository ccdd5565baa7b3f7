using MathNet.Numerics.LinearAlgebra;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// The singular subspaces of a matrix W [rows × columns], from the symmetric eigendecomposition of its smaller Gram
/// matrix (WᵀW or WWᵀ) in double precision. Truncation keeps factors without dividing by singular values
/// (left = W·V_r, right = V_rᵀ; or left = U_r, right = U_rᵀ·W), so the full-rank product is W itself even when some
/// singular values are zero, and every truncation is the best rank-r approximation in Frobenius norm.
/// </summary>
internal sealed class PrincipalSubspace
{
    private readonly float[] _w;
    private readonly Matrix<double> _vectors;

    public PrincipalSubspace(ReadOnlySpan<float> w, int rows, int columns)
    {
        _w = w.ToArray();
        Rows = rows;
        Columns = columns;
        OnColumns = columns <= rows;
        var size = OnColumns ? columns : rows;
        var gram = Matrix<double>.Build.Dense(size, size);
        var values = _w;
        var a = Matrix<double>.Build.Dense(rows, columns, (i, j) => values[i * columns + j]);
        (OnColumns ? a.TransposeThisAndMultiply(a) : a.TransposeAndMultiply(a)).CopyTo(gram);
        var evd = gram.Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric);
        // Eigenvalues ascending in theory; sort explicitly (descending) with the index as tie-break for determinism.
        var order = Enumerable.Range(0, size).OrderByDescending(i => evd.EigenValues[i].Real).ThenBy(i => i).ToArray();
        Energies = order.Select(i => Math.Max(0, evd.EigenValues[i].Real)).ToArray();
        _vectors = Matrix<double>.Build.Dense(size, size, (i, j) => evd.EigenVectors[i, order[j]]);
        TotalEnergy = _w.Sum(x => (double)x * x);
    }

    public int Rows { get; }

    public int Columns { get; }

    /// <summary>Whether the eigenvectors span the column space (columns ≤ rows) rather than the row space.</summary>
    private bool OnColumns { get; }

    /// <summary>Squared singular values, largest first.</summary>
    public double[] Energies { get; }

    /// <summary>‖W‖²_F.</summary>
    public double TotalEnergy { get; }

    /// <summary>‖W − W_r‖²_F for the best rank-<paramref name="rank"/> approximation.</summary>
    public double SquaredError(int rank) => Math.Max(0, TotalEnergy - Energies.Take(rank).Sum());

    /// <summary>The rank-<paramref name="rank"/> factors: left [rows × rank], right [rank × columns].</summary>
    public (float[] Left, float[] Right) Truncate(int rank)
    {
        var left = new float[Rows * rank];
        var right = new float[rank * Columns];
        if (OnColumns)
        {
            for (var k = 0; k < rank; k++)
            {
                for (var j = 0; j < Columns; j++)
                {
                    right[k * Columns + j] = (float)_vectors[j, k];
                }

                for (var i = 0; i < Rows; i++)
                {
                    double sum = 0;
                    for (var j = 0; j < Columns; j++)
                    {
                        sum += _w[i * Columns + j] * _vectors[j, k];
                    }

                    left[i * rank + k] = (float)sum;
                }
            }
        }
        else
        {
            for (var k = 0; k < rank; k++)
            {
                for (var i = 0; i < Rows; i++)
                {
                    left[i * rank + k] = (float)_vectors[i, k];
                }

                for (var j = 0; j < Columns; j++)
                {
                    double sum = 0;
                    for (var i = 0; i < Rows; i++)
                    {
                        sum += _vectors[i, k] * _w[i * Columns + j];
                    }

                    right[k * Columns + j] = (float)sum;
                }
            }
        }

        return (left, right);
    }
}
