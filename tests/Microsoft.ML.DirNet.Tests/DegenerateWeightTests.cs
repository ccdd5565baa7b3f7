using Google.Protobuf;
using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Weights;
using Xunit.Abstractions;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Degenerate weights, calibration data and targets (issue 18): every method at a few ratios, with and without
/// calibration, on small LSTM/GRU/RNN/MatMul models whose weights are all zero, all equal, one nonzero, huge (squares
/// overflow float), tiny, NaN or infinite. Each case either compresses to finite factors whose model loads and runs, or
/// throws a <see cref="DirNetException"/> naming what was wrong; nothing else may escape.
/// </summary>
public sealed class DegenerateWeightTests(ITestOutputHelper output)
{
    private static readonly CompressionMethod[] Methods = Enum.GetValues<CompressionMethod>();

    /// <summary>Fills a matrix of <paramref name="count"/> values in a degenerate pattern.</summary>
    private static float[] Fill(string pattern, int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            var sign = random.Next(2) == 0 ? -1f : 1f;
            values[i] = pattern switch
            {
                "zero" => 0f,
                "equal" => 0.25f,
                "single" => i == count / 2 ? 0.5f : 0f,
                "huge" => sign * (float)(1e38 + random.NextDouble() * 2e38),
                "large" => sign * (float)(1e30 * (1 + random.NextDouble())),
                "tiny" => sign * 1e-41f,
                "mixed" => i % 3 == 0 ? sign * 3e38f : sign * (float)random.NextDouble(),
                "nan" => i == count - 1 ? float.NaN : (float)random.NextDouble(),
                "inf" => i == 0 ? float.NegativeInfinity : (float)random.NextDouble(),
                _ => (float)(random.NextDouble() * 2 - 1),
            };
        }

