using Microsoft.ML.Data;

namespace Microsoft.ML.DirNet.DataView;

/// <summary>
/// An input row with the model's outputs appended: columns below the input's count pass through, the rest are scored
/// by a <see cref="RowScorer"/>.
/// </summary>
internal sealed class ScoredRow : DataViewRow
{
    private readonly DataViewRow _input;
    private readonly RowScorer _scorer;
    private readonly bool[] _activeOutputs;

    public ScoredRow(DataViewRow input, DataViewSchema schema, RowScorer scorer, bool[] activeOutputs)
    {
        _input = input;
        Schema = schema;
        _scorer = scorer;
        _activeOutputs = activeOutputs;
    }

    public override long Position => _input.Position;

    public override long Batch => _input.Batch;

    public override DataViewSchema Schema { get; }

    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) => column.Index < _input.Schema.Count
        ? _input.IsColumnActive(_input.Schema[column.Index])
        : _activeOutputs[column.Index - _input.Schema.Count];

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (!IsColumnActive(column))
        {
            throw new InvalidOperationException($"Column '{column.Name}' is not active in this row.");
        }

        return column.Index < _input.Schema.Count
            ? _input.GetGetter<TValue>(_input.Schema[column.Index])
            : _scorer.Getter<TValue>(column.Index - _input.Schema.Count);
    }
}
