namespace Microsoft.ML.DirNet.Compression;

/// <summary>Progress of a compression: which matrix group is being analysed or built.</summary>
/// <param name="Stage">"analyse" (measuring sizes and errors), "plan" (the auto method scored on the output: whole
/// plans scored with every matrix changed), "build" (fitting at the planned size) or "quantize" (storing the values at
/// a low-bit precision).</param>
/// <param name="Done">Groups (for "plan": whole plans) finished in this stage.</param>
/// <param name="Total">Groups (for "plan": the most whole plans scored) in this stage.</param>
/// <param name="Current">The group being worked on (for the auto method scored on the output, also which candidate the
/// model is being run with).</param>
public sealed record CompressionProgress(string Stage, int Done, int Total, string Current);
