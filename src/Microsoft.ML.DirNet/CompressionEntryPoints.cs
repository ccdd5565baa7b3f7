using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Export;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet;

/// <summary>
/// The parts of the compression API that need the layers above Compression, which never names them: the native engine
/// (calibration runs the model on it, and the compressor checks a graph with it) and the export (the compressed ONNX).
/// They are C# 14 extension members of the Compression types, so they read as members of those types:
/// <c>RnnCompressor.Compress(model, options)</c>, <c>CalibrationStatistics.Capture(model, inputs)</c>,
/// <c>result.ToCompressedModel()</c>. In scope in every <c>Microsoft.ML.DirNet</c> namespace and wherever
/// <c>using Microsoft.ML.DirNet;</c> is.
/// </summary>
public static class CompressionEntryPoints
{
    extension(RnnCompressor)
    {
        /// <summary>
        /// Compresses <paramref name="model"/> as <paramref name="options"/> say (see <see cref="RnnCompressor"/>);
        /// the graph is first checked as the native engine checks it. A matrix whose compressed form, with the graph
        /// that rebuilds it, would take as many file bytes as it takes dense is kept dense
        /// (<see cref="CompressionResult.KeptDenseForSize"/>), so the compressed file is always smaller than the model.
        /// </summary>
        /// <exception cref="DirNetException">The ratio is not above 1 or cannot be reached, a weight is NaN or infinite,
        /// the model is already compressed or its graph cannot run, it has no compressible matrix in the chosen scope,
        /// or compressing would not make its file smaller.</exception>
        public static CompressionResult Compress(OnnxModel model, CompressionOptions options,
            IProgress<CompressionProgress>? progress = null, CancellationToken cancellationToken = default) =>
            FilePayoff.KeepWhatPays(RnnCompressor.Compress(model, options, NativeEngine.Instance, progress, cancellationToken));
    }

    extension(CalibrationStatistics)
    {
        /// <summary>Runs <paramref name="model"/> natively on each input set and accumulates the moments of every matrix's inputs.</summary>
        /// <exception cref="DirNetException">An input set does not fit the model or holds NaN or infinite values, or the model
        /// computes NaN or infinite values from it where a matrix's inputs are captured (the message names the input or value).</exception>
        public static CalibrationStatistics Capture(OnnxModel model, IEnumerable<Tensor[]> inputs, CancellationToken cancellationToken = default) =>
            CalibrationStatistics.Capture(model, inputs, NativeEngine.Instance, cancellationToken);
    }

    extension(CompressionResult result)
    {
        /// <summary>
        /// The compressed ONNX model: each compressed initializer replaced by its stored factors and the standard-op
        /// subgraph that rebuilds it under its old name, with the method and options in the model's metadata
        /// (<c>dirnet.compression</c>). Any ONNX runtime runs it (ONNX Runtime folds the rebuild at load); the native
        /// engine recognises the factors and multiplies by them directly. Save it with <see cref="OnnxModel.Save(string)"/>.
        /// </summary>
        /// <exception cref="DirNetException">The source imports an opset older than 11, which lacks the rebuild ops.</exception>
        public OnnxModel ToCompressedModel() => CompressedOnnxWriter.Write(result.Source, result);
    }
}
