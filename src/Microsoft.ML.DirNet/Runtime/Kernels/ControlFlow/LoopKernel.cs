using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.ControlFlow;

/// <summary>
/// ONNX Loop: runs the body while the iteration count is below M (when given) and the condition holds (when given),
/// the body taking (iteration number, condition, N loop-carried values) and giving (condition, N carried values, K scan
/// values). The node's outputs are the N final carried values and the K scan values stacked over the iterations.
/// </summary>
internal sealed class LoopKernel(OnnxNode node, long opset) : IKernel
{
    /// <summary>The most iterations one Loop may run: a trip count from damaged data must not hang the process.</summary>
    private const long MaxIterations = 100_000_000;

    private readonly GraphPlan _body = GraphPlan.ForSubgraph(node, "body", opset);
    private readonly int _explicitCount = node.Inputs.Count;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var maxTrips = KernelInputs.Optional(inputs, 0) is { } m ? Scalar(m, "M") : (long?)null;
        var keepGoing = KernelInputs.Optional(inputs, 1) is not { } c || (c as Tensor<bool> is { Length: 1 } b
            ? b.Data[0]
            : throw new ArgumentException($"input 'cond' must be one bool but is {c}."));
        var carried = new Tensor[_explicitCount - 2];
        for (var k = 0; k < carried.Length; k++)
        {
            carried[k] = KernelInputs.Required(inputs, k + 2, $"v_initial {k}");
        }

        var scanCount = outputs.Length - carried.Length;
        if (_body.FormalInputCount != carried.Length + 2 || _body.OutputInfos.Count != carried.Length + 1 + scanCount || scanCount < 0)
        {
            throw new ArgumentException($"the body takes {_body.FormalInputCount} inputs and gives {_body.OutputInfos.Count} outputs, "
                + $"where {carried.Length} loop-carried values and {outputs.Length} node outputs need {carried.Length + 2} and {outputs.Length + 1}.");
        }

        var scans = Enumerable.Range(0, scanCount).Select(_ => new List<Tensor>()).ToArray();
        for (long i = 0; keepGoing && (maxTrips is not { } trips || i < trips); i++)
        {
            if (i >= MaxIterations)
            {
                throw new ArgumentException($"the loop runs past {MaxIterations:N0} iterations.");
            }

            var results = SubgraphRun.Run(_body, "body", inputs, [Tensor<long>.Scalar(i), Tensor<bool>.Scalar(keepGoing), .. carried]);
            keepGoing = results[0] is Tensor<bool> { Length: 1 } next
                ? next.Data[0]
                : throw new ArgumentException($"the body's condition output must be one bool but is {results[0]}.");
            results.AsSpan(1, carried.Length).CopyTo(carried);
            for (var k = 0; k < scanCount; k++)
            {
                scans[k].Add(results[1 + carried.Length + k]);
            }
        }

        carried.CopyTo(outputs);
        for (var k = 0; k < scanCount; k++)
        {
            outputs[carried.Length + k] = Stacking.Stack(scans[k], 0, _body.OutputInfos[1 + carried.Length + k], $"scan output {k}");
        }
    }

    private static long Scalar(Tensor t, string name) => t.Length == 1
        ? KernelInputs.Integers(t, name)[0]
        : throw new ArgumentException($"input '{name}' must be one integer but is {t}.");
}
