using Microsoft.ML.DirNet;
using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML;

/// <summary>ML.NET catalog entry points of Microsoft.ML.DirNet.</summary>
public static class RnnCompressionCatalog
{
    /// <summary>
    /// Compresses a trained recurrent model (LSTM, GRU or RNN layers in ONNX) to <paramref name="targetRatio"/> when the
    /// pipeline is fitted, and scores with the compressed matrices in the native engine. Input and output columns are
    /// named like the model's ONNX inputs and outputs.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="modelFile">The trained model; never modified.</param>
    /// <param name="method">The compression method; default DirNet.</param>
    /// <param name="targetRatio">Bytes before / after over the recurrent layers' weights; default 8.</param>
    /// <param name="shapeDictionary">Shapes for inputs with more than one symbolic dimension, by ONNX input name (−1 leaves one open, to follow from each row; see <see cref="RnnCompressionOptions.ShapeDictionary"/>).</param>
    /// <remarks>Save the fitted transformer's compressed model with <see cref="RnnCompressionTransformer.SaveCompressedModel(string)"/>.</remarks>
    /// <example>
    /// <code>
    /// var pipeline = mlContext.Transforms.CompressRnn("model.onnx", CompressionMethod.DirNet, targetRatio: 8);
    /// var compressed = pipeline.Fit(data);
    /// Console.WriteLine($"{compressed.Report.Ratio:0.0}x smaller recurrent weights");
    /// compressed.SaveCompressedModel("model.dirnet.onnx");
    /// </code>
    /// </example>
    public static RnnCompressionEstimator CompressRnn(this TransformsCatalog catalog, string modelFile,
        CompressionMethod method = CompressionMethod.DirNet, double targetRatio = 8, IDictionary<string, int[]>? shapeDictionary = null) =>
        catalog.CompressRnn(new RnnCompressionOptions { ModelFile = modelFile, Method = method, TargetRatio = targetRatio, ShapeDictionary = shapeDictionary });

    /// <summary>
    /// As <see cref="CompressRnn(TransformsCatalog, string, CompressionMethod, double, IDictionary{string, int[]})"/>,
    /// with the columns named: <paramref name="inputColumnNames"/> feed the model's inputs and
    /// <paramref name="outputColumnNames"/> receive its outputs, each in the model's order.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnNames">Columns for the model's outputs, in order.</param>
    /// <param name="inputColumnNames">Columns feeding the model's inputs, in order.</param>
    /// <param name="modelFile">The trained model; never modified.</param>
    /// <param name="method">The compression method; default DirNet.</param>
    /// <param name="targetRatio">Bytes before / after over the recurrent layers' weights; default 8.</param>
    /// <param name="shapeDictionary">Shapes for inputs with more than one symbolic dimension, by ONNX input name (−1 leaves one open, to follow from each row; see <see cref="RnnCompressionOptions.ShapeDictionary"/>).</param>
    /// <example>
    /// <code>
    /// var pipeline = mlContext.Transforms.CompressRnn(["Scores"], ["Features"], "asr.onnx", CompressionMethod.Hmd, 4);
    /// </code>
    /// </example>
    public static RnnCompressionEstimator CompressRnn(this TransformsCatalog catalog, string[] outputColumnNames, string[] inputColumnNames,
        string modelFile, CompressionMethod method = CompressionMethod.DirNet, double targetRatio = 8, IDictionary<string, int[]>? shapeDictionary = null) =>
        catalog.CompressRnn(new RnnCompressionOptions
        {
            ModelFile = modelFile,
            OutputColumnNames = outputColumnNames,
            InputColumnNames = inputColumnNames,
            Method = method,
            TargetRatio = targetRatio,
            ShapeDictionary = shapeDictionary,
        });

    /// <summary>Compresses a trained recurrent model as <paramref name="options"/> say (scope, allocation, per-matrix
    /// overrides, calibration, factor precision, seed; see <see cref="RnnCompressionOptions"/>).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The options.</param>
    /// <example>
    /// <code>
    /// var pipeline = mlContext.Transforms.CompressRnn(new RnnCompressionOptions
    /// {
    ///     ModelFile = "model.onnx", Method = CompressionMethod.Hmd, TargetRatio = 4,
    ///     CalibrationRows = 32, Precision = FactorPrecision.Float16,
    /// });
    /// </code>
    /// </example>
    public static RnnCompressionEstimator CompressRnn(this TransformsCatalog catalog, RnnCompressionOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new RnnCompressionEstimator(options);
    }

    /// <summary>
    /// Loads a compressed ONNX model (from <see cref="RnnCompressionTransformer.SaveCompressedModel(string)"/> or
    /// <c>dirnet compress</c>) as a transformer that scores with the native engine.
    /// </summary>
    /// <param name="catalog">The model operations catalog.</param>
    /// <param name="compressedModelFile">The compressed model.</param>
    /// <param name="outputColumnNames">Columns for the model's outputs, in order; default the ONNX output names.</param>
    /// <param name="inputColumnNames">Columns feeding the model's inputs, in order; default the ONNX input names.</param>
    /// <param name="shapeDictionary">Shapes for inputs with more than one symbolic dimension, by ONNX input name (−1 leaves one open, to follow from each row; see <see cref="RnnCompressionOptions.ShapeDictionary"/>).</param>
    /// <example>
    /// <code>
    /// var transformer = mlContext.Model.LoadCompressedRnn("model.dirnet.onnx");
    /// </code>
    /// </example>
    public static RnnCompressionTransformer LoadCompressedRnn(this ModelOperationsCatalog catalog, string compressedModelFile,
        string[]? outputColumnNames = null, string[]? inputColumnNames = null, IDictionary<string, int[]>? shapeDictionary = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return RnnCompressionTransformer.Load(compressedModelFile, outputColumnNames, inputColumnNames, shapeDictionary);
    }
}
