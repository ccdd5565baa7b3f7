using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>One utterance of a speech test set with the model's transcript.</summary>
/// <param name="File">The WAV file, relative to the data folder.</param>
/// <param name="Reference">The true transcript.</param>
/// <param name="Hypothesis">The greedy CTC transcript.</param>
public sealed record TranscribedUtterance(string File, string Reference, string Hypothesis);

/// <summary>Error rates over a speech test set, and every utterance's transcript.</summary>
/// <param name="Rates">CER and WER summed over the set.</param>
/// <param name="Utterances">Per-utterance transcripts.</param>
public sealed record SpeechRecognitionResult(ErrorRates Rates, IReadOnlyList<TranscribedUtterance> Utterances);

/// <summary>
/// The speech sample's reference evaluation: for each utterance of <c>manifest.tsv</c> (columns <c>file</c> and
/// <c>transcript</c>), log-mel features of the 8 kHz WAV (<see cref="LogMelFeatures"/>), one model run at batch 1
/// without padding (features [1, frames, 40] → log-probabilities [1, frames', classes]), greedy CTC decoding, then CER
/// and WER summed over the set.
/// </summary>
public static class SpeechRecognitionEvaluator
{
    /// <summary>Reads <c>manifest.tsv</c> (a header line, then tab-separated rows).</summary>
    public static IReadOnlyList<(string File, string Transcript)> ReadManifest(string directory)
    {
        var path = Path.Combine(directory, "manifest.tsv");
        if (!File.Exists(path))
        {
            throw new DirNetException($"The speech data folder '{directory}' has no manifest.tsv.");
        }

        var lines = SafeFile.ReadAllLines(path);
        var header = lines.Length > 0 ? lines[0].Split('\t') : [];
        var fileColumn = Array.IndexOf(header, "file");
        var transcriptColumn = Array.IndexOf(header, "transcript");
        if (fileColumn < 0 || transcriptColumn < 0)
        {
            throw new DirNetException($"'{path}' must start with a header naming the columns 'file' and 'transcript'.");
        }

        return lines.Skip(1).Where(l => l.Length > 0).Select((line, i) =>
        {
            var cells = line.Split('\t');
            return cells.Length > Math.Max(fileColumn, transcriptColumn)
                ? (cells[fileColumn], cells[transcriptColumn])
                : throw new DirNetException($"'{path}' line {i + 2} has {cells.Length} columns.");
        }).ToArray();
    }

    /// <summary>Transcribes the set with <paramref name="model"/> and scores it.</summary>
    /// <param name="model">The engine running the acoustic model.</param>
    /// <param name="directory">The folder with manifest.tsv and the WAV files.</param>
    /// <param name="decoder">The CTC alphabet.</param>
    /// <param name="limit">Only the first N utterances, when given.</param>
    /// <param name="progress">Receives the fraction done after each utterance.</param>
    public static SpeechRecognitionResult Evaluate(ITensorModel model, string directory, CtcGreedyDecoder decoder, int? limit = null,
        IProgress<double>? progress = null)
    {
        var manifest = ReadManifest(directory);
        var items = limit is { } n ? manifest.Take(n).ToArray() : manifest;
        var utterances = new List<TranscribedUtterance>(items.Count);
        foreach (var (file, transcript) in items)
        {
            var output = model.Run(Features(directory, file))[0] as Tensor<float>
                ?? throw new DirNetException("The acoustic model's first output must be float log-probabilities.");
            if (output.Rank != 3 || output.Shape[0] != 1 || output.Shape[2] != decoder.Classes)
            {
                throw new DirNetException(
                    $"The acoustic model's output has shape {TensorShape.Format(output.Shape)}; expected [1, frames, {decoder.Classes}] for this alphabet.");
            }

            utterances.Add(new TranscribedUtterance(file, transcript, decoder.Decode(output.Data, output.Shape[1])));
            progress?.Report((double)utterances.Count / items.Count);
        }

        var rates = ErrorRates.Score(utterances.Select(u => u.Reference).ToArray(), utterances.Select(u => u.Hypothesis).ToArray());
        return new SpeechRecognitionResult(rates, utterances);
    }

    /// <summary>The model input for one WAV of a manifest folder: log-mel features [1, frames, mels].</summary>
    internal static Tensor<float> Features(string directory, string file)
    {
        var (samples, rate) = WaveFile.ReadPcm16Mono(Path.Combine(directory, file));
        if (rate != LogMelFeatures.SampleRate)
        {
            throw new DirNetException($"'{file}' is sampled at {rate} Hz; the features expect {LogMelFeatures.SampleRate} Hz.");
        }

        var features = LogMelFeatures.Compute(samples, out var frames);
        return new Tensor<float>([1, frames, LogMelFeatures.Mels], features);
    }
}
