namespace Microsoft.ML.DirNet.Compression;

/// <summary>The compression methods.</summary>
public enum CompressionMethod
{
    /// <summary>DirNet: mined dictionary × adaptive sparse codes, learned by SCC (Zhang et al. 2018).</summary>
    DirNet,

    /// <summary>Hybrid matrix decomposition: dense upper rows, rank-1 blocks below (Thakker et al. 2019).</summary>
    Hmd,

    /// <summary>Truncated SVD, W ≈ U·V.</summary>
    LowRank,

    /// <summary>Magnitude pruning, CSR storage with index bytes counted.</summary>
    Prune,

    /// <summary>LSTM-ODL baseline: dictionary × sparse codes by Mairal's online dictionary learning, one k and one λ for every matrix.</summary>
    Odl,

    /// <summary>
    /// The int8 baseline: every matrix kept whole, its values stored as int8 with one float scale per row (symmetric),
    /// as dynamic quantization stores weights (activations stay float32 here). One form, about 4x; a target ratio
    /// beyond what it reaches is refused, one below it is exceeded.
    /// </summary>
    Int8,

    /// <summary>
    /// The quantization method (<see cref="FactorPrecision"/> says the bits): every matrix kept whole, its values stored
    /// at <see cref="CompressionOptions.Precision"/>. Its ratio follows from the bits, so <see cref="CompressionOptions.Ratio"/>
    /// is not used. <see cref="Int8"/> is this method at int8 (and keeps its own check of the target ratio).
    /// </summary>
    Quant,

    /// <summary>
    /// The planner chooses per matrix among structure × bits: the matrix whole at float32, float16, int8, or int4, int3,
    /// int2 or ternary in groups of 32, 64 or 128 values, or truncated SVD at a ladder of ranks with float32, int8, int4
    /// or int3 factors. Every candidate is measured as stored (its exact bytes, and its error in the data-aware norm
    /// ‖(W − Ŵ)·X‖ when calibrated, else ‖W − Ŵ‖, or the model's output change, <see cref="CompressionOptions.AutoScoring"/>),
    /// and the budget goes where the error falls most per byte, so <see cref="CompressionOptions.Ratio"/> is met. When
    /// scored on the output, whole plans are then scored with every matrix changed at once (the planner's, every single
    /// configuration that fits, and local moves from the best), and the best is kept. Each matrix carries the precision
    /// chosen for it: <see cref="CompressionOptions.Precision"/> stays float32; <see cref="CompressionOptions.GroupSize"/>
    /// (0: try 32, 64 and 128) and <see cref="CompressionOptions.Quantizer"/> apply to the low-bit candidates.
    /// </summary>
    Auto,
}

/// <summary>How values are rounded onto a low-bit grid (<see cref="FactorPrecision.Int4"/> and below).</summary>
public enum Quantizer
{
    /// <summary>Round to nearest, with a search per group for the clipping range of least squared error. Needs no data.</summary>
    RoundToNearest,

    /// <summary>
    /// GPTQ (Frantar et al. 2022): columns rounded left to right, each one's error spread over the columns not yet
    /// rounded through the inverse second moment of the inputs, so the output error ‖(W − Ŵ)·X‖ is what is kept small.
    /// Needs <see cref="CompressionOptions.Calibration"/>; value arrays whose inputs it does not know (sparse codes, HMD
    /// block vectors) are rounded to nearest.
    /// </summary>
    Gptq,
}

/// <summary>What the target ratio applies to.</summary>
public enum CompressionScope
{
    /// <summary>The whole model file: every compressible matrix may be compressed; ratio = file bytes before / after.</summary>
    Model,

    /// <summary>Only the recurrent layers' W and R; ratio = their bytes before / after. Other matrices stay dense.</summary>
    Recurrent,
}

/// <summary>How the planner splits the byte budget over the matrices.</summary>
public enum BudgetAllocation
{
    /// <summary>Spend bytes where the measured error falls most per byte (minimises the size-weighted relative squared error).</summary>
    ErrorPerByte,

    /// <summary>Give every matrix the same relative error, the smallest that fits the budget (DirNet's error equalisation).</summary>
    EqualError,

    /// <summary>The same ratio for every matrix.</summary>
    Uniform,
}

/// <summary>How the values of the compressed factors are stored.</summary>
public enum FactorPrecision
{
    /// <summary>32-bit floats.</summary>
    Float32,

    /// <summary>
    /// 16-bit floats: the structure is chosen at float32 for the target ratio, then every value is rounded to float16,
    /// so the file shrinks further (about 2x on values; indices and row starts are unchanged) at a rounding error of
    /// about 2⁻¹¹ of each value.
    /// </summary>
    Float16,

    /// <summary>
    /// 8-bit integers with one float32 scale per row (symmetric, scale = max |value| / 127): the structure is chosen at
    /// float32 for the target ratio, then every value is quantized, so the file shrinks further (about 4x on values;
    /// indices are unchanged) at a rounding error of at most half a step, max |row| / 254, per value.
    /// </summary>
    Int8,

    /// <summary>
    /// 4-bit levels per group of <see cref="CompressionOptions.GroupSize"/> values along each row, with a float16 scale and
    /// a 4-bit zero point per group (asymmetric): about 7.5x on values at groups of 128.
    /// </summary>
    Int4,

