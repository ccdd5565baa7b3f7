using MathNet.Numerics.LinearAlgebra;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Data-aware fitting by a change of input basis: with C = (1/N)·Σ x·xᵀ + δ·I = L·Lᵀ, ‖(W − Ŵ)·X‖² ∝ ‖(W − Ŵ)·L‖²,
/// so a method fits W·L in the plain Frobenius norm and its result is mapped back by L⁻¹ on the input side. Methods
/// whose structure survives only a diagonal change (HMD's column blocks, pruning's pattern) use T = diag(√C_ii).
/// δ = <see cref="Ridge"/> × mean(diag C) keeps directions the calibration data never excites from being ignored.
/// </summary>
internal sealed class InputTransform
{
    public const double Ridge = 0.01;
    private readonly double[,] _forward;
    private readonly double[,] _inverse;

    private InputTransform(int size, double[,] forward, double[,] inverse, bool diagonal)
    {
        Size = size;
        _forward = forward;
        _inverse = inverse;
        IsDiagonal = diagonal;
    }

    public int Size { get; }

    public bool IsDiagonal { get; }

    /// <summary>The transform for second moments <paramref name="moment"/> [size × size].</summary>
    public static InputTransform Create(double[] moment, int size, bool diagonal)
    {
        var c = Matrix<double>.Build.Dense(size, size, (i, j) => moment[i * size + j]);
        var ridge = Ridge * Math.Max(c.Diagonal().Average(), 1e-12);
        if (diagonal)
        {
            var forward = new double[size, size];
            var inverse = new double[size, size];
            for (var i = 0; i < size; i++)
            {
                var scale = Math.Sqrt(c[i, i] + ridge);
                forward[i, i] = scale;
                inverse[i, i] = 1 / scale;
            }

            return new InputTransform(size, forward, inverse, true);
        }

        var l = (c + Matrix<double>.Build.DenseIdentity(size) * ridge).Cholesky().Factor;
        return new InputTransform(size, l.ToArray(), l.Inverse().ToArray(), false);
    }

    /// <summary>T = <paramref name="scale"/>·I: a uniform change of scale (see <see cref="MatrixGroup"/>).</summary>
    public static InputTransform Uniform(int size, double scale)
    {
        var forward = new double[size, size];
        var inverse = new double[size, size];
        for (var i = 0; i < size; i++)
        {
            forward[i, i] = scale;
            inverse[i, i] = 1 / scale;
        }

        return new InputTransform(size, forward, inverse, true);
    }

    /// <summary>
    /// T·<paramref name="factor"/>. With a power of two the scaling is exact, so it changes only the magnitude the
    /// methods see, not their result up to that factor.
    /// </summary>
    public InputTransform Scaled(double factor)
    {
        var forward = (double[,])_forward.Clone();
        var inverse = (double[,])_inverse.Clone();
        for (var i = 0; i < Size; i++)
        {
            for (var j = 0; j < Size; j++)
            {
                forward[i, j] *= factor;
                inverse[i, j] /= factor;
            }
        }

        return new InputTransform(Size, forward, inverse, IsDiagonal);
    }

    /// <summary>max |(M·T)_ij| computed in double, so it is right even where the float product would overflow.</summary>
    public double MaxAbsApplied(ReadOnlySpan<float> m, int rows)
    {
        double max = 0;
        Multiply(m, rows, _forward, row => max = Math.Max(max, row.Max(Math.Abs)));
        return max;
    }

    /// <summary>
    /// T = 2^<c>Exponent</c>·<c>Matrix</c>, with the matrix row-major [Size × Size] in float32 and its largest |entry| about 1
    /// (for products by a fast float kernel, whatever power-of-two scale T carries).
    /// </summary>
    public (float[] Matrix, int Exponent) ForwardMatrix()
    {
        double largest = 0;
        foreach (var v in _forward)
        {
            largest = Math.Max(largest, Math.Abs(v));
        }

        var exponent = largest > 0 ? Math.ILogB(largest) : 0;
        var result = new float[Size * Size];
        for (var i = 0; i < Size; i++)
        {
            for (var j = 0; j < Size; j++)
            {
                result[i * Size + j] = (float)Math.ScaleB(_forward[i, j], -exponent);
            }
        }

        return (result, exponent);
    }

    /// <summary>M·T for row-major M [rows × Size].</summary>
    public float[] Apply(ReadOnlySpan<float> m, int rows) => Multiply(m, rows, _forward);

    /// <summary>M·T⁻¹ for row-major M [rows × Size].</summary>
    public float[] Undo(ReadOnlySpan<float> m, int rows) => Multiply(m, rows, _inverse);

    /// <summary>The diagonal of T⁻¹ (only for a diagonal transform).</summary>
    public float[] InverseScales() => IsDiagonal
        ? Enumerable.Range(0, Size).Select(i => (float)_inverse[i, i]).ToArray()
        : throw new InvalidOperationException("Only a diagonal transform has per-column scales.");

    private float[] Multiply(ReadOnlySpan<float> m, int rows, double[,] t)
    {
        var n = Size;
        var result = new float[rows * n];
        var r = 0;
        Multiply(m, rows, t, row =>
        {
            for (var j = 0; j < n; j++)
            {
                result[r * n + j] = (float)row[j];
            }

            r++;
        });
        return result;
    }

    /// <summary>Each row of M·T in double, in order, to <paramref name="take"/>.</summary>
    private void Multiply(ReadOnlySpan<float> m, int rows, double[,] t, Action<double[]> take)
    {
        var n = Size;
        var row = new double[n];
        for (var r = 0; r < rows; r++)
        {
            Array.Clear(row);
            for (var k = 0; k < n; k++)
            {
                double v = m[r * n + k];
                if (v == 0)
                {
                    continue;
                }

                if (IsDiagonal)
                {
                    row[k] += v * t[k, k];
                    continue;
                }

                for (var j = 0; j < n; j++)
                {
                    row[j] += v * t[k, j];
                }
            }

            take(row);
        }
    }
}
