namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// A matrix's rows scaled to unit L2 norm (not mean-centred), with the scales kept to fold back into the codes:
/// the signals dictionary learning works on.
/// </summary>
internal sealed class NormalizedRows
{
    public NormalizedRows(float[] w, int rows, int columns)
    {
        Rows = rows;
        Columns = columns;
        Signals = new float[w.Length];
        Scales = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            var row = w.AsSpan(r * columns, columns);
            var norm = TensorPrimitives.Norm(row);
            Scales[r] = norm;
            if (norm > 0)
            {
                TensorPrimitives.Divide(row, norm, Signals.AsSpan(r * columns, columns));
            }
        }
    }

    public int Rows { get; }

    public int Columns { get; }

    /// <summary>Unit-norm rows (zero rows stay zero), row-major.</summary>
    public float[] Signals { get; }

    /// <summary>The original row norms.</summary>
    public float[] Scales { get; }

    /// <summary>Squared norm of signal <paramref name="row"/>: 1, or 0 for a zero row.</summary>
    public double SignalEnergy(int row) => Scales[row] > 0 ? 1 : 0;

    /// <summary>
    /// <paramref name="atoms"/> unit-norm initial atoms: distinct non-zero rows drawn at random, topped up with random
    /// Gaussian directions when the matrix has fewer non-zero rows than atoms.
    /// </summary>
    public float[] RandomRowAtoms(int atoms, Random random)
    {
        var candidates = Enumerable.Range(0, Rows).Where(r => Scales[r] > 0).ToArray();
        random.Shuffle(candidates);
        var dictionary = new float[atoms * Columns];
        for (var a = 0; a < atoms; a++)
        {
            var atom = dictionary.AsSpan(a * Columns, Columns);
            if (a < candidates.Length)
            {
                Signals.AsSpan(candidates[a] * Columns, Columns).CopyTo(atom);
            }
            else
            {
                for (var c = 0; c < Columns; c++)
                {
                    atom[c] = (float)Gaussian(random);
                }

                TensorPrimitives.Divide(atom, TensorPrimitives.Norm(atom), atom);
            }
        }

        return dictionary;
    }

    /// <summary>The top <paramref name="atoms"/> right singular vectors of the unit-norm rows, as atoms.</summary>
    public float[] SingularVectorAtoms(int atoms)
    {
        // Truncate's right factor is Vᵀ (unit rows) or Uᵀ·W = Σ·Vᵀ: normalising its rows gives Vᵀ either way.
        var (_, right) = new PrincipalSubspace(Signals, Rows, Columns).Truncate(atoms);
        for (var a = 0; a < atoms; a++)
        {
            var atom = right.AsSpan(a * Columns, Columns);
            var norm = TensorPrimitives.Norm(atom);
            if (norm > 0)
            {
                TensorPrimitives.Divide(atom, norm, atom);
            }
        }

        return right;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
