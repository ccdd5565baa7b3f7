using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.DataView;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet;

/// <summary>
/// Compresses a trained recurrent ONNX model when fitted (<c>mlContext.Transforms.CompressRnn</c>): the rows given to
/// <see cref="Fit"/> are checked against the model's inputs and, where
/// <see cref="RnnCompressionOptions.CalibrationRows"/> asks, used as calibration inputs. The result scores with the
/// native engine on the compressed matrices.
/// </summary>
public sealed class RnnCompressionEstimator : IEstimator<RnnCompressionTransformer>
{
    /// <summary>Rows <see cref="Fit"/> reads to check their sizes when calibration reads fewer.</summary>
    private const int RowsChecked = 16;

    private readonly RnnCompressionOptions _options;
    private readonly OnnxModel _model;
    private readonly ModelColumns _columns;

    /// <summary>Reads the model at once, so that schema errors come before fitting.</summary>
    /// <exception cref="DirNetException">The model file is missing or not a valid ONNX model.</exception>
    /// <exception cref="ArgumentException">Column names or shapes do not fit the model's inputs and outputs.</exception>
    internal RnnCompressionEstimator(RnnCompressionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.ModelFile, nameof(options.ModelFile));
        ArgumentOutOfRangeException.ThrowIfNegative(options.CalibrationRows, nameof(options.CalibrationRows));
        _options = options;
        _model = OnnxModel.Load(options.ModelFile);
        _columns = new ModelColumns(_model, options.InputColumnNames, options.OutputColumnNames, options.ShapeDictionary);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">An input column is missing or has the wrong type (the message names it and what was expected).</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        _columns.Check(inputSchema);
        return _columns.OutputShape(inputSchema);
    }

    /// <summary>Compresses the model (seconds to minutes for a large one; see <see cref="RnnCompressionOptions.Progress"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An input column of <paramref name="input"/> is missing or of the wrong type or size.</exception>
    /// <exception cref="DirNetException">The target cannot be reached, a weight is not finite, or calibration rows do not fit the model.</exception>
    /// <exception cref="OperationCanceledException"><see cref="RnnCompressionOptions.CancellationToken"/> was cancelled.</exception>
    public RnnCompressionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _columns.Check(input.Schema);
        // A vector column of unknown size passes the schema check: read the first rows into the model's input shapes
        // before minutes of compression, so a wrong length is refused now, not at scoring.
        List<Tensor[]> rows;
        try
        {
            rows = _columns.ReadRows(input, Math.Max(_options.CalibrationRows, RowsChecked));
        }
        catch (Runtime.ModelInputException e)
        {
            throw new ArgumentOutOfRangeException(nameof(input), e.Message);
        }

        var calibration = _options.CalibrationRows > 0
            ? CalibrationStatistics.Capture(_model, rows.Take(_options.CalibrationRows), _options.CancellationToken)
            : null;
        var result = RnnCompressor.Compress(_model, _options.ToCompressionOptions(calibration), _options.Progress, _options.CancellationToken);
        return new RnnCompressionTransformer(result.ToCompressedModel(), _columns, result);
    }
}
