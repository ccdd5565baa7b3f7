using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// The auto method's view of one matrix: every candidate form, each measured as stored. Candidates are the matrix kept
/// whole at float32, float16, int8, and int4, int3, int2 and ternary in groups of 32, 64 and 128 values (or only
/// <see cref="CompressionOptions.GroupSize"/> when one is given), and truncated SVD at a ladder of ranks with float32,
/// int8, int4 or int3 factors (at the precisions' default groups); with calibration, the SVD both of W·T (optimal in the
/// data-aware norm) and of W itself. Each one's bytes are its
/// <see cref="CompressedMatrix.StorageBytes"/> after quantizing, and its error is measured in the group's basis:
/// ‖(W − Ŵ)·T‖²_F with T the whitening factor of the calibration moment (T·Tᵀ = C + δI, so the error is
/// tr(ΔW·(C + δI)·ΔWᵀ), the output error on the calibration inputs), or ‖W − Ŵ‖²_F without calibration. The planner
/// compares these errors across matrices as they are (not relative to each matrix's energy): a matrix whose outputs
/// move more per unit of weight error gets more bytes.
/// </summary>
/// <remarks>
/// Low-bit values are rounded by GPTQ when <see cref="CompressionOptions.Quantizer"/> says so and the matrix has a
/// calibration moment, else to nearest. Low-bit low-rank factors are quantized in turn: V, then (with calibration) U
/// refitted to the quantized V̂ in the data-aware norm (<see cref="LowRankRefit"/>), then U. The SVD is computed once;
/// every rank is a truncation of it. The forms
/// <see cref="Build"/> returns are in the matrix's own input basis and already at their precision. The forms come in
/// steps (a precision; a rank), so at mild ratios, where only float32, float16 and int8 whole matrices are worth their
/// bytes, part of the budget may stay unspent and the ratio reached is then above the one asked for.
/// </remarks>
internal sealed class AutoFit : GroupFit
{
    /// <summary>The precisions a whole matrix is tried at (float16 for the mild ratios, between dense and int8).</summary>
    private static readonly FactorPrecision[] WholePrecisions =
        [FactorPrecision.Float32, FactorPrecision.Float16, FactorPrecision.Int8, FactorPrecision.Int4, FactorPrecision.Int3, FactorPrecision.Int2, FactorPrecision.Ternary];

    /// <summary>
    /// The group sizes a whole low-bit matrix is tried at when none is asked for: larger groups spend fewer bytes on
    /// scales, which moves int2 and ternary between the ratios their default groups reach.
    /// </summary>
    private static readonly int[] WholeGroupSizes = [32, 64, 128];

    /// <summary>The precisions low-rank factors are tried at.</summary>
    private static readonly FactorPrecision[] FactorPrecisions =
        [FactorPrecision.Float32, FactorPrecision.Int8, FactorPrecision.Int4, FactorPrecision.Int3];

    /// <summary>Ranks per halving of the rank on the measured ladder (geometric from full rank down to 1).</summary>
    private const int RanksPerOctave = 3;

    private readonly CompressionOptions _options;
    private readonly double[]? _gptqMoment;
    private readonly double[]? _moment;
    private readonly float[] _original;
    private readonly float[]? _transform;
    private readonly int _transformExponent;
    private readonly PrincipalSubspace _subspace;
    private readonly float[] _left;
    private readonly float[] _right;
    private readonly float[]? _plainLeft;
    private readonly float[]? _plainRight;
    private readonly int _fullRank;
    private readonly List<Candidate> _measured = [];
    private IReadOnlyList<FitPoint> _ladder;
    private bool _scoredOnOutput;
    private readonly CancellationToken _cancel;

