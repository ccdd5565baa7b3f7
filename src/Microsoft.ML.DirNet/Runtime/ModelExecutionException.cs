namespace Microsoft.ML.DirNet.Runtime;

/// <summary>A node could not compute its outputs from the values it received (e.g. an index out of range).</summary>
public sealed class ModelExecutionException : DirNetException
{
    /// <summary>Creates the exception for the node named <paramref name="nodeName"/>.</summary>
    public ModelExecutionException(string nodeName, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        NodeName = nodeName;
    }

    /// <summary>The node that failed.</summary>
    public string NodeName { get; }
}
