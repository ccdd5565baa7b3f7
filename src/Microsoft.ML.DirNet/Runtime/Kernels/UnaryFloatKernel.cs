using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>The elementwise float functions the engine supports.</summary>
internal enum UnaryFunction
{
    Relu,
    Tanh,
    Sigmoid,
    Exp,
    Log,
    Neg,
    Sqrt,
}

/// <summary>ONNX Relu, Tanh, Sigmoid, Exp, Log, Neg and Sqrt on float32 tensors, vectorized by TensorPrimitives.</summary>
internal sealed class UnaryFloatKernel(UnaryFunction function) : IKernel
{
    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.RequiredFloat(inputs, 0, "X");
        var y = new Tensor<float>(x.Shape);
        switch (function)
        {
            case UnaryFunction.Relu: TensorPrimitives.Max(x.Data, 0f, y.Data); break;
            case UnaryFunction.Tanh: TensorPrimitives.Tanh(x.Data, y.Data); break;
            case UnaryFunction.Sigmoid: TensorPrimitives.Sigmoid(x.Data, y.Data); break;
            case UnaryFunction.Exp: TensorPrimitives.Exp(x.Data, y.Data); break;
            case UnaryFunction.Log: TensorPrimitives.Log(x.Data, y.Data); break;
            case UnaryFunction.Neg: TensorPrimitives.Negate(x.Data, y.Data); break;
            default: TensorPrimitives.Sqrt(x.Data, y.Data); break;
        }

        outputs[0] = y;
    }
}
