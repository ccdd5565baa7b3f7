using Microsoft.ML.Data;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.DataView;
using Microsoft.ML.DirNet.Export;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;

namespace Microsoft.ML.DirNet;

/// <summary>
/// A compressed recurrent model as an ML.NET transformer: scores rows with the native engine, which runs the
/// compressed matrices directly; reports what was compressed (<see cref="Report"/>); saves the compressed ONNX model
/// (<see cref="SaveCompressedModel(string)"/>) and loads from it (<see cref="Load"/>).
/// </summary>
/// <remarks>
/// <para>ML.NET's model zip cannot hold a transformer from another package, so <c>mlContext.Model.Save</c> on a
/// pipeline holding this transformer throws <see cref="NotSupportedException"/>. The compressed ONNX file is the
/// persisted form: load it back with <see cref="Load"/>, or score it in a savable pipeline with ML.NET's own
/// <c>ApplyOnnxModel</c>, which runs it in ONNX Runtime with the same results.</para>
/// <para>Thread safety: the transformer is immutable and one instance may serve many threads; each cursor and each
/// prediction engine keeps its own state.</para>
/// </remarks>
public sealed class RnnCompressionTransformer : ITransformer
{
    private readonly OnnxModel _model;
    private readonly NativeModel _engine;
    private readonly ModelColumns _columns;

    internal RnnCompressionTransformer(OnnxModel compressedModel, ModelColumns columns, CompressionResult? result)
    {
        _model = compressedModel;
        _engine = new NativeModel(compressedModel);
        _columns = columns;
        var factored = CompressedOnnxReader.Read(compressedModel)
            ?? throw new DirNetException($"'{compressedModel.SourceName}' is not a model compressed by this library (its metadata has no '{CompressionMetadata.Key}'); compress it with mlContext.Transforms.CompressRnn first.");
        Report = new CompressionReport(factored, compressedModel.ToBytes().LongLength, result);
    }

    /// <summary>What was compressed, per matrix and in total.</summary>
    public CompressionReport Report { get; }

    /// <summary>
    /// Loads a compressed ONNX model written by <see cref="SaveCompressedModel(string)"/> or <c>dirnet compress</c>.
    /// </summary>
    /// <param name="compressedModelFile">The compressed model.</param>
    /// <param name="outputColumnNames">Columns for the model's outputs, in order; default the ONNX output names.</param>
    /// <param name="inputColumnNames">Columns feeding the model's inputs, in order; default the ONNX input names.</param>
    /// <param name="shapeDictionary">Shapes for inputs with more than one symbolic dimension, by ONNX input name (−1 leaves one open, to follow from each row; see <see cref="RnnCompressionOptions.ShapeDictionary"/>).</param>
    /// <exception cref="DirNetException">The file is missing, not ONNX, not compressed by this library, or changed after compression.</exception>
    public static RnnCompressionTransformer Load(string compressedModelFile, string[]? outputColumnNames = null,
        string[]? inputColumnNames = null, IDictionary<string, int[]>? shapeDictionary = null)
    {
        var model = OnnxModel.Load(compressedModelFile);
        return new RnnCompressionTransformer(model, new ModelColumns(model, inputColumnNames, outputColumnNames, shapeDictionary), null);
    }

    /// <summary>Writes the compressed ONNX model (to a temporary name, then renamed, so a failure leaves no partial file).</summary>
    public void SaveCompressedModel(string path) => _model.Save(path);

    /// <summary>Writes the compressed ONNX model to <paramref name="stream"/>.</summary>
    public void SaveCompressedModel(Stream stream) => _model.Save(stream);

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">An input column is missing or of the wrong type or size (the message names it and what was expected).</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        _columns.Check(inputSchema);
        return _columns.OutputSchema(inputSchema);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new ScoringRowMapper(new ModelScoring(_engine, _columns, inputSchema));

    /// <summary>The input data with the model's outputs as new columns, computed as rows are read.</summary>
    public IDataView Transform(IDataView input) => new ScoredDataView(input, new ModelScoring(_engine, _columns, input.Schema));

    /// <summary>Not supported: see the remarks on <see cref="RnnCompressionTransformer"/>.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException(
        "ML.NET's model zip cannot hold RnnCompressionTransformer. Save the compressed ONNX model with SaveCompressedModel(path) " +
        "and load it with mlContext.Model.LoadCompressedRnn(path), or score that file in a savable pipeline with mlContext.Transforms.ApplyOnnxModel.");
}
