using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>One model evaluated: the original, or one method at one target ratio.</summary>
/// <param name="Method">"original", or the method's command-line name.</param>
/// <param name="Calibrated">Whether the method fitted in the data-aware norm (calibration inputs given).</param>
/// <param name="TargetRatio">The requested ratio (1 for the original).</param>
/// <param name="MatrixRatio">Achieved ratio over the targeted matrices.</param>
/// <param name="FileRatio">Achieved ratio over the whole model.</param>
/// <param name="MatrixBytes">Stored bytes of the targeted matrices.</param>
/// <param name="FileBytes">Model bytes (file before, less dense matrices replaced, plus their stored forms).</param>
/// <param name="ReconstructionError">√(Σ‖W − Ŵ‖² / Σ‖W‖²) over the targeted matrices.</param>
/// <param name="OutputError">‖y − ŷ‖ / ‖y‖ of the first output on the task's probe inputs.</param>
/// <param name="Metrics">The task's metrics (<see cref="TaskEvaluation.MetricNames"/>).</param>
/// <param name="Seconds">Compression time.</param>
/// <param name="Problem">Why the row has no result (e.g. an unreachable ratio); null otherwise.</param>
/// <param name="Source">For a compressed file measured as it is (<see cref="CompressedFileMeasurement"/>), its file name; null for rows compressed by the comparison.</param>
/// <param name="FineTuned">Whether that file was fine-tuned after compression (python/dirnet_torch records it).</param>
/// <param name="Precision">How the values are stored, e.g. <c>fp32</c>, <c>int8</c> or <c>int4 g128 gptq</c> (bits, values per group, quantizer).</param>
public sealed record ComparisonRow(string Method, bool Calibrated, double TargetRatio, double MatrixRatio, double FileRatio, long MatrixBytes,
    long FileBytes, double ReconstructionError, double OutputError, double[] Metrics, double Seconds, string? Problem = null,
    string? Source = null, bool FineTuned = false, string Precision = "fp32");

/// <summary>
/// Compresses a model with several methods at several ratios and measures each result with the native engine (ONNX
/// Runtime where it lacks one of the model's operators) on the rebuilt weights: sizes, reconstruction error, output error against the original, and the task metric.
/// </summary>
public static class MethodComparison
{
    /// <summary>
    /// Runs every method at every ratio, plain and (when <paramref name="calibrationInputs"/> are given) data-aware;
    /// the first row is the original model. <see cref="CompressionMethod.Int8"/> gives one row, at the ratio it reaches;
    /// <see cref="CompressionMethod.Quant"/> one row per low-bit precision (int4, int3, int2, ternary at their default
    /// groups) by round to nearest, and with calibration one more by GPTQ. The other methods are measured at every
    /// ratio and at every one of <paramref name="precisions"/> (default float32 only); their calibrated rows quantize
    /// low-bit values by GPTQ.
    /// </summary>
    public static IReadOnlyList<ComparisonRow> Run(OnnxModel model, TaskEvaluation task, IReadOnlyList<CompressionMethod> methods,
        IReadOnlyList<double> ratios, CompressionOptions baseOptions, IReadOnlyList<Tensor[]>? calibrationInputs = null,
        IProgress<string>? progress = null, CancellationToken cancellationToken = default, IReadOnlyList<FactorPrecision>? precisions = null)
    {
        var baseline = ComparisonBaseline.Start(model, task, baseOptions, calibrationInputs, progress, cancellationToken);
        var variants = baseline.Variants;
        var rows = new List<ComparisonRow> { baseline.Original };
        foreach (var method in methods)
        {
            // The int8 baseline has one form: it is measured once, and its row's target is the ratio it reaches.
            var plan = MethodRegistry.Of(method).Plan;
            if (plan == MethodPlan.WholeToTarget)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report(MethodRegistry.NameOf(method));
                var row = Measure(baseline, baseOptions with { Method = method, Ratio = 1.001, Calibration = null }, cancellationToken);
                rows.Add(row with { TargetRatio = row.MatrixRatio });
                continue;
            }

            if (plan == MethodPlan.Whole)
            {
                foreach (var bits in QuantPrecisions)
                {
                    foreach (var variant in variants)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var options = WithPrecision(baseOptions with { Method = method, Calibration = variant }, bits);
                        progress?.Report($"{MethodRegistry.NameOf(method)} at {PrecisionName(options)}");
                        var row = Measure(baseline, options, cancellationToken);
                        rows.Add(row with { TargetRatio = row.MatrixRatio });
                    }
                }

                continue;
            }

