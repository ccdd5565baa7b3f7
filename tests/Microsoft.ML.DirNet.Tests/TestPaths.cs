namespace Microsoft.ML.DirNet.Tests;

/// <summary>Where the tests find the repository, its fixtures, and the shared folder beside the clone.</summary>
internal static class TestPaths
{
    /// <summary>The repository root (the folder holding DirNet.sln).</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The PyTorch-exported fixtures copied next to the test assembly.</summary>
    public static string Fixtures => Path.Combine(AppContext.BaseDirectory, "Fixtures");

    /// <summary>
    /// The ONNX backend node tests: <c>../shared/onnx-node-tests</c> beside the clone, or DIRNET_ONNX_NODE_TESTS.
    /// </summary>
    public static string OnnxNodeTests =>
        Environment.GetEnvironmentVariable("DIRNET_ONNX_NODE_TESTS") is { Length: > 0 } overridden
            ? overridden
            : Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "onnx-node-tests"));

    /// <summary>A fresh, empty temporary folder for one test.</summary>
    public static string NewTemporaryFolder()
    {
        var path = Path.Combine(Path.GetTempPath(), "dirnet-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DirNet.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No DirNet.sln above {AppContext.BaseDirectory}.");
    }
}
