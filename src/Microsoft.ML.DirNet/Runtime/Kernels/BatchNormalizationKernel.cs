using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX BatchNormalization on float32, X [N, C, …] with scale, B, mean and var [C]: y = scale · (x − mean) /
/// √(var + epsilon) + B. With training_mode 1 (opset 14 on) the batch's own mean and (biased) variance normalise, and the
/// running mean and variance outputs are input · momentum + batch statistic · (1 − momentum).
/// </summary>
internal sealed class BatchNormalizationKernel(OnnxNode node) : IKernel
{
    private readonly float _epsilon = node.GetFloat("epsilon", 1e-5f);
    private readonly float _momentum = node.GetFloat("momentum", 0.9f);
    private readonly bool _training = node.GetInt("training_mode", 0) != 0;

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.RequiredFloat(inputs, 0, "X");
        if (x.Rank < 2)
        {
            throw new ArgumentException($"input 'X' {TensorShape.Format(x.Shape)} must be [batch, channels, …].");
        }

        var channels = x.Shape[1];
        var names = new[] { "scale", "B", "input_mean", "input_var" };
        var parameters = new float[names.Length][];
        for (var k = 0; k < names.Length; k++)
        {
            var p = KernelInputs.RequiredFloat(inputs, k + 1, names[k]);
            KernelInputs.ExpectShape(p, names[k], channels);
            parameters[k] = p.Data;
        }
        var (scale, bias, mean, variance) = (parameters[0], parameters[1], parameters[2], parameters[3]);
        int batch = x.Shape[0], inner = x.Length / System.Math.Max(batch * channels, 1);
        if (_training)
        {
            var batchMean = new float[channels];
            var batchVariance = new float[channels];
            for (var c = 0; c < channels; c++)
            {
                double sum = 0, squares = 0;
                for (var n = 0; n < batch; n++)
                {
                    var plane = x.Data.AsSpan((n * channels + c) * inner, inner);
                    sum += TensorPrimitives.Sum(plane);
                    squares += TensorPrimitives.SumOfSquares(plane);
                }

                var count = (double)batch * inner;
                batchMean[c] = (float)(sum / count);
                batchVariance[c] = (float)System.Math.Max(squares / count - batchMean[c] * (double)batchMean[c], 0);
            }

            outputs[0] = Normalize(x, scale, bias, batchMean, batchVariance);
            if (outputs.Length > 1) outputs[1] = Running(mean, batchMean);
            if (outputs.Length > 2) outputs[2] = Running(variance, batchVariance);
            return;
        }

        outputs[0] = Normalize(x, scale, bias, mean, variance);
    }

    private Tensor<float> Normalize(Tensor<float> x, float[] scale, float[] bias, float[] mean, float[] variance)
    {
        int channels = x.Shape[1], inner = x.Length / System.Math.Max(x.Shape[0] * channels, 1);
        var y = new Tensor<float>(x.Shape);
        for (var plane = 0; plane < x.Shape[0] * channels; plane++)
        {
            var c = plane % channels;
            var multiplier = scale[c] / MathF.Sqrt(variance[c] + _epsilon);
            var offset = bias[c] - mean[c] * multiplier;
            var source = x.Data.AsSpan(plane * inner, inner);
            var target = y.Data.AsSpan(plane * inner, inner);
            TensorPrimitives.Multiply(source, multiplier, target);
            TensorPrimitives.Add(target, offset, target);
        }

        return y;
    }

    private Tensor<float> Running(float[] current, float[] batch) =>
        new([current.Length], current.Select((v, c) => v * _momentum + batch[c] * (1 - _momentum)).ToArray());
}
