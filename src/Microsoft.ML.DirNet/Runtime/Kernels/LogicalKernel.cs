using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>The boolean operators of ONNX.</summary>
internal enum LogicalOperator
{
    And,
    Or,
    Xor,
    Not,
}

/// <summary>ONNX And, Or and Xor (two bool inputs, broadcasting) and Not (one bool input).</summary>
internal sealed class LogicalKernel(LogicalOperator op) : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        if (op == LogicalOperator.Not)
        {
            var x = Bool(KernelInputs.Required(inputs, 0, "X"), "X");
            var negated = new Tensor<bool>(x.Shape);
            for (var i = 0; i < x.Length; i++)
            {
                negated.Data[i] = !x.Data[i];
            }

            outputs[0] = negated;
            return;
        }

        var (left, right) = KernelInputs.BroadcastPair(inputs);
        var a = Bool(left, "A").Data;
        var b = right.As<bool>().Data;
        var result = new Tensor<bool>(left.Shape);
        for (var i = 0; i < a.Length; i++)
        {
            result.Data[i] = op switch
            {
                LogicalOperator.And => a[i] & b[i],
                LogicalOperator.Or => a[i] | b[i],
                _ => a[i] ^ b[i],
            };
        }

        outputs[0] = result;
    }

    private static Tensor<bool> Bool(Tensor tensor, string name) => tensor as Tensor<bool>
        ?? throw new ArgumentException($"input '{name}' must be bool but is {tensor.ElementType}{TensorShape.Format(tensor.Shape)}.");
}
