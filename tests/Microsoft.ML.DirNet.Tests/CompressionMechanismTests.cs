using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Weights;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>The compression methods' mechanisms on small seeded problems (METHODS.md; issue 5's mechanism list).</summary>
public sealed class CompressionMechanismTests
{
    private static float[] RandomMatrix(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows * columns).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    private static float[] RandomUnitRows(int rows, int columns, int seed)
    {
        var m = RandomMatrix(rows, columns, seed);
        for (var r = 0; r < rows; r++)
        {
            var row = m.AsSpan(r * columns, columns);
            TensorPrimitives.Divide(row, TensorPrimitives.Norm(row), row);
        }

        return m;
    }

    private static MatrixGroup Group(float[] w, int rows, int columns) =>
        new([(new CompressibleWeight("w", "node", "MatMul", WeightRole.MatMul, 0, rows, columns, (long)rows * columns * 4), w)]);

    private static double Objective(float[] dictionary, int atoms, int dimension, ReadOnlySpan<float> z, ReadOnlySpan<float> w, float lambda)
    {
        var reconstruction = new float[dimension];
        for (var a = 0; a < atoms; a++)
        {
            TensorPrimitives.MultiplyAdd(dictionary.AsSpan(a * dimension, dimension), z[a], reconstruction, reconstruction);
        }

        TensorPrimitives.Subtract(reconstruction, w, reconstruction);
        return 0.5 * TensorPrimitives.Dot(reconstruction, reconstruction) + lambda * TensorPrimitives.SumOfMagnitudes(z);
    }

    [Fact]
    public void DirNetWithIdentityDictionaryAndTinyLambdaIsExact()
    {
        const int n = 24;
        var w = RandomMatrix(n, n, 1);
        var rows = new NormalizedRows(w, n, n);
        var identity = new float[n * n];
        for (var i = 0; i < n; i++)
        {
            identity[i * n + i] = 1;
        }

        var learner = new SccDictionaryLearner(rows.Signals, n, n, identity, n, new Random(0));
        learner.Epoch(1e-9f);
        var matrix = DictionaryFit.ToMatrices(Group(w, n, n), "dirnet", learner.Dictionary, n, learner.Codes, rows.Scales)[0];
        var rebuilt = matrix.ToDense();
        for (var i = 0; i < w.Length; i++)
        {
            Assert.Equal(w[i], rebuilt[i], 1e-6);
        }
    }

    [Fact]
    public void CoordinateStepIsTheClosedFormLassoMinimiserAndNeverRaisesTheObjective()
    {
        const int atoms = 12, d = 16;
        const float lambda = 0.05f;
        var dictionary = RandomUnitRows(atoms, d, 2);
        var w = RandomUnitRows(1, d, 3);
        var z = new float[atoms];
        var residual = new float[d];
        TensorPrimitives.Negate(w, residual);
        var previous = Objective(dictionary, atoms, d, z, w, lambda);
        var random = new Random(4);
        for (var step = 0; step < 60; step++)
        {
            var a = random.Next(atoms);
            var atom = dictionary.AsSpan(a * d, d);

            // Closed form: the partial residual without atom a, then soft-threshold its correlation with the atom.
            var partial = w.ToArray();
            for (var b = 0; b < atoms; b++)
            {
                if (b != a)
                {
                    TensorPrimitives.MultiplyAdd(dictionary.AsSpan(b * d, d), -z[b], partial, partial);
                }
            }

            var expected = SccDictionaryLearner.SoftThreshold(TensorPrimitives.Dot(atom, partial), lambda);
            z[a] = SccDictionaryLearner.CoordinateStep(atom, z[a], residual, lambda);
            Assert.Equal(expected, z[a], 1e-5f);
            var objective = Objective(dictionary, atoms, d, z, w, lambda);
            Assert.True(objective <= previous + 1e-7, $"step {step}: objective rose from {previous} to {objective}");
            previous = objective;
        }
    }

    [Fact]
    public void DictionaryUpdateTouchesOnlySupportAtomsAndKeepsThemUnitNorm()
    {
        const int atoms = 20, d = 16;
        var dictionary = RandomUnitRows(atoms, d, 5);
        var before = (float[])dictionary.Clone();
        var signal = RandomUnitRows(1, d, 6);
        var learner = new SccDictionaryLearner(signal, 1, d, dictionary, atoms, new Random(7));
        learner.Epoch(0.2f);
        var support = Enumerable.Range(0, atoms).Where(a => learner.Codes[a] != 0).ToArray();
        Assert.NotEmpty(support);
        Assert.True(support.Length < atoms, "λ = 0.2 should leave some atoms unused");
        for (var a = 0; a < atoms; a++)
        {
            var atom = learner.Dictionary.AsSpan(a * d, d);
            Assert.Equal(1.0, TensorPrimitives.Norm(atom), 1e-5);
            var changed = !atom.SequenceEqual(before.AsSpan(a * d, d));
            Assert.Equal(support.Contains(a), changed);
        }
    }

