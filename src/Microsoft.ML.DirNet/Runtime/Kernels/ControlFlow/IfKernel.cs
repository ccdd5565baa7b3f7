using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.ControlFlow;

/// <summary>
/// ONNX If: runs then_branch or else_branch by the one-element bool condition; the node's outputs are the branch's.
/// Both branches are compiled when the model loads, so an unsupported operator in either is reported then.
/// </summary>
internal sealed class IfKernel(OnnxNode node, long opset) : IKernel
{
    private readonly GraphPlan _then = GraphPlan.ForSubgraph(node, "then_branch", opset);
    private readonly GraphPlan _else = GraphPlan.ForSubgraph(node, "else_branch", opset);

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var condition = KernelInputs.Required(inputs, 0, "cond") as Tensor<bool> is { Length: 1 } c
            ? c.Data[0]
            : throw new ArgumentException($"input 'cond' must be one bool but is {inputs[0]}.");
        var (plan, name) = condition ? (_then, "then_branch") : (_else, "else_branch");
        var results = SubgraphRun.Run(plan, name, inputs, []);
        if (results.Length != outputs.Length)
        {
            throw new ArgumentException($"{name} has {results.Length} outputs where the node has {outputs.Length}.");
        }

        results.CopyTo(outputs);
    }
}
