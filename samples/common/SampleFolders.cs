namespace DirNetSamples;

/// <summary>Where a sample finds its model and data (in the repository) and writes its outputs (artifacts/, untracked).</summary>
internal static class SampleFolders
{
    /// <summary>The repository root: the first folder holding DirNet.sln above the working or the program's folder.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>samples/<paramref name="name"/>, with its model.onnx and data/.</summary>
    public static string Sample(string name) => Path.Combine(RepositoryRoot, "samples", name);

    /// <summary>artifacts/samples/<paramref name="name"/>, where the compressed models and the plot go.</summary>
    public static string Output(string name) => Path.Combine(RepositoryRoot, "artifacts", "samples", name);

    private static string FindRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
            {
                if (File.Exists(Path.Combine(folder.FullName, "DirNet.sln")))
                {
                    return folder.FullName;
                }
            }
        }

        throw new DirectoryNotFoundException("Run the sample from inside the repository (no DirNet.sln above the working folder or the program).");
    }
}
