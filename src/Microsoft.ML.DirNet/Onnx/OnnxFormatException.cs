namespace Microsoft.ML.DirNet.Onnx;

/// <summary>
/// The bytes are not a readable ONNX model: the file is truncated or not ONNX at all, a required field is missing, or a
/// tensor's data disagrees with its declared type and shape.
/// </summary>
public sealed class OnnxFormatException : DirNetException
{
    /// <summary>Creates the exception for the model at <paramref name="modelPath"/>.</summary>
    public OnnxFormatException(string modelPath, string problem, Exception? innerException = null)
        : base($"'{modelPath}' is not a valid ONNX model: {problem}", innerException)
    {
        ModelPath = modelPath;
    }

    /// <summary>The model file (or stream name) that failed to load.</summary>
    public string ModelPath { get; }
}
