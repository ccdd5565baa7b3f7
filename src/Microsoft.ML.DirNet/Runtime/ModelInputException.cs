namespace Microsoft.ML.DirNet.Runtime;

/// <summary>An input fed to a model is missing, unknown, or of the wrong element type or shape.</summary>
public sealed class ModelInputException : DirNetException
{
    /// <summary>Creates the exception for input <paramref name="inputName"/>.</summary>
    public ModelInputException(string inputName, string message)
        : base(message)
    {
        InputName = inputName;
    }

    /// <summary>The input the problem is about.</summary>
    public string InputName { get; }
}
