using Microsoft.ML.Data;

namespace Microsoft.ML.DirNet.DataView;

/// <summary>The row-to-row mapper ML.NET's <c>PredictionEngine</c> scores single examples with.</summary>
internal sealed class ScoringRowMapper(ModelScoring scoring) : IRowToRowMapper
{
    public DataViewSchema InputSchema => scoring.InputSchema;

    public DataViewSchema OutputSchema => scoring.OutputSchema;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) =>
        scoring.Dependencies(dependingColumns);

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) => scoring.Row(input, activeColumns);
}
