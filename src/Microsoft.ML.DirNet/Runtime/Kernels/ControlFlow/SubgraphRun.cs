using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.ControlFlow;

/// <summary>How the control-flow kernels run a subgraph: its own inputs, then the outer-scope values it reads.</summary>
internal static class SubgraphRun
{
    /// <summary>
    /// Runs <paramref name="plan"/> on <paramref name="formal"/> and the node's implicit inputs (the tail of the node's
    /// inputs from <paramref name="implicitStart"/>, in <see cref="Onnx.OnnxNode.ImplicitInputs"/> order, of which the plan takes
    /// those it reads); an error inside names the subgraph.
    /// </summary>
    public static Tensor[] Run(GraphPlan plan, string attribute, IReadOnlyList<string> implicitNames, ReadOnlySpan<Tensor?> nodeInputs,
        int implicitStart, ReadOnlySpan<Tensor> formal)
    {
        if (formal.Length != plan.FormalInputCount)
        {
            throw new ArgumentException($"subgraph '{attribute}' takes {plan.FormalInputCount} inputs, but {formal.Length} are given.");
        }

        var inputs = new Tensor[plan.FormalInputCount + plan.OuterInputNames.Count];
        formal.CopyTo(inputs);
        for (var k = 0; k < plan.OuterInputNames.Count; k++)
        {
            var at = implicitStart + IndexOf(implicitNames, plan.OuterInputNames[k]);
            inputs[plan.FormalInputCount + k] = nodeInputs[at] ?? throw new ArgumentException($"the outer-scope value '{plan.OuterInputNames[k]}' is missing.");
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

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (var i = 0; i < names.Count; i++)
        {
            if (names[i] == name) return i;
        }

        throw new InvalidOperationException($"'{name}' is not among the node's implicit inputs.");
    }
}