    [Fact]
    public void SparseCodesMatchFistaOnASmallProblem()
    {
        const int atoms = 10, d = 8;
        const float lambda = 0.03f;
        var dictionary = RandomUnitRows(atoms, d, 8);
        var w = RandomUnitRows(1, d, 9);
        var coder = new SparseCoder(dictionary, atoms, d);
        var b = new float[atoms];
        coder.Correlate(w, b);
        var z = new float[atoms];
        coder.Encode(b, z, lambda, maxRounds: 2000, supportSweeps: 5, tolerance: 0);

        var reference = Fista(dictionary, atoms, d, w, lambda, 20000);
        for (var a = 0; a < atoms; a++)
        {
            Assert.Equal(reference[a], z[a], 1e-3);
        }
    }

    /// <summary>FISTA (Beck and Teboulle 2009) with step 1/L, L the largest eigenvalue of P·Pᵀ (by power iteration).</summary>
    private static double[] Fista(float[] dictionary, int atoms, int d, float[] w, double lambda, int iterations)
    {
        double[] Gradient(double[] z)
        {
            var r = new double[d];
            for (var a = 0; a < atoms; a++)
            {
                for (var j = 0; j < d; j++)
                {
                    r[j] += z[a] * dictionary[a * d + j];
                }
            }

            for (var j = 0; j < d; j++)
            {
                r[j] -= w[j];
            }

            return Enumerable.Range(0, atoms).Select(a => Enumerable.Range(0, d).Sum(j => dictionary[a * d + j] * r[j])).ToArray();
        }

        // L = the largest eigenvalue of P·Pᵀ, by power iteration.
        var v = Enumerable.Repeat(1.0, atoms).ToArray();
        double l = 0;
        for (var i = 0; i < 500; i++)
        {
            var pv = Enumerable.Range(0, atoms).Select(a => Enumerable.Range(0, atoms).Sum(c =>
                Enumerable.Range(0, d).Sum(j => (double)dictionary[a * d + j] * dictionary[c * d + j]) * v[c])).ToArray();
            l = Math.Sqrt(pv.Sum(x => x * x));
            v = pv.Select(x => x / l).ToArray();
        }

        var step = 1 / l;
        var x = new double[atoms];
        var y = (double[])x.Clone();
        var t = 1.0;
        for (var k = 0; k < iterations; k++)
        {
            var g = Gradient(y);
            var next = y.Select((yi, a) => SoftThreshold(yi - step * g[a], step * lambda)).ToArray();
            var tNext = (1 + Math.Sqrt(1 + 4 * t * t)) / 2;
            y = next.Select((xi, a) => xi + (t - 1) / tNext * (xi - x[a])).ToArray();
            (x, t) = (next, tNext);
        }

        return x;
    }

    private static double SoftThreshold(double x, double lambda) => Math.Sign(x) * Math.Max(0, Math.Abs(x) - lambda);

    [Fact]
    public void RaisingLambdaWeaklyLowersNonZerosAndRaisesError()
    {
        const int atoms = 32, d = 24, signals = 40;
        var dictionary = RandomUnitRows(atoms, d, 10);
        var w = RandomUnitRows(signals, d, 11);
        var coder = new SparseCoder(dictionary, atoms, d);
        var previous = (NonZeros: int.MaxValue, Error: -1.0);
        foreach (var lambda in new[] { 0.001f, 0.01f, 0.03f, 0.1f, 0.3f, 1f })
        {
            int nonZeros = 0;
            double error = 0;
            for (var j = 0; j < signals; j++)
            {
                var b = new float[atoms];
                coder.Correlate(w.AsSpan(j * d, d), b);
                var z = new float[atoms];
                coder.Encode(b, z, lambda, maxRounds: 500, supportSweeps: 5, tolerance: 0);
                nonZeros += z.Count(v => v != 0);
                error += coder.SquaredResidual(z, b, 1);
            }

            Assert.True(nonZeros <= previous.NonZeros, $"λ = {lambda}: {nonZeros} non-zeros after {previous.NonZeros}");
            Assert.True(error >= previous.Error - 1e-6, $"λ = {lambda}: error {error} after {previous.Error}");
            previous = (nonZeros, error);
        }

        Assert.Equal(0, previous.NonZeros);
    }

