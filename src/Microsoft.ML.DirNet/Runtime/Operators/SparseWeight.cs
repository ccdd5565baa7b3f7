using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>A pruned weight: the kept entries in compressed sparse rows, multiplied row by row.</summary>
internal sealed class SparseWeight(SparseProduct product) : WeightOperator
{
    public SparseWeight(SparseMatrix matrix)
        : this(new SparseProduct(matrix.Storage))
    {
    }

    public override int Rows => product.Rows;

    public override int Columns => product.Columns;

    public override string Form => "sparse";

    public override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        CheckSpans(a, m, c);
        if (m >= DictionaryWeight.BatchRows)
        {
            product.MultiplyBatch(a, m, c, accumulate);
            return;
        }

        for (var i = 0; i < m; i++)
        {
            product.Multiply(a.Slice(i * Columns, Columns), c.Slice(i * Rows, Rows), accumulate);
        }
    }

    public override void ReadRow(int row, Span<float> destination)
    {
        var target = destination[..Columns];
        target.Clear();
        var rows = product.Source;
        for (var i = rows.RowStarts[row]; i < rows.RowStarts[row + 1]; i++)
        {
            target[rows.ColumnIndices[i]] = rows.Values[i];
        }
    }

    protected override WeightOperator CreateRowRange(int start, int count) => new SparseWeight(new SparseProduct(product.Source.RowRange(start, count)));
}
