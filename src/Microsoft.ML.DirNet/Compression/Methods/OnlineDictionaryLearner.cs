namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Online dictionary learning (Mairal, Bach, Ponce and Sapiro 2009), the LSTM-ODL baseline's learner: mini-batches
/// of signals are coded by the Lasso at a fixed λ, their statistics A += α·αᵀ and B += x·αᵀ accumulate, and one
/// block-coordinate pass updates each atom d_j ← (b_j − D·a_j)/A_jj + d_j. Atoms are then scaled to unit norm
/// (Mairal projects onto ‖d‖ ≤ 1; unit norm lets the same Lasso coder serve both learners).
/// </summary>
internal static class OnlineDictionaryLearner
{
    /// <summary>Learns <paramref name="atoms"/> atoms for the unit-norm <paramref name="rows"/> at threshold <paramref name="lambda"/>.</summary>
    public static float[] Learn(NormalizedRows rows, int atoms, float lambda, int epochs, int batchSize, Random random)
    {
        int n = rows.Rows, d = rows.Columns;
        var dictionary = rows.RandomRowAtoms(atoms, random);
        var a = new double[atoms * atoms];
        var b = new double[atoms * d];
        var order = Enumerable.Range(0, n).ToArray();
        var code = new float[atoms];
        var correlation = new float[atoms];
        for (var epoch = 0; epoch < epochs; epoch++)
        {
            random.Shuffle(order);
            for (var start = 0; start < n; start += batchSize)
            {
                var coder = new SparseCoder(dictionary, atoms, d);
                foreach (var j in order.AsSpan(start, Math.Min(batchSize, n - start)))
                {
                    var x = rows.Signals.AsSpan(j * d, d);
                    coder.Correlate(x, correlation);
                    Array.Clear(code);
                    coder.Encode(correlation, code, lambda);
                    for (var p = 0; p < atoms; p++)
                    {
                        if (code[p] == 0)
                        {
                            continue;
                        }

                        for (var q = 0; q < atoms; q++)
                        {
                            a[p * atoms + q] += (double)code[p] * code[q];
                        }

                        for (var c = 0; c < d; c++)
                        {
                            b[p * d + c] += (double)code[p] * x[c];
                        }
                    }
                }

                UpdateDictionary(dictionary, atoms, d, a, b);
            }
        }

        return dictionary;
    }

    /// <summary>One block-coordinate pass: u_j = (b_j − Σ_i A_ij d_i)/A_jj + d_j, then d_j = u_j/‖u_j‖ (unused atoms stay).</summary>
    private static void UpdateDictionary(float[] dictionary, int atoms, int d, double[] a, double[] b)
    {
        var u = new double[d];
        for (var j = 0; j < atoms; j++)
        {
            var ajj = a[j * atoms + j];
            if (ajj <= 1e-12)
            {
                continue;
            }

            for (var c = 0; c < d; c++)
            {
                u[c] = b[j * d + c];
            }

            for (var i = 0; i < atoms; i++)
            {
                var aij = a[i * atoms + j];
                if (aij == 0)
                {
                    continue;
                }

                for (var c = 0; c < d; c++)
                {
                    u[c] -= aij * dictionary[i * d + c];
                }
            }

            double norm = 0;
            for (var c = 0; c < d; c++)
            {
                u[c] = u[c] / ajj + dictionary[j * d + c];
                norm += u[c] * u[c];
            }

            norm = Math.Sqrt(norm);
            if (norm > 0)
            {
                for (var c = 0; c < d; c++)
                {
                    dictionary[j * d + c] = (float)(u[c] / norm);
                }
            }
        }
    }
}
