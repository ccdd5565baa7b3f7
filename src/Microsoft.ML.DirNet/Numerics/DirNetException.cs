// In Numerics/ with the bottom layer that every layer throws from, but in the root namespace: it is public API that
// callers catch, as are its subclasses in Onnx and Runtime.
namespace Microsoft.ML.DirNet;

/// <summary>
/// Base type of every error this library raises about its inputs (models, tensors, options). The message always names
/// what was wrong (the file, node, tensor or input) and what was expected, so callers can show it as is.
/// </summary>
public class DirNetException : Exception
{
    /// <summary>Creates the exception with a complete, user-facing message.</summary>
    public DirNetException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a complete, user-facing message and the error that caused it.</summary>
    public DirNetException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
