using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>
/// Measures, for each method, the configurations that can reach each of a list of stored ratios, so that
/// <see cref="Frontier.Select"/> can compare every method's best at equal stored size. Unlike
/// <see cref="MethodComparison"/>, which plans a structured method at fp32 for the ratio and then stores its values
/// lower (so the stored ratio lands far above the target), the structure here is planned for the stored ratio.
/// </summary>
public static class FrontierComparison
{
    /// <summary>The stored ratios measured when none are given.</summary>
    public static IReadOnlyList<double> DefaultRatios { get; } = [4, 8, 12, 16, 20, 25, 32];

    /// <summary>The precisions the structured methods are measured at when none are given.</summary>
    public static IReadOnlyList<FactorPrecision> DefaultPrecisions { get; } =
        [FactorPrecision.Float32, FactorPrecision.Int8, FactorPrecision.Int4, FactorPrecision.Int3];

    /// <summary>The group sizes the quant method is measured at, for each of its precisions.</summary>
    public static IReadOnlyList<int> QuantGroupSizes { get; } = [32, 64, 128];

    /// <summary>
    /// Below this structure ratio the precision alone reaches the stored ratio (the method would barely change the
    /// matrices), which is the quant method's territory: no row is measured.
    /// </summary>
    internal const double MinimumStructureRatio = 1.05;

    /// <summary>
    /// Runs every method's configurations, plain and (when <paramref name="calibrationInputs"/> are given) data-aware;
    /// the first row is the original model, and every row measured is returned (refused compressions as rows with a
    /// <see cref="ComparisonRow.Problem"/>). <see cref="CompressionMethod.Quant"/>: int4, int3, int2 and ternary at
    /// each of <see cref="QuantGroupSizes"/>, by round to nearest and, calibrated, by GPTQ, each measured once whatever
    /// ratios it reaches. <see cref="CompressionMethod.Int8"/>: its one form. <see cref="CompressionMethod.Auto"/>: at
    /// each ratio (its ratio is the stored one). The other methods: at each of <paramref name="precisions"/> (default
    /// <see cref="DefaultPrecisions"/>) and each ratio, at the structure ratio whose stored ratio reaches it: estimated
    /// from two compressions (not evaluated) at that precision, and raised once where the result lands below
    /// <see cref="Frontier.Tolerance"/> × the ratio; none where that structure ratio would be 1.05 or less (the
    /// precision alone reaches the ratio), and a row that says so where the estimate finds the ratio out of reach.
    /// </summary>
    /// <param name="model">The model to compress (never modified).</param>
    /// <param name="task">The task every row is evaluated on.</param>
    /// <param name="methods">The methods to measure.</param>
    /// <param name="ratios">The stored ratios over <see cref="CompressionOptions.Scope"/> (default <see cref="DefaultRatios"/>).</param>
    /// <param name="baseOptions">Scope, seed, auto scoring and the other settings every compression shares.</param>
    /// <param name="calibrationInputs">Input sets for the data-aware rows; none for plain rows only.</param>
    /// <param name="progress">Told what is compressed or evaluated next.</param>
    /// <param name="cancellationToken">Cancels between and within compressions.</param>
    /// <param name="precisions">The structured methods' precisions (default <see cref="DefaultPrecisions"/>).</param>
    public static IReadOnlyList<ComparisonRow> Run(OnnxModel model, TaskEvaluation task, IReadOnlyList<CompressionMethod> methods,
        IReadOnlyList<double>? ratios, CompressionOptions baseOptions, IReadOnlyList<Tensor[]>? calibrationInputs = null,
        IProgress<string>? progress = null, CancellationToken cancellationToken = default, IReadOnlyList<FactorPrecision>? precisions = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(methods);
        ArgumentNullException.ThrowIfNull(baseOptions);
        ratios ??= DefaultRatios;
        var baseline = ComparisonBaseline.Start(model, task, baseOptions, calibrationInputs, progress, cancellationToken);
        var run = new Measurement(baseline, progress, cancellationToken);
        var rows = new List<ComparisonRow> { baseline.Original };
        foreach (var method in methods)
        {
            var entry = MethodRegistry.Of(method);
            var options = baseOptions with { Method = method };
            if (entry.Plan == MethodPlan.WholeToTarget)
            {
                // One form: measured once, its row's target the ratio it reaches (as compare does).
                var row = run.Measure(entry.Name, options with { Ratio = 1.001, Calibration = null });
                rows.Add(row with { TargetRatio = row.MatrixRatio });
            }
            else if (entry.Plan == MethodPlan.Whole)
            {
                rows.AddRange(Quant(run, options));
            }
            else if (entry.ChoosesPrecision)
            {
                rows.AddRange(Auto(run, options, ratios));
            }
            else
            {
                foreach (var precision in precisions ?? DefaultPrecisions)
                {
                    rows.AddRange(Structured(run, options, precision, ratios));
                }
            }
        }

        return rows;
    }

