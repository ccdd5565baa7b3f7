using System.Numerics;
using MathNet.Numerics.IntegralTransforms;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>
/// The speech sample's acoustic features, exactly as its training script computes them (samples/Asr/scripts/features.py):
/// 8 kHz audio, 25 ms frames (200 samples) every 10 ms (80), periodic Hann window, 256-point FFT, power spectrum,
/// 40 HTK-mel triangular filters over 0-4000 Hz without area normalisation, ln(max(E, 1e-10)), then per-utterance
/// mean and population-standard-deviation normalisation of each dimension (÷ (sd + 1e-5)). Computed in double
/// precision and rounded to float32 at the end, as the script does.
/// </summary>
public static class LogMelFeatures
{
    /// <summary>Expected sample rate.</summary>
    public const int SampleRate = 8000;

    /// <summary>Mel dimensions per frame.</summary>
    public const int Mels = 40;

    private const int Frame = 200, Hop = 80, FftSize = 256;
    private const double LogFloor = 1e-10, NormalizationEpsilon = 1e-5;

    private static readonly double[] Window = Enumerable.Range(0, Frame).Select(i => 0.5 - 0.5 * Math.Cos(2 * Math.PI * i / Frame)).ToArray();

    /// <summary>The [40, 129] mel filterbank applied to the power spectrum.</summary>
    public static double[,] Filterbank { get; } = BuildFilterbank();

    /// <summary>Features [frames, 40] (row-major), normalised per utterance: the model input.</summary>
    public static float[] Compute(ReadOnlySpan<short> samples, out int frames)
    {
        var logMel = ComputeLogMel(samples, out frames);
        var result = new float[logMel.Length];
        for (var m = 0; m < Mels; m++)
        {
            double mean = 0;
            for (var t = 0; t < frames; t++) mean += logMel[t * Mels + m];
            mean /= frames;
            double variance = 0;
            for (var t = 0; t < frames; t++) variance += Math.Pow(logMel[t * Mels + m] - mean, 2);
            var sd = Math.Sqrt(variance / frames);
            for (var t = 0; t < frames; t++) result[t * Mels + m] = (float)((logMel[t * Mels + m] - mean) / (sd + NormalizationEpsilon));
        }

        return result;
    }

    /// <summary>Un-normalised log-mel energies [frames, 40] in double precision (steps 1-6 of the specification).</summary>
    public static double[] ComputeLogMel(ReadOnlySpan<short> samples, out int frames)
    {
        // Shorter than one frame: zero-padded to one frame. Samples after the last whole frame are dropped.
        var length = Math.Max(samples.Length, Frame);
        frames = 1 + (length - Frame) / Hop;
        var result = new double[frames * Mels];
        var spectrum = new Complex[FftSize];
        var power = new double[FftSize / 2 + 1];
        for (var t = 0; t < frames; t++)
        {
            Array.Clear(spectrum);
            for (var i = 0; i < Frame; i++)
            {
                var index = t * Hop + i;
                var x = index < samples.Length ? samples[index] / 32768.0 : 0.0;
                spectrum[i] = new Complex(x * Window[i], 0);
            }

            // Matlab convention: exponent −2πi·kn/N and no scaling, as numpy.fft.rfft.
            Fourier.Forward(spectrum, FourierOptions.Matlab);
            for (var k = 0; k < power.Length; k++)
            {
                power[k] = spectrum[k].Real * spectrum[k].Real + spectrum[k].Imaginary * spectrum[k].Imaginary;
            }

            for (var m = 0; m < Mels; m++)
            {
                double energy = 0;
                for (var k = 0; k < power.Length; k++) energy += Filterbank[m, k] * power[k];
                result[t * Mels + m] = Math.Log(Math.Max(energy, LogFloor));
            }
        }

        return result;
    }

    private static double[,] BuildFilterbank()
    {
        static double ToMel(double hz) => 2595 * Math.Log10(1 + hz / 700);
        static double ToHz(double mel) => 700 * (Math.Pow(10, mel / 2595) - 1);
        var top = ToMel(SampleRate / 2.0);
        var edges = Enumerable.Range(0, Mels + 2).Select(i => ToHz(i * top / (Mels + 1))).ToArray();
        var bank = new double[Mels, FftSize / 2 + 1];
        for (var m = 0; m < Mels; m++)
        {
            for (var k = 0; k <= FftSize / 2; k++)
            {
                var f = k * (double)SampleRate / FftSize;
                var rising = (f - edges[m]) / (edges[m + 1] - edges[m]);
                var falling = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1]);
                bank[m, k] = Math.Max(0, Math.Min(rising, falling));
            }
        }

        return bank;
    }
}