    /// <summary>3-bit levels per group, with a float16 scale and a 3-bit zero point per group: about 9.5x at groups of 64.</summary>
    Int3,

    /// <summary>2-bit levels per group, with a float16 scale and a 2-bit zero point per group: about 12.5x at groups of 32.</summary>
    Int2,

    /// <summary>Levels {−1, 0, 1} times a float16 scale per group (symmetric), five values to a byte: about 15x at groups of 32.</summary>
    Ternary,
}

/// <summary>What the <see cref="CompressionMethod.Auto"/> method's planner counts as a candidate's error.</summary>
public enum AutoScoring
{
    /// <summary>
    /// The matrix's own error: ‖W − Ŵ‖²_F, or with calibration tr(ΔW·C·ΔWᵀ), the error of its outputs on the
    /// calibration inputs. Fast: no model runs.
    /// </summary>
    Matrix,

    /// <summary>
    /// The model's output change with only that matrix replaced: Σ‖y − ŷ‖² over the model's first output, on the first
    /// few calibration input sets (<see cref="CalibrationStatistics.ProbeSetLimit"/>). Needs
    /// <see cref="CompressionOptions.Calibration"/>. Only the candidates on or near each matrix's lower hull of
    /// bytes against matrix error are run (a few dozen model runs per matrix), so compression takes longer. Whole plans
    /// are then scored with every matrix changed at once (up to 40 plans, on the first 8 calibration sets; the best 4
    /// again on up to 40), since errors in several matrices do not simply add up.
    /// </summary>
    OutputSquaredError,

    /// <summary>
    /// As <see cref="OutputSquaredError"/>, but the error is the Kullback–Leibler divergence KL(p ‖ p̂) between the
    /// softmax over the last axis of the original and of the changed first output (for a classifier's or a language
    /// model's logits or log-probabilities).
    /// </summary>
    OutputKullbackLeibler,
}

/// <summary>Options of <see cref="RnnCompressor"/>.</summary>
public sealed record CompressionOptions
{
    /// <summary>The method. Default DirNet.</summary>
    public CompressionMethod Method { get; init; } = CompressionMethod.DirNet;

    /// <summary>Target compression ratio (bytes before / after) over <see cref="Scope"/>; must exceed 1. Default 8.</summary>
    public double Ratio { get; init; } = 8;

    /// <summary>What <see cref="Ratio"/> applies to. Default the whole model.</summary>
    public CompressionScope Scope { get; init; } = CompressionScope.Model;

    /// <summary>How the budget is split over matrices. Default: error per byte.</summary>
    public BudgetAllocation Allocation { get; init; } = BudgetAllocation.ErrorPerByte;

    /// <summary>Seed of every random choice; the same input, options and seed give the same result. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Inputs each matrix really multiplies (<see cref="CalibrationStatistics.Capture"/>); when given, every method fits
    /// in the data-aware norm ‖(W − Ŵ)·X‖ and the planner measures error in it. Default none (plain ‖W − Ŵ‖).
    /// </summary>
    public CalibrationStatistics? Calibration { get; init; }

    /// <summary>
    /// Per-matrix overrides: initializers kept dense whatever the budget, by name as <c>dirnet inspect</c> lists them
    /// (e.g. an embedding table to keep exact). The target ratio is then met by the other matrices in scope; a name that
    /// is not a compressible matrix in scope is an error. Default none.
    /// </summary>
    public IReadOnlyCollection<string> KeepDense { get; init; } = [];

    /// <summary>
    /// Whether a matrix whose compressed form takes, in the written file, at least the bytes of its dense tensor (the
    /// graph that rebuilds it and its metadata counted: a few hundred bytes to 2 KB, so matrices of a few KB) is kept
    /// dense, and compressing refused where the file would not get smaller. Default true; false compresses every matrix
    /// as planned, even where the file grows (for tests and experiments on tiny models).
    /// </summary>
    public bool KeepDenseWhereItDoesNotPay { get; init; } = true;

    /// <summary>How the factors' values are stored. Default float32.</summary>
    public FactorPrecision Precision { get; init; } = FactorPrecision.Float32;

    /// <summary>
    /// Values per group along a row for the low-bit precisions: 32, 64, 128 or 256, or 0 for the precision's default
    /// (int4: 128, int3: 64, int2 and ternary: 32). Not used at float32, float16 or int8. Default 0.
    /// </summary>
    public int GroupSize { get; init; }

    /// <summary>How values are rounded onto a low-bit grid. Default round to nearest.</summary>
    public Quantizer Quantizer { get; init; } = Quantizer.RoundToNearest;

    /// <summary>
    /// The auto method's error for each candidate form: the matrix's own error (default), or the model's output change
    /// with only that matrix replaced, measured on calibration inputs (<see cref="AutoScoring"/>). Not used by the
    /// other methods.
    /// </summary>
    public AutoScoring AutoScoring { get; init; } = AutoScoring.Matrix;

    /// <summary>DirNet's learner settings.</summary>
    public DictionaryOptions Dictionary { get; init; } = new();
}