    /// <summary>Every low-bit precision at every group size, plain and calibrated, each once.</summary>
    private static IEnumerable<ComparisonRow> Quant(Measurement run, CompressionOptions options)
    {
        foreach (var precision in MethodComparison.QuantPrecisions)
        {
            foreach (var group in QuantGroupSizes)
            {
                foreach (var variant in run.Baseline.Variants)
                {
                    var configured = MethodComparison.WithPrecision(options with { GroupSize = group, Calibration = variant }, precision);
                    var row = run.Measure($"quant {MethodComparison.PrecisionName(configured)}", configured);
                    yield return row with { TargetRatio = row.MatrixRatio };
                }
            }
        }
    }

    /// <summary>Auto at each ratio: it meets the stored ratio itself. Output scoring needs the calibration inputs, so plain rows score by the matrix error.</summary>
    private static IEnumerable<ComparisonRow> Auto(Measurement run, CompressionOptions options, IReadOnlyList<double> ratios)
    {
        foreach (var ratio in ratios)
        {
            foreach (var variant in run.Baseline.Variants)
            {
                var configured = MethodComparison.WithPrecision(options with
                {
                    Ratio = ratio, Calibration = variant, AutoScoring = variant is null ? AutoScoring.Matrix : options.AutoScoring,
                }, FactorPrecision.Float32);
                yield return run.Measure($"auto at {ratio:0.##}x{(variant is null ? "" : ", calibrated")}", configured);
            }
        }
    }

    /// <summary>A structured method at one precision, at the structure ratio that reaches each stored ratio.</summary>
    private static IEnumerable<ComparisonRow> Structured(Measurement run, CompressionOptions options, FactorPrecision precision, IReadOnlyList<double> ratios)
    {
        var name = MethodRegistry.NameOf(options.Method);
        var plain = MethodComparison.WithPrecision(options with { Calibration = null }, precision);
        var precisionName = MethodComparison.PrecisionName(plain);
        // Every compression's (structure, stored) point: the probes, then each attempt, for the retries' secants.
        var known = new List<(double Structure, double Stored)>();
        var model = StoredRatioModel.Identity;
        // At fp32 the stored ratio is the structure ratio the planner meets; below it, the stored ratio depends on the
        // method (indices and row starts are not quantized) and on the overhead of scales, so two compressions
        // measure it.
        if (precision != FactorPrecision.Float32)
        {
            string? refusal = null;
            foreach (var structure in ProbeStructureRatios)
            {
                var probe = run.Compress($"{name} {precisionName}: probe at {structure:0.##}x structure", plain with { Ratio = structure });
                if (probe.Result is null)
                {
                    refusal = probe.Problem;
                    break;
                }

                known.Add((structure, probe.Result.AchievedRatio));
            }

            if (known.Count == 0)
            {
                // Not even the first probe was accepted: the refusal is the evidence, and nothing is estimated from it.
                yield return MethodComparison.Refused(run.Baseline.Task, plain with { Ratio = ProbeStructureRatios[0] }, refusal!);
                yield break;
            }

            model = known.Count == 1 ? StoredRatioModel.Proportional(known[0].Structure, known[0].Stored) : StoredRatioModel.Through(known[0], known[1]);
        }

        var probes = string.Join(" and ", known.Select(k => $"{k.Structure:0.##}x"));
        // Per variant, the smallest structure ratio the method refused: it refuses any larger one too (it cannot make
        // so few bytes), so a larger ratio is recorded as out of reach without compressing again.
        var refusals = new (double Structure, string Problem)?[run.Baseline.Variants.Length];

        foreach (var ratio in ratios)
        {
            var structure = model.StructureFor(ratio);
            if (structure <= MinimumStructureRatio)
            {
                continue;
            }

            if (double.IsPositiveInfinity(structure))
            {
                var limit = 1 / model.Floor;
                yield return MethodComparison.Refused(run.Baseline.Task, plain with { Ratio = ratio },
                    $"at {precisionName}, {name}'s stored ratio tends to {limit:0.##}x as its structure shrinks (estimated from compressions at {probes} structure), so {ratio:0.##}x stored is out of reach.");
                continue;
            }

            for (var v = 0; v < run.Baseline.Variants.Length; v++)
            {
                var configured = MethodComparison.WithPrecision(options with { Calibration = run.Baseline.Variants[v] }, precision);
                if (refusals[v] is { } refused && structure >= refused.Structure)
                {
                    yield return MethodComparison.Refused(run.Baseline.Task, configured with { Ratio = structure },
                        $"{ratio:0.##}x stored needs about {structure:0.##}x structure, beyond the {refused.Structure:0.##}x refused: {refused.Problem}");
                    continue;
                }

                var label = $"{name} {precisionName}{(v == 0 ? "" : ", calibrated")} for {ratio:0.##}x stored";
                var (row, reached, refusal) = Reach(run, configured, ratio, structure, known, label);
                if (refusal is { } r && !(refusals[v]?.Structure <= r.Structure))
                {
                    refusals[v] = r;
                }

                // The calibrated variant starts where the plain one ended: its structure shrinks the same way.
                structure = reached;
                yield return row;
            }
        }
    }

