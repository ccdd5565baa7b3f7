using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>The perplexity of a language model over a token sequence.</summary>
/// <param name="Perplexity">exp(mean negative log-likelihood).</param>
/// <param name="Predictions">Tokens predicted (the sequence length minus one).</param>
/// <param name="TotalNegativeLogLikelihood">Sum of −log p(target) in nats.</param>
public sealed record PerplexityResult(double Perplexity, long Predictions, double TotalNegativeLogLikelihood);

/// <summary>
/// Perplexity by the samples' reference procedure: batch 1; the model reads ids[0..N−2] in consecutive chunks of
/// <c>chunk</c> steps and predicts ids[1..N−1]; the recurrent state starts at zeros and is carried from each chunk to the
/// next; perplexity = exp(Σ −log p(target) / (N−1)), summed in double precision.
/// </summary>
/// <remarks>
/// The model must look like a PyTorch word LM export: inputs (ids int64 [seq, batch], then float states
/// [layers, batch, hidden]), outputs (log-probabilities [seq, batch, vocabulary], then the final states in the same order).
/// </remarks>
public static class PerplexityEvaluator
{
    /// <summary>Evaluates <paramref name="ids"/> with <paramref name="model"/>, whose layout <paramref name="description"/> gives.</summary>
    /// <param name="model">The engine running the model.</param>
    /// <param name="description">The model (for its input and output declarations).</param>
    /// <param name="ids">The token ids.</param>
    /// <param name="chunk">Steps per model call (35 as in the samples).</param>
    /// <param name="progress">Receives the fraction done after each chunk.</param>
    public static PerplexityResult Evaluate(ITensorModel model, OnnxModel description, long[] ids, int chunk = 35, IProgress<double>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunk, 1);
        if (ids.Length < 2)
        {
            throw new DirNetException("Perplexity needs at least two tokens.");
        }

        var states = StateShapes(description);
        var stateValues = states.Select(shape => (Tensor)new Tensor<float>(shape)).ToArray();
        var total = 0.0;
        var predictions = ids.Length - 1;
        for (var start = 0; start < predictions; start += chunk)
        {
            var length = Math.Min(chunk, predictions - start);
            var input = new Tensor<long>([length, 1], ids.AsSpan(start, length).ToArray());
            var outputs = model.Run([input, .. stateValues]);
            var logProbabilities = outputs[0] as Tensor<float>
                ?? throw new DirNetException($"Output '{description.Graph.Outputs[0].Name}' must be float log-probabilities.");
            var vocabulary = logProbabilities.Shape[^1];
            if (logProbabilities.Rank != 3 || logProbabilities.Shape[0] != length || logProbabilities.Shape[1] != 1)
            {
                throw new DirNetException(
                    $"Output '{description.Graph.Outputs[0].Name}' has shape {TensorShape.Format(logProbabilities.Shape)}; expected [{length}, 1, vocabulary].");
            }

            if (start == 0)
            {
                CheckNormalized(logProbabilities.Data.AsSpan(0, vocabulary), description.Graph.Outputs[0].Name);
            }

            for (var t = 0; t < length; t++)
            {
                var target = ids[start + t + 1];
                if (target < 0 || target >= vocabulary)
                {
                    throw new DirNetException($"Token id {target} is outside the model's vocabulary of {vocabulary}.");
                }

                total -= logProbabilities.Data[t * vocabulary + target];
            }

            for (var s = 0; s < stateValues.Length; s++)
            {
                stateValues[s] = outputs[1 + s];
            }

            progress?.Report((double)(start + length) / predictions);
        }

        return new PerplexityResult(Math.Exp(total / predictions), predictions, total);
    }

    internal static int[][] StateShapes(OnnxModel model)
    {
        var inputs = model.Graph.Inputs;
        if (inputs.Count == 0 || inputs[0].ElementType != TensorElementType.Int64)
        {
            throw new DirNetException($"'{model.SourceName}' does not look like a word language model: its first input must be int64 token ids [seq, batch].");
        }

        if (model.Graph.Outputs.Count != inputs.Count)
        {
            throw new DirNetException(
                $"'{model.SourceName}' takes {inputs.Count - 1} state inputs but returns {model.Graph.Outputs.Count - 1} state outputs; they must pair up.");
        }

        return inputs.Skip(1).Select(input =>
        {
            if (input.ElementType != TensorElementType.Float || input.Dimensions is not { Count: 3 } dims || dims[0].Value is null || dims[2].Value is null)
            {
                throw new DirNetException($"State input '{input.Name}' must be float [layers, batch, hidden] with fixed layers and hidden; it is {input}.");
            }

            return new[] { (int)dims[0].Value!.Value, 1, (int)dims[2].Value!.Value };
        }).ToArray();
    }

    /// <summary>Refuses logits: log-probabilities exponentiate to a sum of 1.</summary>
    private static void CheckNormalized(ReadOnlySpan<float> row, string output)
    {
        var sum = 0.0;
        foreach (var v in row)
        {
            sum += Math.Exp(v);
        }

        if (Math.Abs(sum - 1) > 1e-3)
        {
            throw new DirNetException($"Output '{output}' is not log-probabilities (its exponentials sum to {sum:G4}, not 1); end the model with log_softmax.");
        }
    }
}
