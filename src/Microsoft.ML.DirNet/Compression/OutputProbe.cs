using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Measures how far the model's first output moves when one matrix is replaced by an approximation, on a few input
/// sets: Σ‖y − ŷ‖², or the Kullback–Leibler divergence of the softmax over the last axis (<see cref="AutoScoring"/>).
/// It keeps one copy of the model, puts the candidate's rebuilt matrix into that copy's initializer (its slice of it,
/// in its stored layout, as <see cref="CompressionResult.ToDenseModel"/> does), loads it on the engine, runs the sets,
/// and puts the original back. Not thread-safe: one candidate at a time.
/// </summary>
internal sealed class OutputProbe
{
    private readonly OnnxModel _copy;
    private readonly IOnnxEngine _engine;
    private readonly IReadOnlyList<Tensor[]> _sets;
    private readonly AutoScoring _scoring;
    private readonly float[][] _reference;
    private readonly Dictionary<string, Tensor<float>> _originals = [];

    /// <summary>Per probe set, the length of the first output's last axis (the softmax's width for KL).</summary>
    private readonly List<int> _lastAxis = [];

    public OutputProbe(OnnxModel model, IOnnxEngine engine, IReadOnlyList<Tensor[]> sets, AutoScoring scoring)
    {
        if (sets.Count == 0)
        {
            throw new DirNetException("Scoring the auto method's candidates on the model's output needs calibration input sets; none were kept.");
        }

        _copy = OnnxModel.Parse(model.ToBytes(), model.SourceName);
        _engine = engine;
        _sets = sets;
        _scoring = scoring;
        _reference = Run();
        if (_reference.Any(r => !Array.TrueForAll(r, float.IsFinite)))
        {
            throw new DirNetException($"{model.SourceName}: the model's first output is not finite on the calibration inputs; its candidates cannot be scored on it.");
        }
    }

    /// <summary>Model runs so far (one per set per candidate, and the reference).</summary>
    public int Runs { get; private set; }

    /// <summary>
    /// The output divergence with <paramref name="weight"/> replaced by <paramref name="dense"/> [rows × columns];
    /// +∞ when the changed model's output is not finite.
    /// </summary>
    public double Divergence(CompressibleWeight weight, float[] dense) => Divergence([(weight, dense)]);

    /// <summary>The output divergence with every one of <paramref name="replaced"/> changed at once (each [rows × columns]).</summary>
    public double Divergence(IReadOnlyList<(CompressibleWeight Weight, float[] Dense)> replaced)
    {
        // Matrices that share an initializer (directions, or gates split by the finder) are written into one copy of it.
        var changed = new Dictionary<string, float[]>();
        foreach (var (weight, dense) in replaced)
        {
            if (!changed.TryGetValue(weight.Initializer, out var data))
            {
                data = (float[])Original(weight.Initializer).Data.Clone();
                changed[weight.Initializer] = data;
            }

            WeightLayout.Write(weight, dense, data);
        }

        foreach (var (name, data) in changed)
        {
            _copy.ReplaceInitializer(name, new Tensor<float>(Original(name).Shape, data));
        }

        try
        {
            var outputs = Run();
            double sum = 0;
            for (var s = 0; s < outputs.Length; s++)
            {
                sum += _scoring == AutoScoring.OutputKullbackLeibler
                    ? KullbackLeibler(_reference[s], outputs[s], _lastAxis[s])
                    : SquaredDistance(_reference[s], outputs[s]);
            }

            return double.IsFinite(sum) ? sum : double.PositiveInfinity;
        }
        finally
        {
            foreach (var name in changed.Keys)
            {
                _copy.ReplaceInitializer(name, Original(name));
            }
        }
    }

    private Tensor<float> Original(string initializer)
    {
        if (!_originals.TryGetValue(initializer, out var original))
        {
            original = _copy.Graph.GetInitializer(initializer).As<float>();
            _originals[initializer] = original;
        }

        return original;
    }

    private float[][] Run()
    {
        var runner = _engine.Load(_copy);
        var outputs = new float[_sets.Count][];
        for (var s = 0; s < _sets.Count; s++)
        {
            var output = runner.Run(_sets[s])[0].As<float>();
            if (_lastAxis.Count < _sets.Count)
            {
                _lastAxis.Add(output.Shape.Length == 0 ? 1 : (int)output.Shape[^1]);
            }

            outputs[s] = output.Data;
            Runs++;
        }

        return outputs;
    }

    private static double SquaredDistance(float[] y, float[] z)
    {
        if (y.Length != z.Length)
        {
            return double.PositiveInfinity;
        }

        double sum = 0;
        for (var i = 0; i < y.Length; i++)
        {
            double d = y[i] - z[i];
            sum += d * d;
        }

        return sum;
    }

    /// <summary>Σ over rows of the last axis of KL(softmax(y) ‖ softmax(z)).</summary>
    private static double KullbackLeibler(float[] y, float[] z, int width)
    {
        if (y.Length != z.Length || width <= 0)
        {
            return double.PositiveInfinity;
        }

        double sum = 0;
        for (var start = 0; start + width <= y.Length; start += width)
        {
            var a = y.AsSpan(start, width);
            var b = z.AsSpan(start, width);
            var (la, lb) = (LogSumExp(a), LogSumExp(b));
            for (var i = 0; i < width; i++)
            {
                var logP = a[i] - la;
                sum += Math.Exp(logP) * (logP - (b[i] - lb));
            }
        }

        return Math.Max(0, sum);
    }

    private static double LogSumExp(ReadOnlySpan<float> v)
    {
        double max = double.NegativeInfinity;
        foreach (var x in v)
        {
            max = Math.Max(max, x);
        }

        double sum = 0;
        foreach (var x in v)
        {
            sum += Math.Exp(x - max);
        }

        return max + Math.Log(sum);
    }
}