    /// <summary>The structure ratios a structured method is compressed at (not evaluated) to estimate its <see cref="StoredRatioModel"/>.</summary>
    private static readonly double[] ProbeStructureRatios = [2, 4];

    /// <summary>
    /// Compresses at <paramref name="structure"/> and, where the stored ratio falls short of the tolerance, once more at
    /// a larger structure ratio: where the secant through this point and the nearest known one says the ratio lies
    /// (aimed a percent above it, since this try already missed), or, where that secant sees no way to it, raised by
    /// the shortfall. Evaluates the last accepted result; returns the row, the structure ratio it was compressed at,
    /// and the structure ratio the method refused, if it refused one.
    /// </summary>
    private static (ComparisonRow Row, double Structure, (double Structure, string Problem)? Refusal) Reach(Measurement run, CompressionOptions options, double ratio, double structure,
        List<(double Structure, double Stored)> known, string label)
    {
        var attempt = run.Compress($"{label}: compressing at {structure:0.##}x structure", options with { Ratio = structure });
        if (attempt.Result is null)
        {
            return (MethodComparison.Refused(run.Baseline.Task, options with { Ratio = structure }, attempt.Problem!), structure, (structure, attempt.Problem!));
        }

        var stored = attempt.Result.AchievedRatio;
        var nearest = known.Where(k => k.Structure != structure).OrderBy(k => Math.Abs(Math.Log(k.Structure / structure))).Cast<(double, double)?>().FirstOrDefault();
        known.Add((structure, stored));
        (double Structure, string Problem)? refusal = null;
        if (stored < Frontier.Tolerance * ratio)
        {
            var secant = nearest is { } other ? StoredRatioModel.Through(other, (structure, stored)).StructureFor(1.01 * ratio) : double.PositiveInfinity;
            var raised = double.IsFinite(secant) && secant > structure ? secant : structure * ratio / stored * 1.01;
            var retry = run.Compress($"{label}: {stored:0.##}x stored, compressing again at {raised:0.##}x structure", options with { Ratio = raised });
            if (retry.Result is not null)
            {
                known.Add((raised, retry.Result.AchievedRatio));
                (attempt, structure) = (retry, raised);
            }
            else
            {
                refusal = (raised, retry.Problem!);
            }
        }

        return (run.Evaluate($"{label}: evaluating", attempt.Result!), structure, refusal);
    }

    /// <summary>Compressions and evaluations of one run, each announced on the progress.</summary>
    private sealed class Measurement(ComparisonBaseline baseline, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        public ComparisonBaseline Baseline => baseline;

        /// <summary>Compresses; a refusal (an unreachable ratio) is returned as its message.</summary>
        public (CompressionResult? Result, string? Problem) Compress(string label, CompressionOptions options)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(label);
            try
            {
                return (RnnCompressor.Compress(baseline.Model, options, cancellationToken: cancellationToken), null);
            }
            catch (DirNetException e)
            {
                return (null, e.Message);
            }
        }

        public ComparisonRow Evaluate(string label, CompressionResult result)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(label);
            return MethodComparison.Evaluate(baseline, result);
        }

        /// <summary>Compresses and evaluates, each step announced.</summary>
        public ComparisonRow Measure(string label, CompressionOptions options)
        {
            var (result, problem) = Compress($"{label}: compressing", options);
            return result is null ? MethodComparison.Refused(baseline.Task, options, problem!) : Evaluate($"{label}: evaluating", result);
        }
    }
}