            foreach (var ratio in ratios)
            {
                // A method that chooses each matrix's precision is measured once per ratio, whatever --precisions says.
                foreach (var precision in MethodRegistry.Of(method).ChoosesPrecision ? [FactorPrecision.Float32] : precisions ?? [FactorPrecision.Float32])
                {
                    foreach (var variant in variants)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var name = MethodRegistry.NameOf(method);
                        // Output scoring needs the calibration inputs: the plain rows score auto by the matrix error.
                        var options = WithPrecision(baseOptions with
                        {
                            Method = method, Ratio = ratio, Calibration = variant, AutoScoring = variant is null ? AutoScoring.Matrix : baseOptions.AutoScoring,
                        }, precision);
                        progress?.Report($"{name} at {ratio:0.##}x, {PrecisionName(options)}{(variant is null ? "" : ", calibrated")}");
                        rows.Add(Measure(baseline, options, cancellationToken));
                    }
                }
            }
        }

        return rows;
    }

    /// <summary>The low-bit precisions the quant method is measured at.</summary>
    internal static readonly FactorPrecision[] QuantPrecisions = [FactorPrecision.Int4, FactorPrecision.Int3, FactorPrecision.Int2, FactorPrecision.Ternary];

    /// <summary>Options at <paramref name="precision"/>: low-bit values by GPTQ where calibration is given.</summary>
    internal static CompressionOptions WithPrecision(CompressionOptions options, FactorPrecision precision) => options with
    {
        Precision = precision,
        Quantizer = (LowBitPrecision.IsLowBit(precision) || MethodRegistry.Of(options.Method).ChoosesPrecision) && options.Calibration is not null
            ? Quantizer.Gptq : Quantizer.RoundToNearest,
    };

    /// <summary>The precision as a row names it: <c>fp32</c>, <c>int8</c>, or bits, group and quantizer (<c>int4 g128 rtn</c>).</summary>
    internal static string PrecisionName(CompressionOptions options, CompressionResult? result = null)
    {
        if (result is not null && MethodRegistry.Of(options.Method).ChoosesPrecision)
        {
            // What was chosen, matrix by matrix: e.g. "dense int3 g64, lowrank r128 int3 g64, … (gptq)".
            var forms = result.Weights.Select(w => $"{(w.Matrix is LowRankMatrix l ? $"r{l.Rank}" : w.Matrix.Method)} {Export.StoredMatrix.LabelOf(w.Matrix)}");
            return $"{string.Join(", ", forms)} ({MethodRegistry.NameOf(options.Quantizer)})";
        }

        if (MethodRegistry.Of(options.Method).ChoosesPrecision)
        {
            return $"per matrix {MethodRegistry.NameOf(options.Quantizer)}";
        }

        var precision = MethodRegistry.Of(options.Method).PrecisionFor(options);
        return LowBitPrecision.IsLowBit(precision)
            ? $"{LowBitPrecision.Grid(precision, options.GroupSize)} {MethodRegistry.NameOf(options.Quantizer)}"
            : Export.StoredMatrix.NameOf(precision);
    }

    /// <summary>Compresses as <paramref name="options"/> say and measures the result; a refused compression is a row that says why.</summary>
    internal static ComparisonRow Measure(ComparisonBaseline baseline, CompressionOptions options, CancellationToken cancellationToken)
    {
        CompressionResult result;
        try
        {
            result = RnnCompressor.Compress(baseline.Model, options, cancellationToken: cancellationToken);
        }
        catch (DirNetException e)
        {
            return Refused(baseline.Task, options, e.Message);
        }

        return Evaluate(baseline, result);
    }

    /// <summary>The row of a compression the method refused (e.g. an unreachable ratio): no sizes or metrics, the reason.</summary>
    internal static ComparisonRow Refused(TaskEvaluation task, CompressionOptions options, string problem) =>
        new(MethodRegistry.NameOf(options.Method), options.Calibration is not null, options.Ratio, double.NaN, double.NaN, 0, 0, double.NaN, double.NaN,
            task.MetricNames.Select(_ => double.NaN).ToArray(), 0, problem, Precision: PrecisionName(options));

    /// <summary>Measures a compression's rebuilt weights (<see cref="MeasuringEngine"/>): output error against the original, and the task metric.</summary>
    internal static ComparisonRow Evaluate(ComparisonBaseline baseline, CompressionResult result)
    {
        var options = result.Options;
        var rebuilt = result.ToDenseModel();
        using var engine = MeasuringEngine.Open(rebuilt);
        var outputError = OutputError(baseline.Reference, FirstOutputs(engine.Model, baseline.Probes));
        return new ComparisonRow(MethodRegistry.NameOf(options.Method), options.Calibration is not null, options.Ratio, result.MatrixRatio, result.FileRatio,
            result.MatrixBytesAfter, result.FileBytesAfter, result.RelativeError, outputError, baseline.Task.Evaluate(engine.Model, rebuilt), result.Seconds,
            Precision: PrecisionName(options, result));
    }

    /// <summary>The first output of <paramref name="engine"/> on each probe, the values <see cref="OutputError"/> compares.</summary>
    internal static float[][] FirstOutputs(ITensorModel engine, IReadOnlyList<Tensor[]> probes) =>
        probes.Select(p => engine.Run(p)[0].As<float>().Data).ToArray();

    /// <summary>‖y − ŷ‖ / ‖y‖ over all probes (‖y − ŷ‖ when y is zero).</summary>
    internal static double OutputError(float[][] reference, float[][] outputs)
    {
        double error = 0, energy = 0;
        for (var p = 0; p < reference.Length; p++)
        {
            for (var i = 0; i < reference[p].Length; i++)
            {
                double d = reference[p][i] - outputs[p][i];
                error += d * d;
                energy += (double)reference[p][i] * reference[p][i];
            }
        }

        return energy > 0 ? Math.Sqrt(error / energy) : Math.Sqrt(error);
    }
}
