using System.Diagnostics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Weights;
using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Compresses the weight matrices of a recurrent ONNX model to a target ratio: finds the matrices
/// (<see cref="WeightFinder"/>), measures each method's size/error trade-off per matrix group, splits the byte budget
/// (<see cref="BudgetAllocation"/>), and fits every group at its budget. The input model is never modified.
/// </summary>
/// <remarks>Thread-safe: it keeps no state, and only reads the model, so compressions may run at once.</remarks>
public static class RnnCompressor
{
    /// <summary>Compresses <paramref name="model"/> as <paramref name="options"/> say.</summary>
    /// <exception cref="DirNetException">The ratio is not above 1 or cannot be reached, a weight is NaN or infinite,
    /// or the model has no compressible matrix in the chosen scope.</exception>
    internal static CompressionResult Compress(OnnxModel model, CompressionOptions options, IOnnxEngine engine,
        IProgress<CompressionProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(engine);
        if (!(options.Ratio > 1) || double.IsInfinity(options.Ratio))
        {
            throw new DirNetException($"The target ratio must be a finite number above 1, got {options.Ratio}.");
        }

        if (model.Metadata.ContainsKey(CompressionResult.MetadataKey))
        {
            // Its factors would be fitted again with a second error on top of the first, and the file's rebuild
            // subgraph hides the weights from the finder: refuse rather than half-compress.
            throw new DirNetException(
                $"'{model.SourceName}' is already compressed by this library (its metadata holds '{CompressionResult.MetadataKey}'); compress the original model instead, with the new options.");
        }

        // Weights in Constant nodes or inside If/Loop/Scan subgraphs become main-graph initializers first, so they are
        // found, compressed and written like any other; the result's source is this hoisted model.
        model = WeightHoisting.Hoist(model, engine);
        var method = MethodRegistry.Of(options.Method);
        var precision = method.PrecisionFor(options);
        var grid = CheckPrecision(options, method, precision);
        CheckGraph(model, engine);
        var clock = Stopwatch.StartNew();
        var fileBytes = model.ToBytes().LongLength;
        var weights = Targets(model, options.Scope, options.KeepDense);
        var values = weights.ToDictionary(w => w, w => ReadChecked(model, w));
        var groups = Group(model, weights, values, options);

        var budget = Budget(options, fileBytes, groups.Sum(g => g.DenseBytes));
        var built = method.Plan switch
        {
            MethodPlan.Shared => BuildOdl(groups, budget, options, progress, cancellationToken),
            MethodPlan.WholeToTarget => BuildQuantized(groups, budget, fileBytes, options),
            MethodPlan.Whole => Whole(groups),
            _ => BuildPlanned(groups, budget, fileBytes, options, method, progress, cancellationToken, Probes(model, options, engine)),
        };

        var result = new List<CompressedWeight>();
        var rounded = new Dictionary<float[], float[]>();
        var quantized = new Dictionary<float[], (float[], float[])>();
        var lowBit = new Dictionary<float[], (float[], GroupQuantizedValues)>();
        var gptq = options.Quantizer == Quantizer.Gptq;
        GroupQuantizedValues Quantize(MatrixFactor factor, double[]? moment)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return LowBitPrecision.Quantize(factor, moment, grid!);
        }

        for (var g = 0; g < groups.Count; g++)
        {
            for (var m = 0; m < groups[g].Members.Count; m++)
            {
                var (weight, original) = groups[g].Members[m];
                if (grid is not null)
                {
                    progress?.Report(new CompressionProgress("quantize", result.Count, weights.Count, weight.DisplayName));
                }

                var matrix = precision switch
                {
                    FactorPrecision.Float16 => built[g][m].ToHalfPrecision(rounded),
                    FactorPrecision.Int8 => built[g][m].ToInt8Precision(quantized),
                    _ when grid is not null && built[g][m] is LowRankMatrix lowRank && options.Calibration?.Moment(weight) is { } moment =>
                        LowRankRefit.QuantizeInTurn(lowRank, original, moment, gptq ? moment : null, Quantize),
                    _ when grid is not null => built[g][m].ToLowBitPrecision(grid, Quantize, gptq ? options.Calibration!.Moment(weight) : null, lowBit),
                    _ => built[g][m],
                };
                var rebuilt = matrix.ToDense();
                CheckFinite(model, weight, original, rebuilt, matrix, matrix.Precision);
                result.Add(new CompressedWeight(weight, matrix, RelativeError(original, rebuilt), original.Sum(v => (double)v * v)));
            }
        }

