using Microsoft.ML.DirNet.Runtime;

namespace Microsoft.ML.DirNet.DataView;

/// <summary>
/// The native model applied to rows of a given input schema: the output schema, which input columns a set of output
/// columns needs, and scored rows and cursors. Shared by the lazy data view (<c>Transform</c>) and the row-to-row
/// mapper (<c>PredictionEngine</c>).
/// </summary>
internal sealed class ModelScoring
{
    private readonly NativeModel _model;
    private readonly ModelColumns _columns;

    public ModelScoring(NativeModel model, ModelColumns columns, DataViewSchema inputSchema)
    {
        columns.Check(inputSchema);
        _model = model;
        _columns = columns;
        InputSchema = inputSchema;
        OutputSchema = columns.OutputSchema(inputSchema);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    /// <summary>Which outputs of <paramref name="columns"/> (columns of <see cref="OutputSchema"/>) are scored ones.</summary>
    public bool[] ActiveOutputs(IEnumerable<DataViewSchema.Column> columns)
    {
        var active = new bool[_columns.Outputs.Count];
        foreach (var column in columns.Where(c => c.Index >= InputSchema.Count))
        {
            active[column.Index - InputSchema.Count] = true;
        }

        return active;
    }

    /// <summary>The input columns needed for <paramref name="columns"/>: those passed through, and the model's inputs if any output is asked for.</summary>
    public IEnumerable<DataViewSchema.Column> Dependencies(IEnumerable<DataViewSchema.Column> columns)
    {
        var list = columns.ToList();
        var needed = list.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]);
        if (ActiveOutputs(list).Any(a => a))
        {
            needed = needed.Concat(_columns.Inputs.Select(i => InputSchema[i.Column]));
        }

        return needed.DistinctBy(c => c.Index).ToArray();
    }

    public ScoredRow Row(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new(input, OutputSchema, new RowScorer(_model, _columns, input), ActiveOutputs(activeColumns));

    public ScoredCursor Cursor(IDataView input, IEnumerable<DataViewSchema.Column> columnsNeeded, Random? random)
    {
        var needed = columnsNeeded.ToList();
        var cursor = input.GetRowCursor(Dependencies(needed), random);
        return new ScoredCursor(cursor, Row(cursor, needed));
    }
}
