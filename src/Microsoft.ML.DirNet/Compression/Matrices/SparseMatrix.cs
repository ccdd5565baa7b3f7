namespace Microsoft.ML.DirNet.Compression;

/// <summary>A pruned matrix: only the kept weights, in compressed sparse rows (values, narrow column indices, row starts).</summary>
public sealed partial class SparseMatrix : CompressedMatrix
{
    internal SparseMatrix(SparseRows rows)
        : base(rows.Rows, rows.Columns)
    {
        Storage = rows;
    }

    internal SparseRows Storage { get; }

    /// <summary>Kept weights.</summary>
    public int NonZeros => Storage.NonZeros;

    /// <inheritdoc/>
    public override string Method => "prune";

    /// <inheritdoc/>
    public override long Parameters => Storage.NonZeros;

    /// <inheritdoc/>
    public override string Structure => $"{NonZeros:N0} kept ({100.0 * NonZeros / ((long)Rows * Columns):0.0} %)";

    /// <inheritdoc/>
    protected override IReadOnlyList<MatrixFactor> FloatFactors => Storage.Factors("weight_").ToArray();

    /// <inheritdoc/>
    public override float[] ToDense() => Storage.ToDense();

    internal override CompressedMatrix MapValues(Func<float[], float[]> map) =>
        new SparseMatrix(new SparseRows(Rows, Columns, Storage.RowStarts, Storage.ColumnIndices, map(Storage.Values)));

    internal override CompressedMatrix UndoInputTransform(InputTransform transform, Dictionary<float[], float[]> shared)
    {
        // Only a diagonal change keeps the pattern: each kept weight is scaled by its column's factor.
        var scales = transform.InverseScales();
        var values = Storage.Values.Select((v, i) => v * scales[Storage.ColumnIndices[i]]).ToArray();
        return new SparseMatrix(new SparseRows(Rows, Columns, Storage.RowStarts, Storage.ColumnIndices, values));
    }
}