    [Fact]
    public void LowRankAtFullRankIsExact()
    {
        foreach (var (rows, columns) in new[] { (12, 7), (7, 12) })
        {
            var w = RandomMatrix(rows, columns, rows);
            var fit = new LowRankFit(Group(w, rows, columns));
            var matrix = Assert.IsType<LowRankMatrix>(fit.Build(long.MaxValue)[0]);
            Assert.Equal(Math.Min(rows, columns), matrix.Rank);
            Assert.True(RnnCompressor.RelativeError(w, matrix.ToDense()) < 1e-5);
            Assert.True(fit.Ladder[^1].SquaredError < 1e-6);
        }
    }

    [Fact]
    public void HybridWithSingleElementBlocksIsExactAndRankOneBlocksAreOptimal()
    {
        const int rows = 9, columns = 6;
        var w = RandomMatrix(rows, columns, 12);
        var exact = HybridFit.Fit(w, rows, columns, denseRows: 3, b: 1);
        Assert.True(RnnCompressor.RelativeError(w, exact.ToDense()) < 1e-6);

        // One rank-1 block over the whole lower part leaves exactly the energy of the other singular values.
        var hybrid = HybridFit.Fit(w, rows, columns, denseRows: 4, b: 8);
        Assert.Equal(1, hybrid.BlockRows);
        var lower = w.AsSpan(4 * columns).ToArray();
        var subspace = new PrincipalSubspace(lower, rows - 4, columns);
        var error = RnnCompressor.RelativeError(w, hybrid.ToDense());
        var expected = Math.Sqrt(subspace.SquaredError(1) / w.Sum(x => (double)x * x));
        Assert.Equal(expected, error, 1e-5);
    }

    [Fact]
    public void EveryMethodsBytesAreItsSerialisedBytesAndItsProductsMatchItsDenseForm()
    {
        const int rows = 40, columns = 24;
        var w = RandomMatrix(rows, columns, 13);
        var group = Group(w, rows, columns);
        var budget = rows * columns * 4 / 3;
        var matrices = new CompressedMatrix[]
        {
            new DenseMatrix(w, rows, columns),
            new LowRankFit(group).Build(budget)[0],
            new PruningFit(group).Build(budget)[0],
            new HybridFit(group).Build(budget)[0],
            new DictionaryFit(group, new DictionaryOptions { WarmupEpochs = 2, FinalEpochs = 1 }, seed: 1).Build(budget)[0],
        };
        Assert.Equal(["dense", "lowrank", "prune", "hmd", "dirnet"], matrices.Select(m => m.Method));
        var x = RandomMatrix(3, columns, 14);
        foreach (var matrix in matrices)
        {
            using var stream = new MemoryStream();
            matrix.WriteTo(stream);
            Assert.Equal(matrix.StorageBytes, stream.Length);
            Assert.True(matrix == matrices[0] || matrix.StorageBytes <= budget, $"{matrix}: over the budget of {budget}");

            var dense = matrix.ToDense();
            var batch = new float[3 * rows];
            matrix.Multiply(x, 3, batch);
            for (var i = 0; i < 3; i++)
            {
                for (var r = 0; r < rows; r++)
                {
                    var expected = TensorPrimitives.Dot(dense.AsSpan(r * columns, columns), x.AsSpan(i * columns, columns));
                    Assert.Equal(expected, batch[i * rows + r], 1e-4);
                }
            }
        }
    }

    [Fact]
    public void SharedDictionaryIsStoredOnce()
    {
        const int columns = 16;
        var a = RandomMatrix(20, columns, 15);
        var b = RandomMatrix(28, columns, 16);
        var group = new MatrixGroup([
            (new CompressibleWeight("r", "l0", "LSTM", WeightRole.RecurrentHidden, 0, 20, columns, 20 * columns * 4), a),
            (new CompressibleWeight("w", "l1", "LSTM", WeightRole.RecurrentInput, 0, 28, columns, 28 * columns * 4), b)]);
        var parts = new DictionaryFit(group, new DictionaryOptions(), seed: 2).Build(group.DenseBytes / 3).Cast<DictionaryMatrix>().ToArray();
        Assert.Equal(2, parts.Length);
        Assert.True(parts[0].OwnsDictionary);
        Assert.False(parts[1].OwnsDictionary);
        Assert.True(parts[0].SharesDictionaryWith(parts[1]));
        Assert.DoesNotContain(parts[1].Factors, f => f.Name == "dictionary");
        Assert.True(parts.Sum(p => p.StorageBytes) <= group.DenseBytes / 3);
        Assert.Equal([20, 28], parts.Select(p => p.Rows));
    }
}
