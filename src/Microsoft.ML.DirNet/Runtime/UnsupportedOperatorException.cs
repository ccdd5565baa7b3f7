namespace Microsoft.ML.DirNet.Runtime;

/// <summary>
/// The model uses operators the native engine does not implement. The message lists every such operator with the
/// nodes that use it, so one error tells the whole story.
/// </summary>
public sealed class UnsupportedOperatorException : DirNetException
{
    /// <summary>Creates the exception from the unsupported operators and the nodes using each.</summary>
    public UnsupportedOperatorException(string modelName, IReadOnlyDictionary<string, IReadOnlyList<string>> operators)
        : base($"'{modelName}' uses operators the native engine does not support: " +
            string.Join("; ", operators.Select(o => $"{o.Key} (nodes: {string.Join(", ", o.Value.Take(10))}{(o.Value.Count > 10 ? $", and {o.Value.Count - 10} more" : "")})")) +
            $". Supported: {string.Join(", ", OperatorRegistry.SupportedOperators)}. ONNX Runtime can run this model instead.")
    {
        Operators = operators;
    }

    /// <summary>Each unsupported operator (with its domain when not the default one) and the names of the nodes using it.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Operators { get; }
}