    public AutoFit(MatrixGroup group, CompressionOptions options, CancellationToken cancellationToken)
        : base(group)
    {
        if (group.Members.Count != 1)
        {
            throw new ArgumentException("The auto method fits one matrix at a time.", nameof(group));
        }

        _options = options;
        _cancel = cancellationToken;
        var weight = group.Members[0].Weight;
        _original = group.Members[0].Values;
        _gptqMoment = options.Quantizer == Quantizer.Gptq ? options.Calibration?.Moment(weight) : null;
        if (group.Transform is { } transform)
        {
            _moment = options.Calibration?.Moment(weight);
            (_transform, _transformExponent) = transform.ForwardMatrix();
        }


        // One SVD of W·T; every rank is a truncation of it. The left factor is the same in both bases; the right one
        // is mapped back to W's inputs once, whole, and truncated by rows.
        _subspace = new PrincipalSubspace(group.Values, group.Rows, group.Columns);
        _fullRank = Math.Min(group.Rows, group.Columns);
        (_left, var right) = _subspace.Truncate(_fullRank);
        _right = group.Transform is { } t ? t.Undo(right, _fullRank) : right;

        // With calibration, the SVD of W itself as well: whitening can leave V's columns on scales so different that
        // a group's one scale quantizes them badly, and which of the two bases stores better is measured, not assumed.
        if (group.Transform is not null)
        {
            (_plainLeft, _plainRight) = new PrincipalSubspace(_original, group.Rows, group.Columns).Truncate(_fullRank);
        }

        int[] groupSizes = options.GroupSize != 0 ? [options.GroupSize] : WholeGroupSizes;
        var recipes = WholePrecisions
            .SelectMany(p => LowBitPrecision.IsLowBit(p) ? groupSizes.Select(g => new Recipe(Form.Whole, p, 0, g)) : [new Recipe(Form.Whole, p, 0, 0)])
            .Concat(Ranks(_fullRank).SelectMany(r => FactorPrecisions.Where(p => p != FactorPrecision.Float32).Select(p => LowRankRecipe(Form.LowRank, p, r))))
            .Concat(_plainLeft is null ? [] : Ranks(_fullRank).SelectMany(r => FactorPrecisions.Where(p => p != FactorPrecision.Float32).Select(p => LowRankRecipe(Form.PlainLowRank, p, r))))
            .ToArray();
        var measured = new Candidate?[recipes.Length];
        Parallel.For(0, recipes.Length, new ParallelOptions { CancellationToken = cancellationToken }, i => measured[i] = Measure(recipes[i]));
        _measured.AddRange(measured.Where(c => c is not null).Select(c => c!.Value));

        // Float32 factors cost nothing to measure: the truncation error is the SVD's tail energy.
        for (var r = 1; r <= _fullRank; r++)
        {
            _measured.Add(new Candidate(LowRankRecipe(Form.LowRank, FactorPrecision.Float32, r), BytesAt(FactorPrecision.Float32, r), _subspace.SquaredError(r)));
        }

        _ladder = Monotone(_measured.Select(c => new FitPoint(c.Bytes, c.SquaredError)));
    }

    private enum Form
    {
        Whole,

        /// <summary>Truncated SVD in the group's basis (of W·T when calibrated, so optimal in the data-aware norm).</summary>
        LowRank,

        /// <summary>Truncated SVD of W itself, when calibrated (see the constructor).</summary>
        PlainLowRank,
    }

    public override IReadOnlyList<FitPoint> Ladder => _ladder;

    /// <summary>Errors are compared across matrices as measured (see the class remarks).</summary>
    public override double ErrorWeight => 1;

    /// <summary>The candidates measured, with what each one is (for reports and tests).</summary>
    internal IReadOnlyList<(string Form, FactorPrecision Precision, int Rank, long Bytes, double SquaredError)> Candidates =>
        _measured.Select(c => (FormName(c.Recipe.Form), c.Recipe.Precision, c.Recipe.Rank, c.Bytes, c.SquaredError)).ToArray();

    /// <summary>
    /// The candidates as the joint plan search sees them (<see cref="JointPlanSearch"/>): bytes ascending, each with its
    /// kind (form, precision and group, without the rank: the same kind on every matrix is one single configuration)
    /// and its error as scored. Indices into this list are what <see cref="ChoiceFor"/> returns and
    /// <see cref="Make(int)"/> builds.
    /// </summary>
    internal IReadOnlyList<AutoChoice> Choices => Ordered().Choices;

