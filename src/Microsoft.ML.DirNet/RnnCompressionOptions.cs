using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML.DirNet;

/// <summary>
/// Options of <see cref="RnnCompressionEstimator"/> (<c>mlContext.Transforms.CompressRnn</c>): which model, how to
/// compress it, and how its ONNX inputs and outputs map to columns.
/// </summary>
public sealed class RnnCompressionOptions
{
    /// <summary>The trained recurrent model (ONNX) to compress. Required; the file is never modified.</summary>
    public string ModelFile { get; set; } = "";

    /// <summary>
    /// The columns that feed the model's inputs, in the model's input order. Default: columns named like the ONNX inputs.
    /// </summary>
    public string[]? InputColumnNames { get; set; }

    /// <summary>
    /// The columns the model's outputs are written to, in the model's output order. Default: columns named like the
    /// ONNX outputs.
    /// </summary>
    public string[]? OutputColumnNames { get; set; }

    /// <summary>
    /// Fixed shapes for inputs whose ONNX shape has symbolic dimensions, by ONNX input name (as ML.NET's
    /// <c>ApplyOnnxModel</c> takes them), e.g. <c>{ ["input"] = [35, 1] }</c>. A size of −1 leaves one symbolic dimension
    /// open, to follow from each row's number of values (variable-length sequences: <c>{ ["features"] = [1, -1, 40] }</c>);
    /// an input whose declared shape has only one open dimension needs no entry. Default none.
    /// </summary>
    public IDictionary<string, int[]>? ShapeDictionary { get; set; }

    /// <summary>The compression method. Default <see cref="CompressionMethod.DirNet"/>.</summary>
    public CompressionMethod Method { get; set; } = CompressionMethod.DirNet;

    /// <summary>Target compression ratio (bytes before / after) over <see cref="Scope"/>; above 1. Default 8.</summary>
    public double TargetRatio { get; set; } = 8;

    /// <summary>
    /// What <see cref="TargetRatio"/> applies to. Default <see cref="CompressionScope.Recurrent"/>: the recurrent layers'
    /// W and R, which the methods are designed for; the embedding and output layers stay exact. (The command line's
    /// default is the whole model.)
    /// </summary>
    public CompressionScope Scope { get; set; } = CompressionScope.Recurrent;

    /// <summary>How the byte budget is split over the matrices. Default <see cref="BudgetAllocation.ErrorPerByte"/>.</summary>
    public BudgetAllocation Allocation { get; set; } = BudgetAllocation.ErrorPerByte;

    /// <summary>Per-matrix overrides: initializers kept dense, by name (see <see cref="CompressionOptions.KeepDense"/>). Default none.</summary>
    public string[] KeepDense { get; set; } = [];

    /// <summary>
    /// Whether a matrix too small to pay for the graph that rebuilds it is kept dense, and compressing refused where the
    /// file would not get smaller (see <see cref="CompressionOptions.KeepDenseWhereItDoesNotPay"/>). Default true.
    /// </summary>
    public bool KeepDenseWhereItDoesNotPay { get; set; } = true;

    /// <summary>
    /// Rows of the data given to <c>Fit</c> used as calibration inputs: the input columns of the first this-many rows
    /// run through the model, and every matrix is fitted in the norm of the inputs it really multiplies
    /// (‖(W − Ŵ)X‖ rather than ‖W − Ŵ‖). Default 0: no calibration, the data is only checked against the schema.
    /// </summary>
    public int CalibrationRows { get; set; }

    /// <summary>How the factors' values are stored in the compressed model. Default <see cref="FactorPrecision.Float32"/>.</summary>
    public FactorPrecision Precision { get; set; } = FactorPrecision.Float32;

    /// <summary>
    /// Values per group for <see cref="FactorPrecision.Int4"/> and below: 32, 64, 128 or 256, or 0 for the precision's
    /// default (int4: 128, int3: 64, int2 and ternary: 32). Default 0.
    /// </summary>
    public int GroupSize { get; set; }

    /// <summary>
    /// How values are rounded onto a low-bit grid. <see cref="Quantizer.Gptq"/> needs calibration
    /// (<see cref="CalibrationRows"/> above 0). Default <see cref="Quantizer.RoundToNearest"/>.
    /// </summary>
    public Quantizer Quantizer { get; set; } = Quantizer.RoundToNearest;

    /// <summary>Seed of every random choice: the same model, data, options and seed give the same compressed file. Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>Receives progress during <c>Fit</c> (compression of a large model takes seconds to minutes). Default none.</summary>
    public IProgress<CompressionProgress>? Progress { get; set; }

    /// <summary>
    /// Stops <c>Fit</c> with an <see cref="OperationCanceledException"/> when cancelled: checked between calibration
    /// rows, between matrices, and between the dictionary-learning passes of each matrix. ML.NET's <c>Fit</c> takes no
    /// token, so it travels here. Default none.
    /// </summary>
    public CancellationToken CancellationToken { get; set; }

    internal CompressionOptions ToCompressionOptions(CalibrationStatistics? calibration) => new()
    {
        Method = Method,
        Ratio = TargetRatio,
        Scope = Scope,
        Allocation = Allocation,
        KeepDense = KeepDense,
        KeepDenseWhereItDoesNotPay = KeepDenseWhereItDoesNotPay,
        Calibration = calibration,
        Precision = Precision,
        GroupSize = GroupSize,
        Quantizer = Quantizer,
        Seed = Seed,
    };
}
