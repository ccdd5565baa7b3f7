using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// DirNet's W = C·P applied as p = P·x (one dense product with the small dictionary, packed like any dense weight) and
/// then y = C·p over the sparse codes. Operators built on the same dictionary array share its packed form.
/// </summary>
internal sealed class DictionaryWeight : WeightOperator
{
    private readonly DenseWeight _projection;
    private readonly float[] _dictionary;
    private readonly SparseProduct _codes;

    public DictionaryWeight(DictionaryMatrix matrix)
        : this(new DenseWeight(matrix.DictionaryArray, 0, matrix.Atoms, matrix.Columns), matrix.DictionaryArray, new SparseProduct(matrix.Codes))
    {
    }

    private DictionaryWeight(DenseWeight projection, float[] dictionary, SparseProduct codes)
    {
        _projection = projection;
        _dictionary = dictionary;
        _codes = codes;
    }

    public override int Rows => _codes.Rows;

    public override int Columns => _projection.Columns;

    public override string Form => "dictionary";

    public override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        CheckSpans(a, m, c);
        var atoms = _projection.Rows;
        using var projected = new ScratchBuffer(m * atoms);
        _projection.Multiply(a, m, projected.Span, accumulate: false);
        for (var i = 0; i < m; i++)
        {
            _codes.Multiply(projected.Span.Slice(i * atoms, atoms), c.Slice(i * Rows, Rows), accumulate);
        }
    }

    public override void ReadRow(int row, Span<float> destination) => _codes.CombineRows(row, _dictionary, Columns, destination);

    public override WeightOperator RowRange(int start, int count) =>
        new DictionaryWeight(_projection, _dictionary, new SparseProduct(_codes.Source.RowRange(start, count)));
}
