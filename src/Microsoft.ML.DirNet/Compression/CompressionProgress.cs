namespace Microsoft.ML.DirNet.Compression;

/// <summary>Progress of a compression: which matrix group is being analysed or built.</summary>
/// <param name="Stage">"analyse" (measuring sizes and errors) or "build" (fitting at the planned size).</param>
/// <param name="Done">Groups finished in this stage.</param>
/// <param name="Total">Groups in this stage.</param>
/// <param name="Current">The group being worked on (for the auto method scored on the output, also which candidate the
/// model is being run with).</param>
public sealed record CompressionProgress(string Stage, int Done, int Total, string Current);
