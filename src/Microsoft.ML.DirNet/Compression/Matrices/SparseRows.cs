using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Compressed sparse rows (CSR): the non-zeros of each row as (column, value) pairs, rows one after another. Used for
/// pruned weights and for DirNet's sparse codes. Column indices are stored in the narrowest unsigned type that holds
/// every column (8, 16 or 32 bits), row starts as int32, values as float32; all three count in the storage bytes.
/// </summary>
internal sealed partial class SparseRows
{
    public SparseRows(int rows, int columns, int[] rowStarts, int[] columnIndices, float[] values)
    {
        if (rowStarts.Length != rows + 1 || rowStarts[0] != 0 || rowStarts[rows] != values.Length
            || columnIndices.Length != values.Length)
        {
            throw new ArgumentException($"Inconsistent CSR arrays for {rows} rows: {rowStarts.Length} row starts, {columnIndices.Length} indices, {values.Length} values.");
        }

        for (var r = 0; r < rows; r++)
        {
            if (rowStarts[r + 1] < rowStarts[r])
            {
                throw new ArgumentException($"CSR row starts decrease at row {r}.");
            }
        }

        foreach (var c in columnIndices)
        {
            if ((uint)c >= (uint)columns)
            {
                throw new ArgumentException($"CSR column index {c} is outside [0, {columns}).");
            }
        }

        Rows = rows;
        Columns = columns;
        RowStarts = rowStarts;
        ColumnIndices = columnIndices;
        Values = values;
    }

    public int Rows { get; }

    public int Columns { get; }

    public int[] RowStarts { get; }

    public int[] ColumnIndices { get; }

    public float[] Values { get; }

    public int NonZeros => Values.Length;

    /// <summary>Rows holding at least one entry.</summary>
    public int NonEmptyRows => Enumerable.Range(0, Rows).Count(r => RowStarts[r + 1] > RowStarts[r]);

    /// <summary>Builds CSR from a dense row-major matrix, keeping the entries <paramref name="keep"/> accepts.</summary>
    public static SparseRows FromDense(ReadOnlySpan<float> dense, int rows, int columns, Func<int, int, bool> keep)
    {
        var starts = new int[rows + 1];
        var indices = new List<int>();
        var values = new List<float>();
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                if (keep(r, c))
                {
                    indices.Add(c);
                    values.Add(dense[r * columns + c]);
                }
            }

            starts[r + 1] = values.Count;
        }

        return new SparseRows(rows, columns, starts, indices.ToArray(), values.ToArray());
    }

    /// <summary>The factors in storage order: values, column indices (narrow), row starts, named with <paramref name="prefix"/>.</summary>
    public IEnumerable<MatrixFactor> Factors(string prefix)
    {
        yield return new MatrixFactor(prefix + "values", new Tensor<float>([NonZeros], Values));
        yield return new MatrixFactor(prefix + "columns", NarrowIndices(ColumnIndices, Columns));
        yield return new MatrixFactor(prefix + "row_starts", new Tensor<int>([Rows + 1], RowStarts));
    }

    /// <summary>S as a dense row-major matrix.</summary>
    public float[] ToDense()
    {
        var dense = new float[(long)Rows * Columns];
        for (var r = 0; r < Rows; r++)
        {
            for (var i = RowStarts[r]; i < RowStarts[r + 1]; i++)
            {
                dense[(long)r * Columns + ColumnIndices[i]] = Values[i];
            }
        }

        return dense;
    }

    /// <summary>The rows [<paramref name="start"/>, start + <paramref name="count"/>) as their own CSR.</summary>
    public SparseRows RowRange(int start, int count)
    {
        int from = RowStarts[start], to = RowStarts[start + count];
        var starts = new int[count + 1];
        for (var r = 0; r <= count; r++)
        {
            starts[r] = RowStarts[start + r] - from;
        }

        return new SparseRows(count, Columns, starts, ColumnIndices[from..to], Values[from..to]);
    }

    /// <summary>Column indices in the narrowest unsigned type that holds <paramref name="columns"/> − 1.</summary>
    internal static Tensor NarrowIndices(int[] indices, int columns)
    {
        if (columns <= byte.MaxValue + 1)
        {
            return new Tensor<byte>([indices.Length], indices.Select(i => (byte)i).ToArray());
        }

        if (columns <= ushort.MaxValue + 1)
        {
            return new Tensor<ushort>([indices.Length], indices.Select(i => (ushort)i).ToArray());
        }

        return new Tensor<int>([indices.Length], indices);
    }
}
