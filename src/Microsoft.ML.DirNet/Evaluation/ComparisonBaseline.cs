using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>
/// What every compressed row of a comparison is measured against, computed once: the original model's row, its
/// outputs on the task's probe inputs, and the calibration statistics (the plain and the data-aware variant).
/// </summary>
internal sealed class ComparisonBaseline
{
    private ComparisonBaseline(OnnxModel model, TaskEvaluation task, IReadOnlyList<Tensor[]> probes, float[][] reference, ComparisonRow original,
        CalibrationStatistics?[] variants)
    {
        Model = model;
        Task = task;
        Probes = probes;
        Reference = reference;
        Original = original;
        Variants = variants;
    }

    /// <summary>The model compressed.</summary>
    public OnnxModel Model { get; }

    /// <summary>The task every row is evaluated on.</summary>
    public TaskEvaluation Task { get; }

    /// <summary>The inputs on which outputs are compared.</summary>
    public IReadOnlyList<Tensor[]> Probes { get; }

    /// <summary>The original's first output on each probe.</summary>
    public float[][] Reference { get; }

    /// <summary>The original model's row (ratio 1, the metric to beat).</summary>
    public ComparisonRow Original { get; }

    /// <summary>Null (plain), then the calibration statistics when calibration inputs were given.</summary>
    public CalibrationStatistics?[] Variants { get; }

    /// <summary>Captures calibration (when <paramref name="calibrationInputs"/> are given) and measures the original.</summary>
    public static ComparisonBaseline Start(OnnxModel model, TaskEvaluation task, CompressionOptions baseOptions, IReadOnlyList<Tensor[]>? calibrationInputs,
        IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var calibration = calibrationInputs is null ? null : CalibrationStatistics.Capture(model, calibrationInputs, cancellationToken);
        var probes = task.ProbeInputs(model);
        using var engine = MeasuringEngine.Open(model);
        var reference = MethodComparison.FirstOutputs(engine.Model, probes);
        progress?.Report("original");
        var original = new ComparisonRow("original", false, 1, 1, 1, RnnCompressor.Targets(model, baseOptions.Scope).Sum(w => w.Bytes),
            model.ToBytes().LongLength, 0, 0, task.Evaluate(engine.Model, model), 0);
        return new ComparisonBaseline(model, task, probes, reference, original, calibration is null ? [null] : [null, calibration]);
    }
}
