using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Onnx;

/// <summary>
/// Sees what chosen nodes read and compute while an engine runs a model: calibration uses it to capture what each matrix
/// multiplies wherever its reader sits, a node inside an If branch or a Loop or Scan body included (such a node is seen
/// once per run of its subgraph). Nodes are told apart by identity, as ONNX lets names repeat across subgraphs.
/// </summary>
internal interface INodeObserver
{
    /// <summary>Whether <paramref name="node"/> (one of the loaded model's <see cref="OnnxNode"/> objects) is observed.</summary>
    bool Observes(OnnxNode node);

    /// <summary>
    /// Called after an observed node ran, with the tensors it read (null for an omitted optional input) and those it
    /// wrote, in the node's input and output order. The tensors must not be modified.
    /// </summary>
    void Ran(OnnxNode node, ReadOnlySpan<Tensor?> inputs, ReadOnlySpan<Tensor?> outputs);
}