        return values;
    }

    private static readonly string[] Patterns = ["zero", "equal", "single", "large", "huge", "tiny", "mixed", "nan", "inf"];

    /// <summary>A one-layer recurrent model whose W and R follow <paramref name="pattern"/>.</summary>
    private static OnnxModel Recurrent(RecurrentCellType cell, string pattern, int seed, int input = 6, int hidden = 12)
    {
        var model = SyntheticRecurrentModel.Create(cell, layers: 1, inputSize: input, hiddenSize: hidden, seed: seed);
        foreach (var name in new[] { "W0", "R0" })
        {
            var shape = model.Graph.GetInitializerInfo(name).Shape;
            model.ReplaceInitializer(name, new Tensor<float>(shape, Fill(pattern, TensorShape.ElementCount(shape), seed)));
        }

        return model;
    }

    /// <summary>X [batch, rows] · B [rows, columns] → output, B following <paramref name="pattern"/>.</summary>
    private static OnnxModel MatMul(string pattern, int rows, int columns, int seed, string nodeName = "matmul")
    {
        var graph = new GraphProto { Name = "matmul" };
        graph.Initializer.Add(TensorProtoConverter.ToProto("B", new Tensor<float>([rows, columns], Fill(pattern, rows * columns, seed))));
        var node = new NodeProto { Name = nodeName, OpType = "MatMul" };
        node.Input.Add(["X", "B"]);
        node.Output.Add("output");
        graph.Node.Add(node);
        graph.Input.Add(BatchGraphs.Value("X", rows));
        graph.Output.Add(BatchGraphs.Value("output", columns));
        return BatchGraphs.ToModel(graph);
    }

    private static IReadOnlyList<Tensor[]> Inputs(OnnxModel model, int sets = 2) =>
        Enumerable.Range(0, sets).Select(s => RandomInputs.Create(model, batch: 2, steps: 3, seed: 50 + s)).ToArray();

    /// <summary>
    /// Compresses and checks the outcome: finite factors and a compressed model that loads and runs, or a
    /// <see cref="DirNetException"/> whose message contains one of <paramref name="names"/> when given.
    /// Returns a line describing a violation, or null.
    /// </summary>
    private static string? Check(string label, OnnxModel model, CompressionOptions options, bool calibrate, params string[] names) =>
        Check(label, model, options, calibrate, null, names);

    private static string? Check(string label, OnnxModel model, CompressionOptions options, bool calibrate, List<string>? refusals, params string[] names)
    {
        try
        {
            if (calibrate)
            {
                options = options with { Calibration = CalibrationStatistics.Capture(model, Inputs(model)) };
            }

            var result = RnnCompressor.Compress(model, options);
            foreach (var weight in result.Weights)
            {
                var dense = weight.Matrix.ToDense();
                if (!dense.All(float.IsFinite))
                {
                    return $"{label}: {weight.Weight.DisplayName} compressed to non-finite values ({weight.Matrix.Method}, {weight.Matrix.Structure})";
                }

                if (!double.IsFinite(weight.RelativeError))
                {
                    return $"{label}: {weight.Weight.DisplayName} has relative error {weight.RelativeError}";
                }
            }

            var compressed = OnnxModel.Parse(result.ToCompressedModel().ToBytes(), "compressed.onnx");
            _ = new NativeModel(compressed).Run(Inputs(model, 1)[0]);
            return null;
        }
        catch (DirNetException e)
        {
            refusals?.Add($"{label}: {e.Message}");
            return names.Length == 0 || names.Any(n => e.Message.Contains(n, StringComparison.Ordinal))
                ? null
                : $"{label}: DirNetException that names none of [{string.Join(", ", names)}]: {e.Message}";
        }
        catch (Exception e)
        {
            return $"{label}: {e.GetType().Name}: {e.Message} {e.StackTrace?.Split('\n').FirstOrDefault(l => l.Contains("DirNet"))?.Trim()}";
        }
    }

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var pattern in Patterns)
        {
            foreach (var model in new[] { "Lstm", "Gru", "Rnn", "MatMul 1x1", "MatMul 1x16", "MatMul 16x1", "MatMul 24x40" })
            {
                data.Add(model, pattern);
            }
        }

        return data;
    }

    /// <summary>Every method at two ratios, with and without calibration, on one model with one weight pattern.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryMethodCompressesOrRefusesClearly(string kind, string pattern)
    {
        OnnxModel model;
        CompressionScope scope;
        if (kind.StartsWith("MatMul", StringComparison.Ordinal))
        {
            var size = kind["MatMul ".Length..].Split('x').Select(int.Parse).ToArray();
            model = MatMul(pattern, size[0], size[1], seed: 4);
            scope = CompressionScope.Model;
        }
        else
        {
            model = Recurrent(Enum.Parse<RecurrentCellType>(kind), pattern, seed: 3);
            scope = CompressionScope.Recurrent;
        }

        // NaN and ∞ weights are refused by name; the other patterns may also be refused (a target out of reach), but
        // only with a DirNetException.
        var names = pattern is "nan" or "inf" ? new[] { "'W0'", "'R0'", "'B'" } : [];
        var failures = new List<string>();
        var refusals = new List<string>();
        foreach (var method in Methods)
        {
            foreach (var ratio in new[] { 1.5, 4 })
            {
                foreach (var calibrate in new[] { false, true })
                {
                    // The quant method at 2 bits, by GPTQ where calibrated: constant, zero and huge groups go through both quantizers.
                    var options = new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = method, Ratio = ratio, Scope = scope, Seed = 1 };
                    if (method == CompressionMethod.Quant)
                    {
                        options = options with { Precision = FactorPrecision.Int2, Quantizer = calibrate ? Quantizer.Gptq : Quantizer.RoundToNearest };
                    }

                    var label = $"{kind} {pattern} {method} {ratio} calibrated={calibrate}";
                    var refused = refusals.Count;
                    if (Check(label, model, options, calibrate, refusals, names) is { } failure)
                    {
                        failures.Add(failure);
                    }
                    else if (refusals.Count > refused && MustCompress(kind, pattern, method, ratio))
                    {
                        failures.Add($"{label}: refused, but this matrix is trivially representable: {refusals[^1]}");
                    }
                }
            }
        }

        failures.ForEach(output.WriteLine);
        refusals.ForEach(r => output.WriteLine($"refused: {r}"));
        Assert.Empty(failures);
    }

    /// <summary>
    /// Cases that must compress, not just fail cleanly: a mild target on the recurrent models for weights that are
    /// zero, all equal, one non-zero, or far from 1 but well inside float's range (ODL's one k for every matrix
    /// cannot use a mild budget, so it may refuse; DirNet's smallest dictionary is too large for the RNN's 12 × 12).
    /// </summary>
    private static bool MustCompress(string kind, string pattern, CompressionMethod method, double ratio) =>
        !kind.StartsWith("MatMul", StringComparison.Ordinal) && ratio == 1.5 && method != CompressionMethod.Odl
        && !(kind == "Rnn" && method == CompressionMethod.DirNet) && pattern is "zero" or "equal" or "single" or "large" or "tiny";

    /// <summary>Each method's fit on tiny and degenerate matrices, straight through GroupFit (the planner's view).</summary>
    [Fact]
    public void GroupFitsHaveALadderAndBuildFiniteMatricesOnDegenerateShapes()
    {
        var failures = new List<string>();
        foreach (var (rows, columns) in new[] { (1, 1), (1, 7), (7, 1), (2, 2), (5, 3), (9, 16) })
        {
            foreach (var pattern in new[] { "zero", "equal", "single", "large", "huge", "tiny", "mixed", "random" })
            {
                var values = Fill(pattern, rows * columns, seed: rows * 31 + columns);
                var group = new MatrixGroup([(new CompressibleWeight("w", "node", "MatMul", WeightRole.MatMul, 0, rows, columns, rows * columns * 4L), values)]);
                var fits = new (string Name, Func<GroupFit> Create)[]
                {
                    ("dirnet", () => new DictionaryFit(group, new DictionaryOptions(), seed: 2)),
                    ("hmd", () => new HybridFit(group)),
                    ("lowrank", () => new LowRankFit(group)),
                    ("prune", () => new PruningFit(group)),
                    ("auto", () => new AutoFit(group, new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = CompressionMethod.Auto }, CancellationToken.None)),
                };
                foreach (var (name, create) in fits)
                {
                    var label = $"{name} {rows}x{columns} {pattern}";
                    try
                    {
                        var fit = create();
                        if (fit.Ladder.Count == 0 || fit.MinimumBytes <= 0 || fit.Ladder.Any(p => !double.IsFinite(p.SquaredError) || p.SquaredError < 0))
                        {
                            failures.Add($"{label}: ladder [{string.Join(", ", fit.Ladder)}]");
                            continue;
                        }

                        foreach (var budget in new[] { fit.MinimumBytes, (fit.MinimumBytes + group.DenseBytes) / 2, group.DenseBytes })
                        {
                            var matrix = Assert.Single(fit.BuildMapped(budget));
                            var dense = matrix.ToDense();
                            // Near float's limit ("huge", "mixed") an approximation may exceed it; Compress refuses
                            // those by name (EveryMethodCompressesOrRefusesClearly). Everything else rebuilds finite.
                            if (matrix.Rows != rows || matrix.Columns != columns || (pattern is not ("huge" or "mixed") && !dense.All(float.IsFinite)))
                            {
                                failures.Add($"{label}: at {budget} bytes a [{matrix.Rows} × {matrix.Columns}] {matrix.Structure} with finite values: {dense.All(float.IsFinite)}");
                            }
                            else if (pattern == "zero" && dense.Any(v => v != 0))
                            {
                                failures.Add($"{label}: a zero matrix rebuilt with non-zero values at {budget} bytes");
                            }
                        }
                    }
                    catch (Exception e)
                    {
                        failures.Add($"{label}: {e.GetType().Name}: {e.Message}");
                    }
                }
            }
        }

        failures.ForEach(output.WriteLine);
        Assert.Empty(failures);
    }

    /// <summary>The same fits in float16 and int8 precision: huge weights are refused by name (float16 holds at most 65,504).</summary>
    [Theory]
    [InlineData("zero")]
    [InlineData("tiny")]
    [InlineData("huge")]
    [InlineData("mixed")]
    public void ReducedPrecisionCompressesOrRefusesByName(string pattern)
    {
        var model = Recurrent(RecurrentCellType.Lstm, pattern, seed: 6);
        var failures = new List<string>();
        foreach (var method in Methods.Where(m => m != CompressionMethod.Int8))
        {
            foreach (var precision in new[] { FactorPrecision.Float16, FactorPrecision.Int8 })
            {
                var options = new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = method, Ratio = 3, Scope = CompressionScope.Recurrent, Precision = precision };
                if (Check($"{pattern} {method} {precision}", model, options, calibrate: false) is { } failure)
                {
                    failures.Add(failure);
                }
            }
        }

        failures.ForEach(output.WriteLine);
        Assert.Empty(failures);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteCalibrationInputsAreRefusedNamingTheInput(float bad)
    {
        foreach (var model in new[] { SyntheticRecurrentModel.Create(RecurrentCellType.Gru, 1, 3, 4, seed: 1), MatMul("random", 5, 6, seed: 1) })
        {
            var inputs = Inputs(model, 3);
            inputs[1][0].As<float>().Data[4] = bad;
            var error = Assert.ThrowsAny<DirNetException>(() => CalibrationStatistics.Capture(model, inputs));
            Assert.Contains("'X'", error.Message, StringComparison.Ordinal);
            Assert.Contains("set 1", error.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>Finite but extreme calibration data: every method either fits to it or refuses it with a DirNetException.</summary>
    [Theory]
    [InlineData(3e38f)]
    [InlineData(1e20f)]
    [InlineData(1e-30f)]
    [InlineData(0f)]
    public void ExtremeFiniteCalibrationInputsCompressOrAreRefusedClearly(float magnitude)
    {
        var failures = new List<string>();
        foreach (var model in new[] { Recurrent(RecurrentCellType.Lstm, "random", seed: 2), MatMul("random", 12, 20, seed: 2) })
        {
            var inputs = Inputs(model, 2);
            foreach (var set in inputs)
            {
                var x = set[0].As<float>().Data;
                for (var i = 0; i < x.Length; i++)
                {
                    x[i] = i % 2 == 0 ? magnitude : -magnitude * 0.5f;
                }
            }

            foreach (var method in Methods)
            {
                var scope = model.Graph.Nodes[0].OpType == "MatMul" ? CompressionScope.Model : CompressionScope.Recurrent;
                var label = $"{model.SourceName} {magnitude} {method}";
                try
                {
                    var statistics = CalibrationStatistics.Capture(model, inputs);
                    var result = RnnCompressor.Compress(model, new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = method, Ratio = 1.5, Scope = scope, Calibration = statistics });
                    if (!result.Weights.All(w => w.Matrix.ToDense().All(float.IsFinite)))
                    {
                        failures.Add($"{label}: non-finite factors");
                    }
                }
                catch (DirNetException)
                {
                }
                catch (Exception e)
                {
                    failures.Add($"{label}: {e.GetType().Name}: {e.Message}");
                }
            }
        }

        failures.ForEach(output.WriteLine);
        Assert.Empty(failures);
    }

    /// <summary>A two-layer model whose node names are all <paramref name="name"/> (ONNX allows empty and repeated names).</summary>
    private static OnnxModel Renamed(RecurrentCellType cell, string name)
    {
        var proto = ModelProto.Parser.ParseFrom(SyntheticRecurrentModel.Create(cell, layers: 2, inputSize: 3, hiddenSize: 5, seed: 8).ToBytes());
        foreach (var node in proto.Graph.Node)
        {
            node.Name = name;
        }

        return OnnxModel.Parse(proto.ToByteArray(), $"named '{name}'");
    }

    [Theory]
    [InlineData("")]
    [InlineData("same")]
    public void RepeatedOrEmptyNodeNamesCalibrateLikeUniqueOnes(string name)
    {
        foreach (var cell in Enum.GetValues<RecurrentCellType>())
        {
            var unique = SyntheticRecurrentModel.Create(cell, layers: 2, inputSize: 3, hiddenSize: 5, seed: 8);
            var renamed = Renamed(cell, name);
            var inputs = Inputs(unique, 2);
            var expected = CalibrationStatistics.Capture(unique, inputs);
            var actual = CalibrationStatistics.Capture(renamed, inputs);
            foreach (var (u, r) in WeightFinder.FindWeights(unique).Zip(WeightFinder.FindWeights(renamed)))
            {
                Assert.Equal(expected.VectorCount(u), actual.VectorCount(r));
                Assert.Equal(expected.Moment(u), actual.Moment(r));
            }

            foreach (var method in Methods)
            {
                var options = new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = method, Ratio = 1.4, Scope = CompressionScope.Recurrent, Seed = 3 };
                var failure = Check($"{cell} '{name}' {method}", renamed, options, calibrate: true);
                Assert.True(failure is null, failure);
            }

            // DirNet's shared projection pairs layer 0's R with layer 1's W by node, not by name: the same grouping,
            // so the same outcome (sizes and errors, or the same refusal) as with unique names.
            Assert.Equal(Outcome(unique, expected), Outcome(renamed, actual));
        }
    }

    private static string Outcome(OnnxModel model, CalibrationStatistics calibration)
    {
        try
        {
            var result = RnnCompressor.Compress(model, new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Ratio = 1.4, Scope = CompressionScope.Recurrent, Calibration = calibration });
            return string.Join("; ", result.Weights.Select(w => $"{w.Weight.Initializer}[{w.Weight.Direction}] {w.Matrix.Structure} {w.Matrix.StorageBytes} {w.RelativeError:R}"));
        }
        catch (DirNetException e)
        {
            return e.Message;
        }
    }

    public static TheoryData<CompressionMethod, double> ImpossibleTargets()
    {
        var data = new TheoryData<CompressionMethod, double>();
        foreach (var method in Methods)
        {
            foreach (var ratio in new[] { 1, 0.5, 0, -2, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1e6, double.MaxValue })
            {
                // The quant method's ratio follows from its bits: a large target is not used, so not refused (the CLI
                // checks a --ratio given with it; LowBitPrecisionTests).
                if (method != CompressionMethod.Quant || ratio <= 1 || !double.IsFinite(ratio))
                {
                    data.Add(method, ratio);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ImpossibleTargets))]
    public void ImpossibleTargetsAreRefusedNamingTheRatio(CompressionMethod method, double ratio)
    {
        foreach (var scope in new[] { CompressionScope.Recurrent, CompressionScope.Model })
        {
            var model = SyntheticRecurrentModel.Create(RecurrentCellType.Lstm, layers: 1, inputSize: 4, hiddenSize: 6, seed: 1);
            var error = Assert.ThrowsAny<DirNetException>(() => RnnCompressor.Compress(model, new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = method, Ratio = ratio, Scope = scope }));
            Assert.Contains("ratio", error.Message, StringComparison.OrdinalIgnoreCase);
        }
    }
}
