using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Matrices compressed together: one matrix, or several that multiply the same vector (DirNet's shared projection),
/// stacked by rows into one [Rows × Columns] problem.
/// </summary>
internal sealed class MatrixGroup
{
    public MatrixGroup(IReadOnlyList<(CompressibleWeight Weight, float[] Values)> members)
    {
        if (members.Count == 0 || members.Any(m => m.Weight.Columns != members[0].Weight.Columns))
        {
            throw new ArgumentException("A matrix group needs at least one matrix, all with the same number of columns.");
        }

        Members = members;
        Columns = members[0].Weight.Columns;
        Rows = members.Sum(m => m.Weight.Rows);
        Values = members.Count == 1 ? members[0].Values : members.SelectMany(m => m.Values).ToArray();
        Energy = Values.Sum(v => (double)v * v);
    }

    public IReadOnlyList<(CompressibleWeight Weight, float[] Values)> Members { get; }

    public int Rows { get; }

    public int Columns { get; }

    /// <summary>The members' rows stacked, row-major [Rows × Columns].</summary>
    public float[] Values { get; }

    /// <summary>Dense float32 bytes.</summary>
    public long DenseBytes => (long)Rows * Columns * sizeof(float);

    /// <summary>‖W‖²_F of the stacked rows.</summary>
    public double Energy { get; }

    public string DisplayName => string.Join(" + ", Members.Select(m => m.Weight.DisplayName));

    /// <summary>Splits a stacked [Rows × Columns] dense result back into the members' matrices.</summary>
    public IReadOnlyList<CompressedMatrix> SplitDense(float[] stacked)
    {
        var parts = new List<CompressedMatrix>();
        var offset = 0;
        foreach (var (weight, _) in Members)
        {
            parts.Add(new DenseMatrix(stacked.AsSpan(offset, weight.Rows * Columns).ToArray(), weight.Rows, Columns));
            offset += weight.Rows * Columns;
        }

        return parts;
    }
}
