using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>
/// A task metric on a held-out set (language-model perplexity, or speech-recognition CER and WER), plus a few fixed
/// probe inputs on which compressed models' outputs are compared with the original's.
/// </summary>
public abstract class TaskEvaluation
{
    /// <summary>"lm" or "asr".</summary>
    public abstract string Task { get; }

    /// <summary>The metrics <see cref="Evaluate"/> returns, in order (lower is better for each).</summary>
    public abstract IReadOnlyList<string> MetricNames { get; }

    /// <summary>The metric values of <paramref name="model"/> (laid out as <paramref name="description"/> declares).</summary>
    public abstract double[] Evaluate(ITensorModel model, OnnxModel description);

    /// <summary>Inputs for comparing a compressed model's raw outputs with the original's.</summary>
    public abstract IReadOnlyList<Tensor[]> ProbeInputs(OnnxModel description);

    /// <summary>Perplexity of a word language model on a split of <paramref name="dataDirectory"/> (see <see cref="PerplexityEvaluator"/>).</summary>
    public static TaskEvaluation LanguageModel(string dataDirectory, string split = "test.txt", int? tokens = null)
    {
        var ids = LanguageModelCorpus.ReadIds(dataDirectory, split);
        return new LanguageModelTask(tokens is { } n ? ids[..Math.Clamp(n, 2, ids.Length)] : ids);
    }

    /// <summary>CER and WER of a CTC recogniser on a manifest folder (see <see cref="SpeechRecognitionEvaluator"/>).</summary>
    public static TaskEvaluation SpeechRecognition(string dataDirectory, string alphabetPath, int? utterances = null) =>
        new SpeechTask(dataDirectory, CtcGreedyDecoder.FromFile(alphabetPath), utterances);

    private sealed class LanguageModelTask(long[] ids) : TaskEvaluation
    {
        public override string Task => "lm";

        public override IReadOnlyList<string> MetricNames => ["perplexity"];

        public override double[] Evaluate(ITensorModel model, OnnxModel description) =>
            [PerplexityEvaluator.Evaluate(model, description, ids).Perplexity];

        public override IReadOnlyList<Tensor[]> ProbeInputs(OnnxModel description)
        {
            var length = Math.Min(200, ids.Length);
            var states = PerplexityEvaluator.StateShapes(description).Select(shape => (Tensor)new Tensor<float>(shape));
            return [[new Tensor<long>([length, 1], ids[..length]), .. states]];
        }
    }

    private sealed class SpeechTask(string directory, CtcGreedyDecoder decoder, int? limit) : TaskEvaluation
    {
        public override string Task => "asr";

        public override IReadOnlyList<string> MetricNames => ["cer", "wer"];

        public override double[] Evaluate(ITensorModel model, OnnxModel description)
        {
            var rates = SpeechRecognitionEvaluator.Evaluate(model, directory, decoder, limit).Rates;
            return [rates.Cer, rates.Wer];
        }

        public override IReadOnlyList<Tensor[]> ProbeInputs(OnnxModel description) => CalibrationInputs.Speech(directory, utterances: 3);
    }
}