    /// <summary>The choice of least error within <paramref name="budgetBytes"/>; the smallest one when none fits.</summary>
    internal int ChoiceFor(long budgetBytes)
    {
        var choices = Choices;
        var best = 0;
        for (var i = 1; i < choices.Count; i++)
        {
            var within = choices[i].Bytes <= budgetBytes;
            if (within && (choices[best].Bytes > budgetBytes || choices[i].Error < choices[best].Error))
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>Builds choice <paramref name="choice"/> of <see cref="Choices"/>, at its precision, in W's basis.</summary>
    internal CompressedMatrix Make(int choice) => Make(Ordered().Recipes[choice]);

    /// <summary>The measured candidates bytes ascending (then error), as <see cref="Choices"/> and their recipes.</summary>
    private (AutoChoice[] Choices, Recipe[] Recipes) Ordered()
    {
        if (_ordered is null)
        {
            var sorted = _measured.OrderBy(c => c.Bytes).ThenBy(c => c.SquaredError).ToArray();
            _ordered = (sorted.Select(c => new AutoChoice(Kind(c.Recipe), c.Bytes, c.SquaredError)).ToArray(), sorted.Select(c => c.Recipe).ToArray());
        }

        return _ordered.Value;
    }

    private (AutoChoice[] Choices, Recipe[] Recipes)? _ordered;

    private static string FormName(Form form) => form switch
    {
        Form.Whole => "dense",
        Form.LowRank => "lowrank",
        _ => "lowrank plain",
    };

    private static string Kind(Recipe recipe)
    {
        var precision = LowBitPrecision.IsLowBit(recipe.Precision)
            ? Grid(recipe.Precision, recipe.Group).ToString()
            : recipe.Precision switch { FactorPrecision.Float32 => "fp32", FactorPrecision.Float16 => "fp16", _ => "int8" };
        return $"{FormName(recipe.Form)} {precision}";
    }

    /// <summary>
    /// The measured candidate of least error within the budget, or the largest rank that fits at each factor precision
    /// (measured now) when that is better; at least the smallest candidate.
    /// </summary>
    public override IReadOnlyList<CompressedMatrix> Build(long budgetBytes)
    {
        Candidate? best = null;
        foreach (var c in _measured)
        {
            if (c.Bytes <= budgetBytes && (best is null || c.SquaredError < best.Value.SquaredError || (c.SquaredError == best.Value.SquaredError && c.Bytes < best.Value.Bytes)))
            {
                best = c;
            }
        }

        // Ranks filled in here would be measured in the matrix's own error, not comparable with output scores.
        foreach (var precision in _scoredOnOutput ? [] : FactorPrecisions)
        {
            var rank = LargestRank(precision, budgetBytes);
            var recipe = LowRankRecipe(Form.LowRank, precision, rank);
            if (rank == 0 || _measured.Any(c => c.Recipe == recipe))
            {
                continue;
            }

            var filled = precision == FactorPrecision.Float32
                ? new Candidate(recipe, BytesAt(precision, rank), _subspace.SquaredError(rank))
                : Measure(recipe);
            if (filled is { } f && f.Bytes <= budgetBytes && (best is null || f.SquaredError < best.Value.SquaredError))
            {
                best = f;
            }
        }

        best ??= _measured.Where(c => c.Bytes == MinimumBytes).OrderBy(c => c.SquaredError).First();
        return [Make(best.Value.Recipe)];
    }

    /// <summary>The forms are built in W's own basis and stored at their precision: nothing to map back.</summary>
    internal override IReadOnlyList<CompressedMatrix> BuildMapped(long budgetBytes) => Build(budgetBytes);

    /// <summary>Most candidates per matrix scored on the model's output (besides the whole-matrix ones and the smallest).</summary>
    internal const int MaxOutputScored = 24;

    /// <summary>
    /// Re-scores the candidates by the model's output change with only this matrix replaced
    /// (<paramref name="divergence"/> of the rebuilt dense matrix), and keeps only those so scored. Scored are: every
    /// whole-matrix candidate, the smallest candidate (so the planner's reach is unchanged), and the low-rank ones on or
    /// near (squared error within 1.5x) the lower convex hull of bytes against matrix error, at most two per
    /// half-octave of bytes and <see cref="MaxOutputScored"/> in all, the hull's own points first. Candidates that
    /// make the output non-finite are dropped.
    /// </summary>
    internal void ScoreOnOutput(Func<float[], double> divergence, Action<int, int>? progress = null)
    {
        var chosen = SelectForOutput();
        var scored = new List<Candidate>();
        for (var i = 0; i < chosen.Count; i++)
        {
            _cancel.ThrowIfCancellationRequested();
            progress?.Invoke(i, chosen.Count);
            var d = divergence(Make(chosen[i].Recipe).ToDense());
            if (double.IsFinite(d))
            {
                scored.Add(chosen[i] with { SquaredError = d });
            }
        }

        progress?.Invoke(chosen.Count, chosen.Count);
        if (scored.Count == 0)
        {
            return;
        }

        _measured.Clear();
        _measured.AddRange(scored);
        _ordered = null;
        _ladder = Monotone(_measured.Select(c => new FitPoint(c.Bytes, c.SquaredError)));
        _scoredOnOutput = true;
    }

    /// <summary>The candidates <see cref="ScoreOnOutput"/> runs the model for, bytes ascending.</summary>
    private List<Candidate> SelectForOutput()
    {
        var dense = Group.DenseBytes;
        var points = _measured.Where(c => c.Bytes < dense).OrderBy(c => c.Bytes).ThenBy(c => c.SquaredError).ToList();
        var hull = new List<(double Bytes, double Error)>();
        foreach (var p in points.Select(c => ((double)c.Bytes, c.SquaredError)).Append(((double)dense, 0.0)))
        {
            while (hull.Count >= 2)
            {
                var (a, b) = (hull[^2], hull[^1]);
                if ((b.Bytes - a.Bytes) * (p.Item2 - a.Error) - (b.Error - a.Error) * (p.Item1 - a.Bytes) <= 0)
                {
                    hull.RemoveAt(hull.Count - 1);
                }
                else
                {
                    break;
                }
            }

            if (hull.Count == 0 || p.Item1 > hull[^1].Bytes)
            {
                hull.Add(p);
            }
        }

        double HullAt(double bytes)
        {
            for (var i = 1; i < hull.Count; i++)
            {
                if (bytes <= hull[i].Bytes)
                {
                    var t = (bytes - hull[i - 1].Bytes) / Math.Max(1e-300, hull[i].Bytes - hull[i - 1].Bytes);
                    return hull[i - 1].Error + t * (hull[i].Error - hull[i - 1].Error);
                }
            }

            return 0;
        }

        var onHull = new HashSet<(double, double)>(hull);
        var smallest = points.Count == 0 ? (Candidate?)null : points[0];
        var chosen = points.Where(c => c.Recipe.Form == Form.Whole || c == smallest).ToList();
        // Low-rank candidates by closeness to the hull (on it: 1), two per half-octave of bytes.
        var near = points.Where(c => !chosen.Contains(c))
            .Select(c => (c, Closeness: onHull.Contains((c.Bytes, c.SquaredError)) ? 1 : c.SquaredError / Math.Max(1e-300, HullAt(c.Bytes))))
            .Where(p => p.Closeness <= 1.5)
            .GroupBy(p => (int)Math.Floor(2 * Math.Log2((double)dense / p.c.Bytes)))
            .SelectMany(g => g.OrderBy(p => p.Closeness).ThenBy(p => p.c.Bytes).Take(2))
            .OrderBy(p => p.Closeness).ThenBy(p => p.c.Bytes)
            .Take(MaxOutputScored)
            .Select(p => p.c);
        chosen.AddRange(near);
        return chosen.Distinct().OrderBy(c => c.Bytes).ThenBy(c => c.SquaredError).ToList();
    }

    /// <summary>Ranks from full down to 1, <see cref="RanksPerOctave"/> per halving.</summary>
    internal static int[] Ranks(int full)
    {
        var ranks = new SortedSet<int>();
        for (var k = 0; ; k++)
        {
            var rank = (int)Math.Round(full * Math.Pow(2, -(double)k / RanksPerOctave));
            if (rank < 1)
            {
                break;
            }

            ranks.Add(rank);
            if (rank == 1)
            {
                break;
            }
        }

        return ranks.ToArray();
    }

    /// <summary>Stored bytes of rank-<paramref name="rank"/> factors at <paramref name="precision"/> (as <see cref="CompressedMatrix.StorageBytes"/> counts them).</summary>
    private long BytesAt(FactorPrecision precision, int rank)
    {
        long rows = Group.Rows, columns = Group.Columns;
        return precision switch
        {
            FactorPrecision.Float32 => rank * (rows + columns) * sizeof(float),
            FactorPrecision.Int8 => rank * (rows + columns) + (rows + rank) * sizeof(float),
            _ => Grid(precision, _options.GroupSize).StoredBytes(Group.Rows, rank) + Grid(precision, _options.GroupSize).StoredBytes(rank, Group.Columns),
        };
    }

    /// <summary>The largest rank whose factors at <paramref name="precision"/> fit <paramref name="budget"/> bytes; 0 if none.</summary>
    private int LargestRank(FactorPrecision precision, long budget)
    {
        int low = 0, high = _fullRank;
        while (low < high)
        {
            var mid = (low + high + 1) / 2;
            if (BytesAt(precision, mid) <= budget)
            {
                low = mid;
            }
            else
            {
                high = mid - 1;
            }
        }

        return low;
    }

    private static LowBitGrid Grid(FactorPrecision precision, int groupSize) => LowBitPrecision.Grid(precision, groupSize);

    /// <summary>Builds one candidate at its precision, in W's basis.</summary>
    private CompressedMatrix Make(Recipe recipe)
    {
        var (rows, columns) = (Group.Rows, Group.Columns);
        CompressedMatrix form;
        if (recipe.Form == Form.Whole)
        {
            form = new DenseMatrix(_original, rows, columns);
        }
        else
        {
            var rank = recipe.Rank;
            var (fullLeft, fullRight) = recipe.Form == Form.LowRank ? (_left, _right) : (_plainLeft!, _plainRight!);
            var left = new float[(long)rows * rank];
            for (var i = 0; i < rows; i++)
            {
                Array.Copy(fullLeft, (long)i * _fullRank, left, (long)i * rank, rank);
            }

            form = new LowRankMatrix(left, fullRight[..(rank * columns)], rows, columns, rank);
            if (LowBitPrecision.IsLowBit(recipe.Precision))
            {
                var grid = Grid(recipe.Precision, recipe.Group);
                return LowRankRefit.QuantizeInTurn((LowRankMatrix)form, _original, _moment, _gptqMoment, (factor, moment) => Quantize(factor, moment, grid));
            }
        }

        return recipe.Precision switch
        {
            FactorPrecision.Float32 => form,
            FactorPrecision.Float16 => form.ToHalfPrecision([]),
            FactorPrecision.Int8 => form.ToInt8Precision([]),
            _ => form.ToLowBitPrecision(Grid(recipe.Precision, recipe.Group), (factor, moment) => Quantize(factor, moment, Grid(recipe.Precision, recipe.Group)), _gptqMoment, []),
        };
    }

    private GroupQuantizedValues Quantize(MatrixFactor factor, double[]? moment, LowBitGrid grid)
    {
        _cancel.ThrowIfCancellationRequested();
        return LowBitPrecision.Quantize(factor, moment, grid);
    }

    /// <summary>Builds and measures one candidate; null when it rebuilds to non-finite values (float16 scales overflow).</summary>
    private Candidate? Measure(Recipe recipe)
    {
        _cancel.ThrowIfCancellationRequested();
        var form = Make(recipe);
        var error = SquaredError(form);
        return double.IsFinite(error) ? new Candidate(recipe, form.StorageBytes, error) : null;
    }

    /// <summary>‖(W − Ŵ)·T‖²_F in the group's basis (T = I without a transform).</summary>
    /// <remarks>T = 2^e·T₀ is applied as T₀ and the power of two afterwards, so that neither overflows float.</remarks>
    private double SquaredError(CompressedMatrix form)
    {
        var (rows, columns) = (Group.Rows, Group.Columns);
        float[] residual;
        var exponent = 0;
        if (form is LowRankMatrix lowRank)
        {
            // (W − U·V)·T = W·T − U·(V·T): the rank-sized product first.
            var rank = lowRank.Rank;
            var right = lowRank.RightValues;
            if (_transform is not null)
            {
                var applied = new float[right.Length];
                MatrixMultiply.Multiply(right, rank, columns, _transform, columns, applied, accumulate: false);
                TensorPrimitives.Multiply(applied, (float)Math.ScaleB(1.0, _transformExponent), applied);
                right = applied;
            }

            residual = new float[(long)rows * columns];
            MatrixMultiply.Multiply(lowRank.LeftValues, rows, rank, right, columns, residual, accumulate: false);
            TensorPrimitives.Subtract(Group.Values, residual, residual);
        }
        else
        {
            var delta = new float[(long)rows * columns];
            TensorPrimitives.Subtract(_original, form.ToDense(), delta);
            if (_transform is null)
            {
                residual = delta;
            }
            else
            {
                residual = new float[delta.Length];
                MatrixMultiply.Multiply(delta, rows, columns, _transform, columns, residual, accumulate: false);
                exponent = _transformExponent;
            }
        }

        double sum = 0;
        foreach (var v in residual)
        {
            sum += (double)v * v;
        }

        return Math.ScaleB(sum, 2 * exponent);
    }

    /// <summary>A low-rank candidate's recipe: the factors' group is <see cref="CompressionOptions.GroupSize"/> where they are low-bit, else none.</summary>
    private Recipe LowRankRecipe(Form form, FactorPrecision precision, int rank) =>
        new(form, precision, rank, LowBitPrecision.IsLowBit(precision) ? _options.GroupSize : 0);

    /// <summary>One candidate: its form, precision, rank (low rank only) and values per group (low bit only; 0: the default).</summary>
    private readonly record struct Recipe(Form Form, FactorPrecision Precision, int Rank, int Group);

    private readonly record struct Candidate(Recipe Recipe, long Bytes, double SquaredError);
}

/// <summary>One of the auto method's candidates for a matrix, as the joint plan search sees it.</summary>
/// <param name="Kind">Form, precision and group without the rank, e.g. <c>dense ternary g64</c> or <c>lowrank int8</c>.</param>
/// <param name="Bytes">Its stored bytes.</param>
/// <param name="Error">Its error as scored (matrix error or output divergence with only this matrix changed).</param>
internal readonly record struct AutoChoice(string Kind, long Bytes, double Error);
