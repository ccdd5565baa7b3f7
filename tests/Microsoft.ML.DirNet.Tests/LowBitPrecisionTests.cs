using System.Text.Json;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Export;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Precision as an axis of every stored form (issue 19): every method's value arrays at int4, int3, int2 and ternary
/// per group, and the quant method (every matrix whole at that precision). The file holds the reported bytes, packed,
/// and is rebuilt by standard ops that ONNX Runtime runs as the native engine runs the read-back factors.
/// </summary>
public sealed class LowBitPrecisionTests
{
    private static readonly string[] Methods = ["quant", "dirnet", "hmd", "lowrank", "prune", "odl"];

    /// <summary>The low-bit precisions by name, fewest bits last.</summary>
    private static readonly string[] Precisions = ["int4", "int3", "int2", "ternary"];

    public static IEnumerable<object[]> MethodsByPrecision() =>
        from method in Methods
        from precision in Precisions
        select new object[] { "lm_embedding_lstm_linear", method, precision, 0 };

    // The quant method on every recurrent fixture (GRU, RNN, bidirectional, multi-layer), at odd group sizes too.
    public static IEnumerable<object[]> QuantOnEveryCell() =>
        from fixture in new[] { "lstm_1layer", "gru_bidirectional", "lstm_3layer_batch_first", "lstm_2layer_bidirectional", "rnn_tanh", "rnn_relu", "asr_bigru_ctc" }
        from setting in new[] { ("int4", 32), ("int3", 0), ("ternary", 64) }
        select new object[] { fixture, "quant", setting.Item1, setting.Item2 };

    // Every structured form on the other cells too: GRU and bidirectional stacks, and the 2-layer RNN whose layer-1 R and
    // layer-2 W share one DirNet dictionary (too small for LSTM-ODL's 16-atom minimum).
    public static IEnumerable<object[]> FormsOnEveryCell() =>
        from fixture in new[] { "gru_bidirectional", "lstm_2layer_bidirectional", "asr_bigru_ctc", "rnn_tanh" }
        from method in new[] { "dirnet", "hmd", "lowrank", "prune", "odl" }
        where !(fixture == "rnn_tanh" && method == "odl")
        select new object[] { fixture, method, fixture == "rnn_tanh" ? "int2" : "int3", 0 };

    private static OnnxModel Load(string fixture) => OnnxModel.Load(Path.Combine(TestPaths.Fixtures, fixture, "model.onnx"));

    private static CompressionOptions Options(string method, string precision, int group = 0) => new()
    {
        KeepDenseWhereItDoesNotPay = false, Method = MethodRegistry.Named(method)!.Method, Ratio = method == "quant" ? 8 : 1.5, Scope = CompressionScope.Recurrent,
        Precision = StoredMatrix.Precisions[precision], GroupSize = group,
    };

    [Theory]
    [MemberData(nameof(MethodsByPrecision))]
    [MemberData(nameof(QuantOnEveryCell))]
    [MemberData(nameof(FormsOnEveryCell))]
    public void EveryFormAtEveryLowBitPrecisionStoresTheReportedBytesAndRunsTheSameInBothEngines(string fixture, string method, string precision, int group)
    {
        var model = Load(fixture);
        var options = Options(method, precision, group);
        var result = RnnCompressor.Compress(model, options);
        var grid = LowBitPrecision.Grid(options.Precision, group);
        foreach (var weight in result.Weights)
        {
            var matrix = weight.Matrix;
            Assert.Equal(options.Precision, matrix.Precision);
            Assert.Equal(grid.GroupSize, matrix.GroupSize);
            // Each value array is three: packed levels, float16 scales per group, packed zero points (none for ternary).
            foreach (var (name, shape) in matrix.LowBitShapes)
            {
                var (rows, columns) = CompressedMatrix.LowBitLayout(shape);
                var factors = matrix.Factors.ToDictionary(f => f.Name, f => f.Tensor);
                Assert.Equal(TensorElementType.UInt8, factors[name].ElementType);
                Assert.Equal(LevelPacking.PackedBytes((long)rows * columns, grid), factors[name].Length);
                Assert.Equal([rows, grid.GroupsPerRow(columns)], factors[$"{name}_scale"].Shape);
                Assert.Equal(TensorElementType.Float16, factors[$"{name}_scale"].ElementType);
                Assert.Equal(grid.HasZeroPoints, factors.ContainsKey($"{name}_zero"));
            }

            Assert.Equal(matrix.Factors.Sum(f => f.Tensor.ByteCount), matrix.StorageBytes);
            if (method == "quant")
            {
                Assert.IsType<DenseMatrix>(matrix);
                Assert.Equal(grid.StoredBytes(matrix.Rows, matrix.Columns), matrix.StorageBytes);
            }
        }

        var file = CompressedExportTests.AssertEnginesAgreeOnTheFile(result, fixture);

        // Bytes reported = bytes written: the factor initializers in the file are exactly the matrices' storage.
        var factorBytes = file.Graph.InitializerNames.Where(n => n.StartsWith("dirnet/", StringComparison.Ordinal)).Sum(file.Graph.GetInitializerBytes);
        Assert.Equal(result.Weights.Sum(w => w.Matrix.StorageBytes), factorBytes);
        // Beyond the stored bytes: the metadata and the rebuild graph, about two dozen small nodes per matrix (a sparse
        // one's scatter) and per low-bit array: a fixed cost that is a few KB on a real model, and most of these tiny
        // fixtures.
        var written = result.ToCompressedModel().ToBytes().LongLength;
        var pieces = result.Weights.Sum(w => w.Matrix.LowBitShapes.Count + 1);
        Assert.InRange(written, result.FileBytesAfter, result.FileBytesAfter * 1.05 + 8192 + 3072 * pieces);

        // Read back: the very stored tensors, and the same dense matrices.
        var read = CompressedOnnxReader.Read(file)!;
        foreach (var initializer in read.Initializers)
        {
            for (var d = 0; d < initializer.Matrices.Length; d++)
            {
                Assert.Equal(options.Precision, initializer.Matrices[d].Precision);
                foreach (var factor in initializer.Matrices[d].Factors.Where(f => f.Tensor.Length > 0))
                {
                    var name = CompressionMetadata.FactorPrefix(initializer.Entry.Name, d) + factor.Name;
                    Assert.True(TensorComparer.MaxAbsoluteDifference(factor.Tensor, file.Graph.GetInitializer(name)) == 0, name);
                }
            }
        }

        // Deterministic, and a compressed file is not compressed again.
        Assert.Equal(result.ToCompressedModel().ToBytes(), RnnCompressor.Compress(model, options).ToCompressedModel().ToBytes());
        var again = Assert.Throws<DirNetException>(() => RnnCompressor.Compress(file, options));
        Assert.Contains("already compressed", again.Message);
    }

