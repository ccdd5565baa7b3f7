using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Matrices compressed together: one matrix, or several that multiply the same vector (DirNet's shared projection),
/// stacked by rows into one [Rows × Columns] problem.
/// </summary>
internal sealed class MatrixGroup
{
    public MatrixGroup(IReadOnlyList<(CompressibleWeight Weight, float[] Values)> members, InputTransform? transform = null)
    {
        if (members.Count == 0 || members.Any(m => m.Weight.Columns != members[0].Weight.Columns))
        {
            throw new ArgumentException("A matrix group needs at least one matrix, all with the same number of columns.");
        }

        Members = members;
        Columns = members[0].Weight.Columns;
        Rows = members.Sum(m => m.Weight.Rows);
        var stacked = members.Count == 1 ? members[0].Values : members.SelectMany(m => m.Values).ToArray();
        var values = transform is null ? stacked : transform.Apply(stacked, Rows);
        double largest = MathF.Abs(TensorPrimitives.MaxMagnitude(values));
        if (!double.IsFinite(largest) && transform is not null)
        {
            largest = transform.MaxAbsApplied(stacked, Rows);
        }

        if (largest > LargestFitted || (largest > 0 && largest < SmallestFitted))
        {
            // The methods square and sum float values (row norms, Gram matrices, residuals): near float's limits those
            // overflow to ∞ or vanish. A power-of-two scale, folded into the change of basis that MapBack undoes,
            // brings the largest |value| to about 1 exactly; weights in the usual range are left untouched.
            var scale = Math.ScaleB(1.0, -Math.ILogB(largest));
            transform = transform?.Scaled(scale) ?? InputTransform.Uniform(Columns, scale);
            values = transform.Apply(stacked, Rows);
        }

        Transform = transform;
        Values = values;
        Energy = Values.Sum(v => (double)v * v);
    }

    /// <summary>Above this largest |value| the fitted values are scaled down (squares stay far from float's maximum).</summary>
    internal const double LargestFitted = 1L << 32;

    /// <summary>Below this largest |value| (and above 0) the fitted values are scaled up (squares stay normal floats).</summary>
    internal const double SmallestFitted = 1.0 / (1L << 32);

    public IReadOnlyList<(CompressibleWeight Weight, float[] Values)> Members { get; }

    public int Rows { get; }

    public int Columns { get; }

    /// <summary>The data-aware change of input basis the fit works in, if any (see <see cref="InputTransform"/>).</summary>
    public InputTransform? Transform { get; }

    /// <summary>What the methods fit: the members' rows stacked, row-major [Rows × Columns], times T when transformed.</summary>
    public float[] Values { get; }

    /// <summary>Dense float32 bytes.</summary>
    public long DenseBytes => (long)Rows * Columns * sizeof(float);

    /// <summary>‖W‖²_F of <see cref="Values"/>.</summary>
    public double Energy { get; }

    public string DisplayName => string.Join(" + ", Members.Select(m => m.Weight.DisplayName));

    /// <summary>The members kept dense (exact).</summary>
    public IReadOnlyList<CompressedMatrix> Dense() => Members.Select(m => (CompressedMatrix)new DenseMatrix(m.Values, m.Weight.Rows, Columns)).ToArray();

    /// <summary>Maps fitted matrices back from the transformed basis (no-op without a transform).</summary>
    public IReadOnlyList<CompressedMatrix> MapBack(IReadOnlyList<CompressedMatrix> fitted)
    {
        if (Transform is null)
        {
            return fitted;
        }

        var shared = new Dictionary<float[], float[]>(ReferenceEqualityComparer.Instance);
        return fitted.Select(m => m.UndoInputTransform(Transform, shared)).ToArray();
    }
}
