namespace Microsoft.ML.DirNet.Onnx;

/// <summary>
/// The model parses but its graph is inconsistent: a node reads a value nothing produces (e.g. a missing initializer),
/// the nodes form a cycle, or a node's attributes or inputs contradict each other.
/// </summary>
public sealed class OnnxGraphException : DirNetException
{
    /// <summary>Creates the exception for the node (or graph-level problem) described by <paramref name="message"/>.</summary>
    public OnnxGraphException(string message, string? nodeName = null, Exception? innerException = null)
        : base(message, innerException)
    {
        NodeName = nodeName;
    }

    /// <summary>The node the problem was found at, when there is one.</summary>
    public string? NodeName { get; }
}
