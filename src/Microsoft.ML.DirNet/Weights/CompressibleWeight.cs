namespace Microsoft.ML.DirNet.Weights;

/// <summary>
/// One weight matrix a compression method can replace, seen as y = W·x with <see cref="Rows"/> outputs and
/// <see cref="Columns"/> inputs (an embedding table is read by rows: one row per token).
/// </summary>
/// <param name="Initializer">The initializer holding the matrix.</param>
/// <param name="NodeName">The node that reads it.</param>
/// <param name="OpType">That node's operator.</param>
/// <param name="Role">What it does there.</param>
/// <param name="Direction">For recurrent weights, the direction (0 forward, 1 backward); otherwise 0.</param>
/// <param name="Rows">Outputs (rows of W as applied).</param>
/// <param name="Columns">Inputs (columns of W as applied).</param>
/// <param name="Bytes">Stored bytes of this matrix (one direction's slice for recurrent weights).</param>
/// <param name="StoredTransposed">Whether the initializer holds Wᵀ [columns, rows] (MatMul's B; Gemm's B without transB).</param>
/// <param name="NodeIndex">The reading node's position in the main graph's node list (−1 for a node inside a subgraph, or when not known). ONNX lets node
/// names be empty or repeated, so this, not <paramref name="NodeName"/>, identifies the node.</param>
/// <param name="GraphPath">Where the reading node lives: "" for the main graph, else the path of subgraphs to it, such
/// as <c>If_0.else_branch/If_1.then_branch</c>.</param>
public sealed record CompressibleWeight(
    string Initializer, string NodeName, string OpType, WeightRole Role, int Direction, int Rows, int Columns, long Bytes,
    bool StoredTransposed = false, int NodeIndex = -1, string GraphPath = "")
{
    /// <summary>A readable name such as <c>LSTM_1.R[backward]</c> or <c>decoder.weight (MatMul)</c>.</summary>
    public string DisplayName => Role switch
    {
        WeightRole.RecurrentInput or WeightRole.RecurrentHidden =>
            $"{NodeName}.{(Role == WeightRole.RecurrentInput ? "W" : "R")}[{(Direction == 0 ? "forward" : "backward")}]",
        _ => $"{Initializer} ({OpType})",
    };

    /// <summary>Parameters (rows × columns).</summary>
    public long Parameters => (long)Rows * Columns;
}
