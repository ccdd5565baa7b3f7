using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.ControlFlow;

/// <summary>How the control-flow kernels run a subgraph: its own inputs, then the outer-scope values it reads.</summary>
internal static class SubgraphRun
{
    /// <summary>
    /// Runs <paramref name="plan"/> on <paramref name="formal"/> and the outer-scope values it reads, taken from the
    /// node's inputs at <see cref="GraphPlan.OuterInputPositions"/>; an error inside names the subgraph.
    /// </summary>
    public static Tensor[] Run(GraphPlan plan, string attribute, ReadOnlySpan<Tensor?> nodeInputs, ReadOnlySpan<Tensor> formal)
    {
        if (formal.Length != plan.FormalInputCount)
        {
            throw new ArgumentException($"subgraph '{attribute}' takes {plan.FormalInputCount} inputs, but {formal.Length} are given.");
        }

        var inputs = new Tensor[plan.FormalInputCount + plan.OuterInputNames.Count];
        formal.CopyTo(inputs);
        for (var k = 0; k < plan.OuterInputNames.Count; k++)
        {
            inputs[plan.FormalInputCount + k] = nodeInputs[plan.OuterInputPositions[k]] ?? throw new ArgumentException($"the outer-scope value '{plan.OuterInputNames[k]}' is missing.");
        }

        try
        {
            return plan.Execute(inputs, [], NativeModel.DefaultMemoryLimitBytes);
        }
        catch (ModelExecutionException e)
        {
            throw new ArgumentException($"in subgraph '{attribute}': {e.Message}", e);
        }
    }
}