        if (grid is not null)
        {
            progress?.Report(new CompressionProgress("quantize", weights.Count, weights.Count, ""));
        }

        var order = weights.Select((w, i) => (w, i)).ToDictionary(p => p.w, p => p.i);
        return new CompressionResult(model, options, fileBytes, result.OrderBy(r => order[r.Weight]).ToArray(), clock.Elapsed.TotalSeconds);
    }

    /// <summary>Measures every group's ladder, splits the budget, and fits each group at its share.</summary>
    private static IReadOnlyList<CompressedMatrix>[] BuildPlanned(List<MatrixGroup> groups, long budget, long fileBytes,
        CompressionOptions options, MethodEntry method, IProgress<CompressionProgress>? progress, CancellationToken cancellationToken,
        AutoProbes? probes = null)
    {
        var fits = new List<GroupFit>();
        foreach (var group in groups)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new CompressionProgress("analyse", fits.Count, groups.Count, group.DisplayName));
            var fit = method.Fit!(group, options, cancellationToken);
            if (probes is { Single: var probe } && fit is AutoFit auto)
            {
                var (index, weight) = (fits.Count, group.Members[0].Weight);
                auto.ScoreOnOutput(dense => probe.Divergence(weight, dense), (done, total) =>
                    progress?.Report(new CompressionProgress("analyse", index, groups.Count, $"{group.DisplayName}: model output with candidate {done} of {total}")));
            }

            fits.Add(fit);
        }

        var denseBytes = groups.Sum(g => g.DenseBytes);
        var smallest = fits.Sum(f => Math.Min(f.MinimumBytes, f.Group.DenseBytes));
        if (smallest > budget)
        {
            var best = options.Scope == CompressionScope.Model
                ? (double)fileBytes / (fileBytes - denseBytes + smallest)
                : (double)denseBytes / smallest;
            throw new DirNetException(
                $"Ratio {options.Ratio:0.##} over the {(options.Scope == CompressionScope.Model ? "model" : "recurrent weights")} " +
                $"is out of reach for {options.Method}: the smallest it can make is ratio {best:0.##}" +
                (options.Scope == CompressionScope.Model ? $" ({fileBytes - denseBytes:N0} bytes of the file are not compressible matrices)." : "."));
        }

        var budgets = BudgetPlanner.Allocate(fits, budget, options.Allocation);
        if (probes is not null)
        {
            return SearchJointly(fits.Cast<AutoFit>().ToArray(), groups, budget, budgets, probes, progress, cancellationToken);
        }

        var built = new IReadOnlyList<CompressedMatrix>[fits.Count];
        long Bytes(int g) => built[g].Sum(m => m.StorageBytes);

        // A group's form comes in steps (a rank, a row, an atom), so it rarely fills its budget exactly: what it leaves
        // passes to the next group, and one pass back over the groups offers what is still left.
        long carry = 0;
        for (var g = 0; g < fits.Count; g++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new CompressionProgress("build", g, fits.Count, fits[g].Group.DisplayName));
            built[g] = Build(fits[g], budgets[g] + carry);
            carry = budgets[g] + carry - Bytes(g);
        }

        for (var g = fits.Count - 1; g >= 0 && carry > budget / 200; g--)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var larger = Build(fits[g], Bytes(g) + carry);
            var grown = larger.Sum(m => m.StorageBytes) - Bytes(g);
            if (grown > 0 && grown <= carry)
            {
                built[g] = larger;
                carry -= grown;
            }
        }

        progress?.Report(new CompressionProgress("build", fits.Count, fits.Count, ""));
        return built;
    }

    /// <summary>
    /// The auto method's plan refined on the model's output with every matrix changed at once
    /// (<see cref="JointPlanSearch"/>), starting from the planner's split of the budget.
    /// </summary>
    private static IReadOnlyList<CompressedMatrix>[] SearchJointly(AutoFit[] fits, List<MatrixGroup> groups, long budget, long[] budgets,
        AutoProbes probes, IProgress<CompressionProgress>? progress, CancellationToken cancellationToken)
    {
        // What a group leaves of its share passes to the next, as in the planner's own build.
        var planned = new int[fits.Length];
        long carry = 0;
        for (var g = 0; g < fits.Length; g++)
        {
            planned[g] = fits[g].ChoiceFor(budgets[g] + carry);
            carry = budgets[g] + carry - fits[g].Choices[planned[g]].Bytes;
        }

        // Each form scored is kept with its rebuilt dense matrix while they take less than about 512 MB (a move changes
        // one or two matrices), so the plan kept is mostly not quantized again.
        var built = new Dictionary<(int Group, int Choice), (CompressedMatrix Form, float[] Dense)>();
        (CompressedMatrix Form, float[] Dense) Built(int g, int choice)
        {
            if (!built.TryGetValue((g, choice), out var entry))
            {
                if (built.Values.Sum(e => (long)e.Dense.Length) > 64L << 20)
                {
                    built.Clear();
                }

                var form = fits[g].Make(choice);
                entry = (form, form.ToDense());
                built[(g, choice)] = entry;
            }

            return entry;
        }

        (CompressibleWeight, float[])[] Weights(int[] plan) => plan.Select((choice, g) => (groups[g].Members[0].Weight, Built(g, choice).Dense)).ToArray();
        var plan = JointPlanSearch.Search(fits, budget, planned,
            p => probes.Joint.Divergence(Weights(p)),
            probes.Final == probes.Joint ? null : p => probes.Final.Divergence(Weights(p)),
            (done, total) => progress?.Report(new CompressionProgress("plan", done, total, "model output with whole plans")),
            cancellationToken);
        return plan.Select((choice, g) => (IReadOnlyList<CompressedMatrix>)[Built(g, choice).Form]).ToArray();
    }

    /// <summary>
    /// The output probes for the auto method when <see cref="CompressionOptions.AutoScoring"/> asks for them: one on
    /// the first <see cref="CalibrationStatistics.ProbeSetLimit"/> sets for each matrix's candidates, one on up to
    /// <see cref="CalibrationStatistics.JointProbeSetLimit"/> for the whole plans, which are few enough to score on more,
    /// and one on up to <see cref="CalibrationStatistics.FinalProbeSetLimit"/> for the final choice among the best few.
    /// </summary>
    private static AutoProbes? Probes(OnnxModel model, CompressionOptions options, IOnnxEngine engine)
    {
        if (options.AutoScoring == AutoScoring.Matrix || !MethodRegistry.Of(options.Method).ChoosesPrecision)
        {
            return null;
        }

        if (options.Calibration is null)
        {
            throw new DirNetException($"Scoring the auto method's candidates on the model's output ({options.AutoScoring}) needs calibration inputs; give them, or score by the matrix error.");
        }

        var sets = options.Calibration.ProbeSets;
        OutputProbe On(int count) => new(model, engine, sets.Take(count).ToArray(), options.AutoScoring);
        var single = On(CalibrationStatistics.ProbeSetLimit);
        var joint = sets.Count > CalibrationStatistics.ProbeSetLimit ? On(CalibrationStatistics.JointProbeSetLimit) : single;
        return new AutoProbes(single, joint, sets.Count > CalibrationStatistics.JointProbeSetLimit ? On(CalibrationStatistics.FinalProbeSetLimit) : joint);
    }

    /// <summary>The auto method's output probes: per matrix, per whole plan, and for the final choice (see <see cref="Probes"/>).</summary>
    private sealed record AutoProbes(OutputProbe Single, OutputProbe Joint, OutputProbe Final);

    /// <summary>
    /// Checks the precision options against each other; returns the low-bit grid, or null at float32, float16 and int8.
    /// </summary>
    private static LowBitGrid? CheckPrecision(CompressionOptions options, MethodEntry method, FactorPrecision precision)
    {
        if (method.ChoosesPrecision)
        {
            // Each matrix's candidates are measured as stored, at the precisions the method tries; the stored forms
            // carry their own precision, so none is applied afterwards.
            if (options.Precision != FactorPrecision.Float32)
            {
                throw new DirNetException($"The {method.Name} method chooses each matrix's precision itself; omit the precision (or give fp32).");
            }

            if (options.GroupSize != 0 && !LowBitGrid.GroupSizes.Contains(options.GroupSize))
            {
                throw new DirNetException($"Group size {options.GroupSize} is not one of {string.Join(", ", LowBitGrid.GroupSizes)}.");
            }

            if (options.Quantizer == Quantizer.Gptq && options.Calibration is null)
            {
                throw new DirNetException("The GPTQ quantizer needs calibration inputs (the vectors each matrix multiplies); give them, or quantize by round to nearest.");
            }

            return null;
        }

        if (method.Plan == MethodPlan.Whole && precision == FactorPrecision.Float32)
        {
            throw new DirNetException($"The {method.Name} method keeps every matrix whole at a lower precision; choose the precision (fp16, int8, int4, int3, int2 or ternary).");
        }

        if (!LowBitPrecision.IsLowBit(precision))
        {
            if (options.GroupSize != 0 || options.Quantizer != Quantizer.RoundToNearest)
            {
                throw new DirNetException(
                    $"A group size and the GPTQ quantizer apply to the per-group precisions (int4, int3, int2, ternary), not to {precision}.");
            }

            return null;
        }

        if (options.Quantizer == Quantizer.Gptq && options.Calibration is null)
        {
            throw new DirNetException("The GPTQ quantizer needs calibration inputs (the vectors each matrix multiplies); give them, or quantize by round to nearest.");
        }

        return LowBitPrecision.Grid(precision, options.GroupSize);
    }

    /// <summary>Every matrix kept whole (the quant method: its values are then stored at the chosen precision).</summary>
    private static IReadOnlyList<CompressedMatrix>[] Whole(List<MatrixGroup> groups) =>
        groups.Select(g => (IReadOnlyList<CompressedMatrix>)g.Members.Select(m => new DenseMatrix(m.Values, m.Weight.Rows, m.Weight.Columns)).ToArray()).ToArray();

    /// <summary>
    /// The int8 baseline: every matrix kept whole (its values quantized afterwards), as dynamic quantization stores
    /// weights. Its one form reaches one ratio; a target beyond it is refused.
    /// </summary>
    private static IReadOnlyList<CompressedMatrix>[] BuildQuantized(List<MatrixGroup> groups, long budget, long fileBytes, CompressionOptions options)
    {
        var built = Whole(groups);
        var denseBytes = groups.Sum(g => g.DenseBytes);
        var stored = built.Sum(g => g.Sum(m => m.ToInt8Precision([]).StorageBytes));
        if (stored > budget)
        {
            var reached = options.Scope == CompressionScope.Model ? (double)fileBytes / (fileBytes - denseBytes + stored) : (double)denseBytes / stored;
            throw new DirNetException(
                $"Ratio {options.Ratio:0.##} over the {(options.Scope == CompressionScope.Model ? "model" : "recurrent weights")} is out of reach for Int8: " +
                $"int8 values with a scale per row reach ratio {reached:0.##}; ask for that or less.");
        }

        return built;
    }

    private static IReadOnlyList<CompressedMatrix>[] BuildOdl(List<MatrixGroup> groups, long budget, CompressionOptions options,
        IProgress<CompressionProgress>? progress, CancellationToken cancellationToken)
    {
        progress?.Report(new CompressionProgress("build", 0, 1, "one k and one λ for every matrix"));
        var target = $"Ratio {options.Ratio:0.##} over the {(options.Scope == CompressionScope.Model ? "model" : "recurrent weights")}";
        var built = OdlPlan.Build(groups, budget, options.Seed, cancellationToken, target).Select((m, g) => groups[g].MapBack(m)).ToArray();
        progress?.Report(new CompressionProgress("build", 1, 1, ""));
        return built;
    }

    /// <summary>
    /// Refuses a graph that cannot run (a cycle, a value nothing produces, an initializer whose data disagrees with its
    /// shape, a bad attribute), as the native engine checks it: compressing it would write a smaller broken file.
    /// Operators the engine lacks are no reason to refuse; ONNX Runtime may run them.
    /// </summary>
    private static void CheckGraph(OnnxModel model, IOnnxEngine engine)
    {
        try
        {
            engine.CheckGraph(model);
        }
        catch (DirNetException e) when (e is Onnx.OnnxGraphException or Onnx.OnnxFormatException)
        {
            throw new DirNetException($"{model.SourceName} cannot be compressed: {e.Message}", e);
        }
    }

    /// <summary>Bytes the targeted matrices may take: the scope's bytes over the ratio, less what stays as it is.</summary>
    private static long Budget(CompressionOptions options, long fileBytes, long denseBytes) => options.Scope == CompressionScope.Model
        ? (long)Math.Floor(fileBytes / options.Ratio) - (fileBytes - denseBytes)
        : (long)Math.Floor(denseBytes / options.Ratio);

    /// <summary>The group's matrices at a budget: dense where the budget covers the dense form.</summary>
    private static IReadOnlyList<CompressedMatrix> Build(GroupFit fit, long budget) =>
        budget >= fit.Group.DenseBytes ? fit.Group.Dense() : fit.BuildMapped(budget);

    /// <summary>‖W − Ŵ‖_F / ‖W‖_F (0 when both are zero).</summary>
    public static double RelativeError(ReadOnlySpan<float> original, ReadOnlySpan<float> approximation)
    {
        double error = 0, energy = 0;
        for (var i = 0; i < original.Length; i++)
        {
            var d = (double)original[i] - approximation[i];
            error += d * d;
            energy += (double)original[i] * original[i];
        }

        return energy > 0 ? Math.Sqrt(error / energy) : Math.Sqrt(error);
    }

    /// <summary>
    /// The matrices in scope, each initializer slice once (a tied table read by two nodes is one matrix), less those
    /// <paramref name="keepDense"/> names.
    /// </summary>
    internal static List<CompressibleWeight> Targets(OnnxModel model, CompressionScope scope, IReadOnlyCollection<string>? keepDense = null)
    {
        var seen = new HashSet<(string, int)>();
        var inScope = WeightFinder.FindWeights(model)
            .Where(w => scope == CompressionScope.Model || w.Role is WeightRole.RecurrentInput or WeightRole.RecurrentHidden)
            .Where(w => seen.Add((w.Initializer, w.Direction)))
            .ToList();
        var unknown = (keepDense ?? []).Where(name => inScope.All(w => w.Initializer != name)).ToArray();
        if (unknown.Length > 0)
        {
            throw new DirNetException(
                $"{model.SourceName}: kept dense '{string.Join("', '", unknown)}', which {(unknown.Length == 1 ? "is" : "are")} not a compressible matrix " +
                $"in the {scope.ToString().ToLowerInvariant()} scope; the matrices are: {string.Join(", ", inScope.Select(w => w.Initializer).Distinct())}.");
        }

        var targets = inScope.Where(w => keepDense is null || !keepDense.Contains(w.Initializer)).ToList();
        if (targets.Count == 0 && inScope.Count > 0)
        {
            throw new DirNetException($"{model.SourceName}: every compressible matrix in scope is kept dense; nothing is left to compress.");
        }

        if (targets.Count == 0)
        {
            throw new DirNetException(
                $"{model.SourceName} has no compressible matrix{(scope == CompressionScope.Recurrent ? " in recurrent layers" : "")}: " +
                "expected constant float LSTM/GRU/RNN W or R, MatMul/Gemm weights or Gather tables.");
        }

        return targets;
    }

    private static float[] ReadChecked(OnnxModel model, CompressibleWeight weight)
    {
        var values = WeightLayout.Read(weight, model.Graph.GetInitializer(weight.Initializer).As<float>().Data);
        var bad = Array.FindIndex(values, v => !float.IsFinite(v));
        if (bad >= 0)
        {
            throw new DirNetException(
                $"{model.SourceName}: weight '{weight.Initializer}' ({weight.DisplayName}) holds {values[bad]} at row {bad / weight.Columns}, column {bad % weight.Columns}; compression needs finite weights.");
        }

        return values;
    }

    /// <summary>
    /// Refuses a compressed form that rebuilds to ∞ or NaN: weights near float32's limit can be approximated by values
    /// beyond it, and float16 factors hold at most 65,504. Finite weights in the usual range never get here.
    /// </summary>
    private static void CheckFinite(OnnxModel model, CompressibleWeight weight, float[] original, float[] rebuilt, CompressedMatrix matrix, FactorPrecision precision)
    {
        if (Array.TrueForAll(rebuilt, float.IsFinite))
        {
            return;
        }

        var largest = MathF.Abs(TensorPrimitives.MaxMagnitude(original));
        // Low-bit values are their levels times a float16 scale.
        var half = precision == FactorPrecision.Float16 || LowBitPrecision.IsLowBit(precision);
        var limit = half ? (double)(float)Half.MaxValue : float.MaxValue;
        throw new DirNetException(
            $"{model.SourceName}: weight '{weight.Initializer}' ({weight.DisplayName}) holds values up to {largest:G3}, too close to the largest " +
            $"{(half ? "float16" : "float32")} value ({limit:G3}): its {matrix.Method} form ({matrix.Structure}) " +
            "rebuilds to infinite values. Scale the weights down, or keep this matrix dense.");
    }

    private static List<MatrixGroup> Group(OnnxModel model, List<CompressibleWeight> weights,
        Dictionary<CompressibleWeight, float[]> values, CompressionOptions options)
    {
        var grouped = new HashSet<CompressibleWeight>();
        var groups = new List<MatrixGroup>();
        if (MethodRegistry.Of(options.Method).SharesProjection && options.Dictionary.ShareProjection)
        {
            foreach (var (recurrentNode, nextNode) in ProjectionSharing.FindPairs(model))
            {
                var r = weights.FirstOrDefault(w => w.NodeIndex == recurrentNode && w.Role == WeightRole.RecurrentHidden);
                var w = weights.FirstOrDefault(x => x.NodeIndex == nextNode && x.Role == WeightRole.RecurrentInput);
                if (r is not null && w is not null && r.Columns == w.Columns && !grouped.Contains(r) && !grouped.Contains(w))
                {
                    groups.Add(new MatrixGroup([(r, values[r]), (w, values[w])], Transform(r, options)));
                    grouped.Add(r);
                    grouped.Add(w);
                }
            }
        }

        groups.AddRange(weights.Where(w => !grouped.Contains(w)).Select(w => new MatrixGroup([(w, values[w])], Transform(w, options))));
        return groups;
    }

    /// <summary>
    /// The data-aware basis for a matrix with calibration data: full whitening for low-rank (whose right factor absorbs
    /// it and whose truncation is then optimal in ‖(W − Ŵ)X‖), per-column scaling for the others. HMD's blocks and
    /// pruning's pattern survive only a diagonal change; dictionary learning could absorb full whitening too, but
    /// measured on the language-model sample it lost perplexity against no calibration (8x: +30.6 % against +20.2 %),
    /// while column scaling gained (+20.7 % against +22.7 % on 10,000 tokens): whitened rows are dominated by a few
    /// directions of the state vectors, which unit-norm atoms then over-serve.
    /// </summary>
    private static InputTransform? Transform(CompressibleWeight weight, CompressionOptions options)
    {
        if (options.Calibration?.Moment(weight) is not { } moment)
        {
            return null;
        }

        try
        {
            return InputTransform.Create(moment, weight.Columns, diagonal: !MethodRegistry.Of(options.Method).FullWhitening);
        }
        catch (ArgumentException e)
        {
            // MathNet's Cholesky refuses a matrix it cannot factor; the captured moments are finite and C + δ·I is
            // positive definite in exact arithmetic, so only a numerically extreme C gets here.
            throw new DirNetException(
                $"The calibration data for weight '{weight.Initializer}' ({weight.DisplayName}) gives a second-moment matrix that cannot be factored " +
                $"({e.Message}); its input vectors are too extreme to fit to. Calibrate with other data, or compress without calibration.", e);
        }
    }
}
