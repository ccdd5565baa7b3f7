
using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Runtime.Kernels.Recurrent;

/// <summary>One of the activation functions the ONNX LSTM/GRU/RNN <c>activations</c> attribute can name.</summary>
internal sealed class RecurrentActivation
{
    private enum Kind { Sigmoid, Tanh, Relu, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus }

    private readonly Kind _kind;
    private readonly float _alpha;
    private readonly float _beta;

    private RecurrentActivation(Kind kind, float alpha, float beta)
    {
        _kind = kind;
        _alpha = alpha;
        _beta = beta;
    }

    /// <summary>
    /// Parses the node's activation list. <paramref name="defaults"/> gives the functions of one direction; alpha and
    /// beta values are consumed in order by the functions that take them, as ONNX Runtime does.
    /// </summary>
    public static RecurrentActivation[] Parse(string[]? names, float[]? alphas, float[]? betas, string[] defaults, int directions)
    {
        names ??= Enumerable.Range(0, directions).SelectMany(_ => defaults).ToArray();
        if (names.Length == defaults.Length && directions == 2)
        {
            // A bidirectional node may list the functions once for both directions.
            names = names.Concat(names).ToArray();
        }

        if (names.Length != defaults.Length * directions)
        {
            throw new ArgumentException(
                $"attribute 'activations' lists {names.Length} functions; {defaults.Length} per direction ({defaults.Length * directions} in all) are expected.");
        }

        var alphaIndex = 0;
        var betaIndex = 0;
        var result = new RecurrentActivation[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            if (!Enum.TryParse<Kind>(names[i], ignoreCase: true, out var kind))
            {
                throw new ArgumentException($"activation '{names[i]}' is not one the ONNX recurrent operators define.");
            }

            var (usesAlpha, usesBeta, alpha, beta) = kind switch
            {
                Kind.Affine => (true, true, 1f, 0f),
                Kind.LeakyRelu => (true, false, 0.01f, 0f),
                Kind.ThresholdedRelu => (true, false, 1f, 0f),
                Kind.ScaledTanh => (true, true, 1f, 1f),
                Kind.HardSigmoid => (true, true, 0.2f, 0.5f),
                Kind.Elu => (true, false, 1f, 0f),
                _ => (false, false, 0f, 0f),
            };
            if (usesAlpha && alphas is not null && alphaIndex < alphas.Length)
            {
                alpha = alphas[alphaIndex++];
            }

            if (usesBeta && betas is not null && betaIndex < betas.Length)
            {
                beta = betas[betaIndex++];
            }

            result[i] = new RecurrentActivation(kind, alpha, beta);
        }

        return result;
    }

    /// <summary>Applies the function in place.</summary>
    public void Apply(Span<float> x)
    {
        switch (_kind)
        {
            case Kind.Sigmoid: FastActivations.Sigmoid(x); break;
            case Kind.Tanh: FastActivations.Tanh(x); break;
            case Kind.Relu: TensorPrimitives.Max(x, 0f, x); break;
            case Kind.Affine:
                TensorPrimitives.Multiply(x, _alpha, x);
                TensorPrimitives.Add(x, _beta, x);
                break;
            case Kind.ScaledTanh:
                TensorPrimitives.Multiply(x, _beta, x);
                FastActivations.Tanh(x);
                TensorPrimitives.Multiply(x, _alpha, x);
                break;
            default:
                for (var i = 0; i < x.Length; i++)
                {
                    x[i] = Scalar(x[i]);
                }

                break;
        }
    }

    private float Scalar(float v) => _kind switch
    {
        Kind.LeakyRelu => v >= 0 ? v : _alpha * v,
        Kind.ThresholdedRelu => v > _alpha ? v : 0f,
        Kind.HardSigmoid => System.Math.Clamp(_alpha * v + _beta, 0f, 1f),
        Kind.Elu => v >= 0 ? v : _alpha * (MathF.Exp(v) - 1f),
        Kind.Softsign => v / (1f + MathF.Abs(v)),
        Kind.Softplus => MathF.Log(1f + MathF.Exp(v)),
        _ => throw new InvalidOperationException($"{_kind} has a vectorized path."),
    };
}
