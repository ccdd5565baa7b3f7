namespace Microsoft.ML.DirNet.Compression;

// The pruned product: the kept entries multiplied row by row, or vectorised over a batch of inputs.
public sealed partial class SparseMatrix
{
    /// <inheritdoc/>
    internal override string Form => "sparse";

    /// <inheritdoc/>
    internal override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        CheckBatch(a, m, c);
        if (m >= SparseRows.BatchRows)
        {
            Storage.MultiplyBatch(a, m, c, accumulate);
            return;
        }

        for (var i = 0; i < m; i++)
        {
            Storage.Multiply(a.Slice(i * Columns, Columns), c.Slice(i * Rows, Rows), accumulate);
        }
    }

    /// <inheritdoc/>
    internal override void ReadRow(int row, Span<float> destination)
    {
        var target = destination[..Columns];
        target.Clear();
        for (var i = Storage.RowStarts[row]; i < Storage.RowStarts[row + 1]; i++)
        {
            target[Storage.ColumnIndices[i]] = Storage.Values[i];
        }
    }

    /// <inheritdoc/>
    private protected override CompressedMatrix CreateRowRange(int start, int count) => new SparseMatrix(Storage.RowRange(start, count));
}
