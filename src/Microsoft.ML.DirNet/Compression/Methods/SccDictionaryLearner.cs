namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Stochastic coordinate coding (SCC, Lin et al. 2014) on unit-norm signals: for each signal in turn, with the code
/// kept from the last epoch, one coordinate-descent sweep over every atom in random order, then sweeps over the
/// support only, then a step on the support atoms p_a −= (z_a / A_a)·r and their re-normalisation. A_a accumulates
/// z_a² over the whole fit (Lin et al.'s learning rate; resetting it each epoch makes an atom's first update of every
/// epoch jump onto a single signal). Codes are held dense [signals × atoms] while learning.
/// </summary>
internal sealed class SccDictionaryLearner
{
    private readonly float[] _signals;
    private readonly Random _random;
    private float[] _accumulated;

    /// <param name="signals">Row-major [count × dimension], each row unit-norm or zero.</param>
    /// <param name="count">Signals.</param>
    /// <param name="dimension">Length of a signal (and of an atom).</param>
    /// <param name="dictionary">Initial atoms, row-major [atoms × dimension], unit-norm (taken over).</param>
    /// <param name="atoms">Number of atoms.</param>
    /// <param name="random">The seeded source of the visiting orders.</param>
    public SccDictionaryLearner(float[] signals, int count, int dimension, float[] dictionary, int atoms, Random random)
    {
        _signals = signals;
        Count = count;
        Dimension = dimension;
        Dictionary = dictionary;
        Atoms = atoms;
        Codes = new float[count * atoms];
        _accumulated = new float[atoms];
        Energy = new double[atoms];
        _random = random;
    }

    public int Count { get; }

    public int Dimension { get; }

    public int Atoms { get; private set; }

    /// <summary>P, row-major [Atoms × Dimension].</summary>
    public float[] Dictionary { get; private set; }

    /// <summary>Z, row-major [Count × Atoms].</summary>
    public float[] Codes { get; private set; }

    /// <summary>Σ z_a² per atom over the last epoch (what atom mining ranks by).</summary>
    public double[] Energy { get; private set; }

    /// <summary>Extra coordinate sweeps over the support after the full sweep (METHODS.md: two).</summary>
    public int SupportSweeps { get; init; } = 2;

    /// <summary>One pass over every signal in a random order at threshold <paramref name="lambda"/>.</summary>
    public void Epoch(float lambda, bool updateDictionary = true)
    {
        int d = Dimension, k = Atoms;
        Array.Clear(Energy);
        var residual = new float[d];
        var order = Permutation(Count);
        var atomOrder = Permutation(k);
        var support = new List<int>(k);
        foreach (var j in order)
        {
            var w = _signals.AsSpan(j * d, d);
            var z = Codes.AsSpan(j * k, k);
            Residual(z, w, residual);
            _random.Shuffle(atomOrder);
            foreach (var a in atomOrder)
            {
                Step(a, z, residual, lambda);
            }

            support.Clear();
            for (var a = 0; a < k; a++)
            {
                if (z[a] != 0)
                {
                    support.Add(a);
                }
            }

            for (var sweep = 0; sweep < SupportSweeps; sweep++)
            {
                foreach (var a in support)
                {
                    Step(a, z, residual, lambda);
                }
            }

            foreach (var a in support)
            {
                Energy[a] += (double)z[a] * z[a];
            }

            if (!updateDictionary)
            {
                continue;
            }

            foreach (var a in support)
            {
                if (z[a] == 0)
                {
                    continue;
                }

                _accumulated[a] += z[a] * z[a];
                var atom = Dictionary.AsSpan(a * d, d);
                TensorPrimitives.MultiplyAdd(residual, -z[a] / _accumulated[a], atom, atom);
                var norm = TensorPrimitives.Norm(atom);
                if (norm > 0)
                {
                    TensorPrimitives.Divide(atom, norm, atom);
                }
            }
        }
    }

    /// <summary>Keeps only the atoms listed (in that order), with their codes and step sizes.</summary>
    public void KeepAtoms(IReadOnlyList<int> keep)
    {
        int d = Dimension, k = Atoms, kept = keep.Count;
        var dictionary = new float[kept * d];
        var codes = new float[Count * kept];
        var accumulated = new float[kept];
        for (var i = 0; i < kept; i++)
        {
            Dictionary.AsSpan(keep[i] * d, d).CopyTo(dictionary.AsSpan(i * d, d));
            accumulated[i] = _accumulated[keep[i]];
            for (var j = 0; j < Count; j++)
            {
                codes[j * kept + i] = Codes[j * k + keep[i]];
            }
        }

        Dictionary = dictionary;
        Codes = codes;
        _accumulated = accumulated;
        Energy = keep.Select(a => Energy[a]).ToArray();
        Atoms = kept;
    }

    /// <summary>r = Pᵀz − w.</summary>
    private void Residual(ReadOnlySpan<float> z, ReadOnlySpan<float> w, Span<float> residual)
    {
        w.CopyTo(residual);
        TensorPrimitives.Negate(residual, residual);
        for (var a = 0; a < Atoms; a++)
        {
            if (z[a] != 0)
            {
                TensorPrimitives.MultiplyAdd(Dictionary.AsSpan(a * Dimension, Dimension), z[a], residual, residual);
            }
        }
    }

    private void Step(int a, Span<float> z, Span<float> residual, float lambda) =>
        z[a] = CoordinateStep(Dictionary.AsSpan(a * Dimension, Dimension), z[a], residual, lambda);

    /// <summary>
    /// The exact Lasso coordinate minimiser for a unit-norm atom p: with r = Pᵀz − w, returns S_λ(z_a − pᵀr) and
    /// updates r for the change.
    /// </summary>
    internal static float CoordinateStep(ReadOnlySpan<float> atom, float current, Span<float> residual, float lambda)
    {
        var next = SoftThreshold(current - TensorPrimitives.Dot(atom, residual), lambda);
        var delta = next - current;
        if (delta != 0)
        {
            TensorPrimitives.MultiplyAdd(atom, delta, residual, residual);
        }

        return next;
    }

    internal static float SoftThreshold(float x, float lambda) => x > lambda ? x - lambda : x < -lambda ? x + lambda : 0f;

    private int[] Permutation(int n)
    {
        var order = Enumerable.Range(0, n).ToArray();
        _random.Shuffle(order);
        return order;
    }
}
