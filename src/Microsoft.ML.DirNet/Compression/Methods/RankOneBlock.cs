namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// The best rank-1 approximation u·vᵀ of a block of a row-major matrix, from its leading singular pair found by power
/// iteration (deterministic start: the block's row of largest norm). v is unit-norm and u = B·v, so u·vᵀ = B·v·vᵀ.
/// </summary>
internal static class RankOneBlock
{
    private const int MaxIterations = 100;
    private const double Tolerance = 1e-10;

    /// <summary>Fits the block rows [r0, r1) × columns [c0, c1) of <paramref name="w"/> (row length <paramref name="columns"/>).</summary>
    /// <returns>‖B‖²_F − ‖u‖² (the squared error left).</returns>
    public static double Fit(ReadOnlySpan<float> w, int columns, int r0, int r1, int c0, int c1, Span<float> u, Span<float> v)
    {
        int height = r1 - r0, width = c1 - c0;
        double energy = 0, best = -1;
        var start = r0;
        for (var r = r0; r < r1; r++)
        {
            double norm = TensorPrimitives.Dot(w.Slice(r * columns + c0, width), w.Slice(r * columns + c0, width));
            energy += norm;
            if (norm > best)
            {
                best = norm;
                start = r;
            }
        }

        if (energy == 0)
        {
            u[..height].Clear();
            v[..width].Clear();
            return 0;
        }

        var vd = new double[width];
        var ud = new double[height];
        for (var c = 0; c < width; c++)
        {
            vd[c] = w[start * columns + c0 + c];
        }

        Normalise(vd);
        double captured = 0;
        for (var iteration = 0; iteration < MaxIterations; iteration++)
        {
            for (var r = 0; r < height; r++)
            {
                double sum = 0;
                var row = w.Slice((r0 + r) * columns + c0, width);
                for (var c = 0; c < width; c++)
                {
                    sum += row[c] * vd[c];
                }

                ud[r] = sum;
            }

            var next = ud.Sum(x => x * x);
            Array.Clear(vd);
            for (var r = 0; r < height; r++)
            {
                var row = w.Slice((r0 + r) * columns + c0, width);
                for (var c = 0; c < width; c++)
                {
                    vd[c] += row[c] * ud[r];
                }
            }

            Normalise(vd);
            if (next - captured <= Tolerance * energy)
            {
                captured = next;
                break;
            }

            captured = next;
        }

        // u = B·v with the final v.
        captured = 0;
        for (var r = 0; r < height; r++)
        {
            double sum = 0;
            var row = w.Slice((r0 + r) * columns + c0, width);
            for (var c = 0; c < width; c++)
            {
                sum += row[c] * vd[c];
            }

            u[r] = (float)sum;
            captured += sum * sum;
        }

        for (var c = 0; c < width; c++)
        {
            v[c] = (float)vd[c];
        }

        return Math.Max(0, energy - captured);
    }

    private static void Normalise(double[] x)
    {
        var norm = Math.Sqrt(x.Sum(a => a * a));
        if (norm > 0)
        {
            for (var i = 0; i < x.Length; i++)
            {
                x[i] /= norm;
            }
        }
    }
}