    [Fact]
    public void QuantStoresEveryMatrixWholeAndFewerBitsGiveLargerRatiosAndLargerErrors()
    {
        var model = Load("lm_embedding_lstm_linear");
        var results = Precisions.Select(p => RnnCompressor.Compress(model, Options("quant", p))).ToArray();
        Assert.All(results, r => Assert.All(r.Weights, w => Assert.IsType<DenseMatrix>(w.Matrix)));
        for (var i = 1; i < results.Length; i++)
        {
            Assert.True(results[i].MatrixRatio > results[i - 1].MatrixRatio, $"{Precisions[i]} ratio {results[i].MatrixRatio}");
            Assert.True(results[i].RelativeError > results[i - 1].RelativeError, $"{Precisions[i]} error {results[i].RelativeError}");
        }

        // int4 at groups of 128 costs 4 bits a value and 2.5 bytes per group: about 7x on these small rows.
        Assert.InRange(results[0].MatrixRatio, 6, 8);
        Assert.InRange(results[0].RelativeError, 0.01, 0.2);
    }

    [Fact]
    public void GptqLowersTheOutputErrorOnTheCalibrationInputsBelowRoundToNearest()
    {
        var model = Load("lm_embedding_lstm_linear");
        var inputs = TensorFile.ReadSeries(Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear", "test_data_set_0"), "input");
        var calibration = CalibrationStatistics.Capture(model, [inputs]);
        var options = Options("quant", "int2") with { Calibration = calibration };
        var rtn = RnnCompressor.Compress(model, options);
        var gptq = RnnCompressor.Compress(model, options with { Quantizer = Quantizer.Gptq });

        // ‖(W − Ŵ)·X‖² = tr((W − Ŵ)·C·(W − Ŵ)ᵀ), with C the moment of what each matrix multiplies.
        double OutputError(CompressionResult result) => result.Weights.Sum(w =>
        {
            var moment = calibration.Moment(w.Weight)!;
            var original = WeightLayout.Read(w.Weight, model.Graph.GetInitializer(w.Weight.Initializer).As<float>().Data);
            var error = original.Zip(w.Matrix.ToDense(), (a, b) => (double)a - b).ToArray();
            var columns = w.Matrix.Columns;
            var sum = 0.0;
            for (var r = 0; r < w.Matrix.Rows; r++)
            {
                for (var i = 0; i < columns; i++)
                {
                    for (var j = 0; j < columns; j++)
                    {
                        sum += error[r * columns + i] * moment[i * columns + j] * error[r * columns + j];
                    }
                }
            }

            return sum;
        });
        var (withRtn, withGptq) = (OutputError(rtn), OutputError(gptq));
        Assert.True(withGptq < 0.9 * withRtn, $"GPTQ {withGptq} against RTN {withRtn}");
        Assert.Equal(rtn.MatrixBytesAfter, gptq.MatrixBytesAfter);
        CompressedExportTests.AssertEnginesAgreeOnTheFile(gptq, "lm_embedding_lstm_linear");
    }

    [Fact]
    public void GptqAlsoQuantizesTheFactorsOfAStructuredForm()
    {
        var model = Load("lm_embedding_lstm_linear");
        var inputs = TensorFile.ReadSeries(Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear", "test_data_set_0"), "input");
        var options = Options("lowrank", "int2") with { Calibration = CalibrationStatistics.Capture(model, [inputs]) };
        var rtn = RnnCompressor.Compress(model, options);
        var gptq = RnnCompressor.Compress(model, options with { Quantizer = Quantizer.Gptq });
        Assert.Equal(rtn.Weights.Select(w => w.Matrix.Structure), gptq.Weights.Select(w => w.Matrix.Structure));
        Assert.NotEqual(rtn.ToCompressedModel().ToBytes(), gptq.ToCompressedModel().ToBytes());
        CompressedExportTests.AssertEnginesAgreeOnTheFile(gptq, "lm_embedding_lstm_linear");
    }

    [Theory]
    [InlineData(CompressionMethod.Quant, FactorPrecision.Float32, 0, Quantizer.RoundToNearest, "choose the precision")]
    [InlineData(CompressionMethod.LowRank, FactorPrecision.Int8, 64, Quantizer.RoundToNearest, "not to Int8")]
    [InlineData(CompressionMethod.LowRank, FactorPrecision.Float16, 0, Quantizer.Gptq, "not to Float16")]
    [InlineData(CompressionMethod.Quant, FactorPrecision.Int4, 48, Quantizer.RoundToNearest, "Group size 48")]
    [InlineData(CompressionMethod.Quant, FactorPrecision.Int3, 0, Quantizer.Gptq, "needs calibration inputs")]
    public void ImpossiblePrecisionOptionsAreRefusedByName(CompressionMethod method, FactorPrecision precision, int group, Quantizer quantizer, string expected)
    {
        var options = new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = method, Precision = precision, GroupSize = group, Quantizer = quantizer, Ratio = 2, Scope = CompressionScope.Recurrent };
        var error = Assert.Throws<DirNetException>(() => RnnCompressor.Compress(Load("lstm_1layer"), options));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void AFileWithBrokenLowBitFactorsIsRefusedWithTheFactorNamed()
    {
        var result = RnnCompressor.Compress(Load("lstm_1layer"), Options("quant", "ternary"));
        var file = result.ToCompressedModel();

        // A byte past 242 is not five base-3 levels.
        var levels = file.Graph.InitializerNames.First(n => n.EndsWith("/weight", StringComparison.Ordinal));
        var proto = file.Proto.Clone();
        proto.Graph.Initializer.First(t => t.Name == levels).RawData = Google.Protobuf.ByteString.CopyFrom(
            Enumerable.Repeat((byte)250, (int)file.Graph.GetInitializer(levels).Length).ToArray());
        var error = Assert.ThrowsAny<DirNetException>(() => CompressedOnnxReader.Read(OnnxModel.FromProto(proto, "bad.onnx")));
        Assert.Contains("ternary", error.Message);
        Assert.Contains(levels, error.Message);

        // Metadata without the arrays' shapes cannot be read.
        var metadata = CompressionMetadata.TryParse(file.Metadata[CompressionMetadata.Key])!;
        var stripped = metadata with { Initializers = metadata.Initializers.Select(i => i with { Matrices = i.Matrices.Select(m => m with { Shapes = null }).ToArray() }).ToArray() };
        var noShapes = file.Proto.Clone();
        noShapes.MetadataProps.First(p => p.Key == CompressionMetadata.Key).Value = stripped.ToJson();
        var missing = Assert.ThrowsAny<DirNetException>(() => CompressedOnnxReader.Read(OnnxModel.FromProto(noShapes, "bad.onnx")));
        Assert.Contains("array shapes", missing.Message);
    }

    [Fact]
    public void TheCommandLineQuantizesAndRefusesARatioTheBitsDoNotReach()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var model = Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear", "model.onnx");
        var output = Path.Combine(folder, "q.onnx");
        var (code, stdout, stderr) = CliTests.Dirnet("compress", model, "-o", output, "--method", "quant", "--precision", "int3", "--group", "32", "--scope", "recurrent", "--compress-small", "--json");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal("int3", json.RootElement.GetProperty("precision").GetString());
        Assert.Equal(32, json.RootElement.GetProperty("group").GetInt32());
        Assert.Equal("rtn", json.RootElement.GetProperty("quantizer").GetString());
        Assert.All(json.RootElement.GetProperty("matrices").EnumerateArray(), m => Assert.Equal("int3", m.GetProperty("precision").GetString()));
        Assert.Equal(new FileInfo(output).Length, json.RootElement.GetProperty("output_bytes").GetInt64());

        var tooFar = Path.Combine(folder, "far.onnx");
        (code, _, stderr) = CliTests.Dirnet("compress", model, "-o", tooFar, "--method", "quant", "--precision", "int4", "--ratio", "20", "--scope", "recurrent", "--compress-small");
        Assert.NotEqual(0, code);
        Assert.Contains("out of reach for quant at int4", stderr);
        Assert.False(File.Exists(tooFar));
    }
}
