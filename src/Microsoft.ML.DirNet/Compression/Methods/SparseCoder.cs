using MathNet.Numerics.LinearAlgebra;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Lasso codes for a fixed dictionary P [atoms × dimension] of unit-norm atoms: min_z ½‖Pᵀz − w‖² + λ‖z‖₁ by
/// coordinate descent on the Gram matrix G = P·Pᵀ. With the gradient c = G·z − b (b = P·w) kept up to date, a
/// coordinate step costs O(1) and only a change costs an O(atoms) update, so sparse codes are cheap to compute along a
/// path of λ values. Also refits a code's values on its support by least squares (debias).
/// </summary>
internal sealed class SparseCoder
{
    private readonly float[] _dictionary;
    private readonly float[] _gram;

    public SparseCoder(float[] dictionary, int atoms, int dimension)
    {
        _dictionary = dictionary;
        Atoms = atoms;
        Dimension = dimension;
        _gram = new float[atoms * atoms];
        for (var a = 0; a < atoms; a++)
        {
            for (var b = a; b < atoms; b++)
            {
                var dot = TensorPrimitives.Dot(dictionary.AsSpan(a * dimension, dimension), dictionary.AsSpan(b * dimension, dimension));
                _gram[a * atoms + b] = dot;
                _gram[b * atoms + a] = dot;
            }
        }
    }

    public int Atoms { get; }

    public int Dimension { get; }

    /// <summary>b = P·w for one signal.</summary>
    public void Correlate(ReadOnlySpan<float> signal, Span<float> correlation)
    {
        for (var a = 0; a < Atoms; a++)
        {
            correlation[a] = TensorPrimitives.Dot(_dictionary.AsSpan(a * Dimension, Dimension), signal);
        }
    }

    /// <summary>b = P·w for every row of <paramref name="rows"/>, row-major [rows × atoms] (rows in parallel).</summary>
    public float[] CorrelateRows(NormalizedRows rows)
    {
        var correlations = new float[rows.Rows * Atoms];
        Parallel.For(0, rows.Rows, j =>
            Correlate(rows.Signals.AsSpan(j * Dimension, Dimension), correlations.AsSpan(j * Atoms, Atoms)));
        return correlations;
    }

    /// <summary>
    /// Codes at <paramref name="lambda"/> for every row from its correlations (<see cref="CorrelateRows"/>), each
    /// from zero, rows in parallel (each row's result is independent of the others and of the thread count).
    /// </summary>
    public float[] EncodeRows(float[] correlations, int rows, float lambda)
    {
        var codes = new float[rows * Atoms];
        Parallel.For(0, rows, j => Encode(correlations.AsSpan(j * Atoms, Atoms), codes.AsSpan(j * Atoms, Atoms), lambda));
        return codes;
    }

    /// <summary>
    /// Coordinate descent from the code in <paramref name="z"/> (a warm start): rounds of one sweep over all atoms
    /// (in index order) and sweeps over the support, until a full sweep changes no coordinate by more than
    /// <paramref name="tolerance"/> or <paramref name="maxRounds"/> rounds have run.
    /// </summary>
    public void Encode(ReadOnlySpan<float> correlation, Span<float> z, float lambda, int maxRounds = 4, int supportSweeps = 2,
        float tolerance = 1e-6f)
    {
        var k = Atoms;
        Span<float> gradient = k <= 2048 ? stackalloc float[k] : new float[k];
        // c = G·z − b
        for (var a = 0; a < k; a++)
        {
            gradient[a] = -correlation[a];
        }

        for (var a = 0; a < k; a++)
        {
            if (z[a] != 0)
            {
                TensorPrimitives.MultiplyAdd(_gram.AsSpan(a * k, k), z[a], gradient, gradient);
            }
        }

        for (var round = 0; round < maxRounds; round++)
        {
            var change = 0f;
            for (var a = 0; a < k; a++)
            {
                change = MathF.Max(change, Step(a, z, gradient, lambda));
            }

            if (change <= tolerance)
            {
                break;
            }

            for (var sweep = 0; sweep < supportSweeps; sweep++)
            {
                for (var a = 0; a < k; a++)
                {
                    if (z[a] != 0)
                    {
                        Step(a, z, gradient, lambda);
                    }
                }
            }
        }
    }

    private float Step(int a, Span<float> z, Span<float> gradient, float lambda)
    {
        // G_aa = 1 for unit-norm atoms, so the coordinate minimiser is S_λ(z_a − c_a).
        var next = SccDictionaryLearner.SoftThreshold(z[a] - gradient[a], lambda);
        var delta = next - z[a];
        if (delta == 0)
        {
            return 0;
        }

        z[a] = next;
        TensorPrimitives.MultiplyAdd(_gram.AsSpan(a * Atoms, Atoms), delta, gradient, gradient);
        return MathF.Abs(delta);
    }

    /// <summary>‖Pᵀz − w‖² = zᵀGz − 2zᵀb + ‖w‖², from the support only.</summary>
    public double SquaredResidual(ReadOnlySpan<float> z, ReadOnlySpan<float> correlation, double signalEnergy)
    {
        double quadratic = 0, linear = 0;
        for (var a = 0; a < Atoms; a++)
        {
            if (z[a] == 0)
            {
                continue;
            }

            linear += (double)z[a] * correlation[a];
            for (var b = 0; b < Atoms; b++)
            {
                if (z[b] != 0)
                {
                    quadratic += (double)z[a] * z[b] * _gram[a * Atoms + b];
                }
            }
        }

        return Math.Max(0, quadratic - 2 * linear + signalEnergy);
    }

    /// <summary>Least-squares values on the current support: solves G_SS·z_S = b_S (tiny ridge for stability).</summary>
    public void Debias(Span<float> z, ReadOnlySpan<float> correlation)
    {
        var support = new List<int>();
        for (var a = 0; a < Atoms; a++)
        {
            if (z[a] != 0)
            {
                support.Add(a);
            }
        }

        if (support.Count == 0)
        {
            return;
        }

        var s = support.Count;
        var g = Matrix<double>.Build.Dense(s, s, (i, j) => _gram[support[i] * Atoms + support[j]] + (i == j ? 1e-4 : 0));
        var rhs = Vector<double>.Build.Dense(s);
        for (var i = 0; i < s; i++)
        {
            rhs[i] = correlation[support[i]];
        }

        var solution = g.Cholesky().Solve(rhs);
        for (var i = 0; i < s; i++)
        {
            // A value that lands on exactly zero would silently leave the support; keep the atom with a tiny value.
            var value = (float)solution[i];
            z[support[i]] = value != 0 ? value : float.Epsilon;
        }
    }
}
