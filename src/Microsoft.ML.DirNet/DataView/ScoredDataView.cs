namespace Microsoft.ML.DirNet.DataView;

/// <summary>The lazy result of <c>Transform</c>: the input data with the model's outputs computed as rows are read.</summary>
internal sealed class ScoredDataView(IDataView input, ModelScoring scoring) : IDataView
{
    public bool CanShuffle => input.CanShuffle;

    public DataViewSchema Schema => scoring.OutputSchema;

    public long? GetRowCount() => input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        scoring.Cursor(input, columnsNeeded, rand);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];
}
