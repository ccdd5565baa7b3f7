using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Export;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The compressed ONNX (issue 6): ONNX Runtime loads it with and without graph optimisations and agrees with the
/// native engine on the same file, which runs the factors directly; the file holds what the report counts; edited or
/// re-compressed files are refused.
/// </summary>
public sealed class CompressedExportTests
{
    public static IEnumerable<object[]> Cases() =>
        (from fixture in new[] { "lm_embedding_lstm_linear", "gru_bidirectional", "lstm_3layer_batch_first", "lstm_2layer_bidirectional", "asr_bigru_ctc" }
         from method in new[] { "dirnet", "hmd", "lowrank", "prune", "odl" }
         select new object[] { fixture, method, 2.0 })
        // A 2-layer unidirectional stack of 16-unit cells: DirNet shares one dictionary between layer 1's R and layer
        // 2's W. Too small for LSTM-ODL's 16-atom minimum at any ratio above 1.
        .Concat(new[] { "dirnet", "hmd", "lowrank", "prune" }.Select(method => new object[] { "rnn_tanh", method, 1.5 }));

    private static readonly Dictionary<string, CompressionMethod> Methods = new()
    {
        ["dirnet"] = CompressionMethod.DirNet, ["hmd"] = CompressionMethod.Hmd, ["lowrank"] = CompressionMethod.LowRank,
        ["prune"] = CompressionMethod.Prune, ["odl"] = CompressionMethod.Odl,
    };

    private static (OnnxModel Source, CompressionResult Result) Compress(string fixture, string method, double ratio = 2)
    {
        var model = OnnxModel.Load(Path.Combine(TestPaths.Fixtures, fixture, "model.onnx"));
        var options = new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = Methods[method], Ratio = ratio, Scope = CompressionScope.Recurrent };
        return (model, RnnCompressor.Compress(model, options));
    }

    private static Tensor[] Inputs(string fixture) =>
        TensorFile.ReadSeries(Path.Combine(TestPaths.Fixtures, fixture, "test_data_set_0"), "input");

    [Theory]
    [MemberData(nameof(Cases))]
    public void OnnxRuntimeRunsTheCompressedFileAsTheNativeEngineDoes(string fixture, string method, double ratio)
    {
        var (_, result) = Compress(fixture, method, ratio);
        var compressed = OnnxModel.Parse(result.ToCompressedModel().ToBytes(), fixture + ".compressed.onnx");
        var inputs = Inputs(fixture);

        var native = new NativeModel(compressed);
        var nativeOutputs = native.Run(inputs);
        var rebuiltOutputs = new NativeModel(result.ToDenseModel()).Run(inputs);
        using var optimized = new OnnxRuntimeModel(compressed);
        using var plain = new OnnxRuntimeModel(compressed, optimize: false);
        var optimizedOutputs = optimized.Run(inputs);
        var plainOutputs = plain.Run(inputs);
        for (var k = 0; k < nativeOutputs.Length; k++)
        {
            Assert.True(TensorComparer.MaxAbsoluteDifference(nativeOutputs[k], optimizedOutputs[k]) <= 1e-4,
                $"output {k}: native factors vs ONNX Runtime {TensorComparer.MaxAbsoluteDifference(nativeOutputs[k], optimizedOutputs[k])}");
            Assert.True(TensorComparer.MaxAbsoluteDifference(nativeOutputs[k], plainOutputs[k]) <= 1e-4,
                $"output {k}: native factors vs ONNX Runtime without optimisations {TensorComparer.MaxAbsoluteDifference(nativeOutputs[k], plainOutputs[k])}");
            Assert.True(TensorComparer.MaxAbsoluteDifference(nativeOutputs[k], rebuiltOutputs[k]) <= 1e-4,
                $"output {k}: native factors vs native on the rebuilt dense weights {TensorComparer.MaxAbsoluteDifference(nativeOutputs[k], rebuiltOutputs[k])}");
        }

        // Every compressed initializer runs as its factors, never as a rebuilt dense matrix.
        var expectedForm = method switch { "dirnet" or "odl" => "dictionary", "hmd" => "hybrid", "lowrank" => "lowrank", _ => "sparse" };
        Assert.NotEmpty(native.CompressedWeights);
        Assert.All(native.CompressedWeights.Values, forms => Assert.All(forms, f => Assert.True(f == expectedForm || f == "dense", $"form {f}")));
        Assert.Contains(native.CompressedWeights.Values.SelectMany(f => f), f => f == expectedForm);
    }

    [Theory]
    [InlineData("dirnet")]
    [InlineData("hmd")]
    [InlineData("lowrank")]
    [InlineData("prune")]
    [InlineData("odl")]
    public void HalfPrecisionFactorsAreStoredAsFloat16AndRunTheSameInBothEngines(string method)
    {
        const string fixture = "lm_embedding_lstm_linear";
        var model = OnnxModel.Load(Path.Combine(TestPaths.Fixtures, fixture, "model.onnx"));
        var options = new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = Methods[method], Ratio = 2, Scope = CompressionScope.Recurrent };
        var full = RnnCompressor.Compress(model, options);
        var half = RnnCompressor.Compress(model, options with { Precision = FactorPrecision.Float16 });

        // Same structure, values rounded: every value factor is float16 and half the bytes; indices unchanged.
        foreach (var (f32, f16) in full.Weights.Zip(half.Weights))
        {
            Assert.Equal(f32.Matrix.Structure, f16.Matrix.Structure);
            Assert.True(f16.Matrix.HalfPrecision);
            foreach (var (a, b) in f32.Matrix.Factors.Zip(f16.Matrix.Factors))
            {
                Assert.Equal(a.Tensor.ElementType == TensorElementType.Float ? TensorElementType.Float16 : a.Tensor.ElementType, b.Tensor.ElementType);
                Assert.Equal(a.Tensor.ElementType == TensorElementType.Float ? a.Tensor.ByteCount / 2 : a.Tensor.ByteCount, b.Tensor.ByteCount);
            }

            var rebuilt = f16.Matrix.ToDense();
            var exact = f32.Matrix.ToDense();
            var scale = exact.Max(MathF.Abs);
            Assert.All(rebuilt.Zip(exact), p => Assert.True(MathF.Abs(p.First - p.Second) <= 2e-3f * scale + 1e-6f));
        }

        Assert.True(half.MatrixBytesAfter < full.MatrixBytesAfter);
        AssertEnginesAgreeOnTheFile(half, fixture);
    }

    [Theory]
    [InlineData("dirnet")]
    [InlineData("hmd")]
    [InlineData("lowrank")]
    [InlineData("prune")]
    [InlineData("odl")]
    public void Int8FactorsAreStoredWithRowScalesReadBackExactlyAndRunTheSameInBothEngines(string method)
    {
        const string fixture = "lm_embedding_lstm_linear";
        var model = OnnxModel.Load(Path.Combine(TestPaths.Fixtures, fixture, "model.onnx"));
        var options = new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = Methods[method], Ratio = 2, Scope = CompressionScope.Recurrent };
        var full = RnnCompressor.Compress(model, options);
        var int8 = RnnCompressor.Compress(model, options with { Precision = FactorPrecision.Int8 });

        // Same structure; each value factor becomes int8 levels of the same shape followed by float scales [rows × 1].
        foreach (var (f32, f8) in full.Weights.Zip(int8.Weights))
        {
            Assert.Equal(f32.Matrix.Structure, f8.Matrix.Structure);
            Assert.Equal(FactorPrecision.Int8, f8.Matrix.Precision);
            var expected = f32.Matrix.Factors.SelectMany(f => f.Tensor is Tensor<float> t
                ? new[] { (f.Name, TensorElementType.Int8, t.Shape), ($"{f.Name}_scale", TensorElementType.Float, [t.Rank == 2 ? t.Shape[0] : f8.Matrix.Rows, 1]) }
                : [(f.Name, f.Tensor.ElementType, f.Tensor.Shape)]);
            Assert.Equal(expected.Select(e => $"{e.Item1} {e.Item2} {TensorShape.Format(e.Item3)}"),
                f8.Matrix.Factors.Select(f => $"{f.Name} {f.Tensor.ElementType} {TensorShape.Format(f.Tensor.Shape)}"));

            var exact = f32.Matrix.ToDense();
            var error = Math.Sqrt(exact.Zip(f8.Matrix.ToDense()).Sum(p => (double)(p.First - p.Second) * (p.First - p.Second)) / exact.Sum(v => (double)v * v));
            Assert.InRange(error, 1e-5, 0.03);
        }

        Assert.True(int8.MatrixBytesAfter < 0.4 * full.MatrixBytesAfter + 4 * full.Weights.Sum(w => w.Matrix.Rows + 64));
        var file = AssertEnginesAgreeOnTheFile(int8, fixture);

        // The reader recovers the very levels and scales that were written: its matrices give back the stored tensors.
        foreach (var initializer in CompressedOnnxReader.Read(file)!.Initializers)
        {
            for (var d = 0; d < initializer.Matrices.Length; d++)
            {
                foreach (var factor in initializer.Matrices[d].Factors.Where(f => f.Tensor.Length > 0))
                {
                    var name = CompressionMetadata.FactorPrefix(initializer.Entry.Name, d) + factor.Name;
                    Assert.True(TensorComparer.MaxAbsoluteDifference(factor.Tensor, file.Graph.GetInitializer(name)) == 0, name);
                }

                // Read back, the dictionary and low-rank matrices find their scales and run the int8 kernels.
                if (method is "dirnet" or "odl" or "lowrank")
                {
                    Assert.Equal(Numerics.PackedInt8Matrix.IsPreferred, initializer.Matrices[d].RunsInt8);
                }
            }
        }
    }

    [Theory]
    [InlineData("lm_embedding_lstm_linear")]
    [InlineData("asr_bigru_ctc")]
    public void TheInt8BaselineKeepsEveryMatrixWholeAtAboutFourTimesSmallerAndRefusesMore(string fixture)
    {
        var model = OnnxModel.Load(Path.Combine(TestPaths.Fixtures, fixture, "model.onnx"));
        var options = new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = CompressionMethod.Int8, Ratio = 2, Scope = CompressionScope.Recurrent };
        var result = RnnCompressor.Compress(model, options);
        Assert.All(result.Weights, w =>
        {
            Assert.IsType<DenseMatrix>(w.Matrix);
            Assert.Equal(FactorPrecision.Int8, w.Matrix.Precision);
            Assert.InRange(w.RelativeError, 1e-4, 0.01); // half a step of max|row| / 127 at most per value
        });
        // One byte per value and four per row's scale, against four per value: 4x less the scales' share.
        var weights = result.Weights.Select(w => w.Matrix).ToArray();
        Assert.Equal(weights.Sum(m => 4.0 * m.Rows * m.Columns) / weights.Sum(m => (double)m.Rows * m.Columns + 4 * m.Rows), result.MatrixRatio, 1e-9);
        AssertEnginesAgreeOnTheFile(result, fixture);

        var error = Assert.Throws<DirNetException>(() => RnnCompressor.Compress(model, options with { Ratio = 4 }));
        Assert.Contains("out of reach for Int8", error.Message);
        Assert.Contains($"reach ratio {result.MatrixRatio:0.##}", error.Message);
    }

    /// <summary>
    /// Writes <paramref name="result"/> as a compressed file and checks that the native engine runs its factors (never a
    /// rebuilt matrix) with the same outputs as ONNX Runtime, optimised or not, and as the native engine on the rebuilt
    /// dense weights; returns the file.
    /// </summary>
    internal static OnnxModel AssertEnginesAgreeOnTheFile(CompressionResult result, string fixture)
    {
        var compressed = OnnxModel.Parse(result.ToCompressedModel().ToBytes(), "compressed.onnx");
        var native = new NativeModel(compressed);
        Assert.All(native.CompressedWeights.Values, forms => Assert.DoesNotContain("rebuilt", forms));
        var inputs = Inputs(fixture);
        var nativeOutputs = native.Run(inputs);
        var rebuiltOutputs = new NativeModel(result.ToDenseModel()).Run(inputs);
        using var ort = new OnnxRuntimeModel(compressed);
        using var plain = new OnnxRuntimeModel(compressed, optimize: false);
        var ortOutputs = ort.Run(inputs);
        var plainOutputs = plain.Run(inputs);
        for (var k = 0; k < nativeOutputs.Length; k++)
        {
            Assert.True(TensorComparer.MaxAbsoluteDifference(nativeOutputs[k], ortOutputs[k]) <= 1e-4, $"output {k} vs ONNX Runtime");
            Assert.True(TensorComparer.MaxAbsoluteDifference(nativeOutputs[k], plainOutputs[k]) <= 1e-4, $"output {k} vs ONNX Runtime unoptimised");
            Assert.True(TensorComparer.MaxAbsoluteDifference(nativeOutputs[k], rebuiltOutputs[k]) <= 1e-4, $"output {k} vs rebuilt dense");
        }

        return compressed;
    }

    [Theory]
    [InlineData("dirnet")]
    [InlineData("hmd")]
    [InlineData("lowrank")]
    [InlineData("prune")]
    public void AGruWithoutLinearBeforeResetRunsRowRangesOfACompressedR(string method)
    {
        // Without linear_before_reset the cell multiplies R's update/reset rows and its candidate rows separately,
        // so the compressed R is used through row ranges of its operator.
        var model = SyntheticRecurrentModel.Create(RecurrentCellType.Gru, layers: 2, inputSize: 24, hiddenSize: 40, seed: 5);
        foreach (var node in model.Proto.Graph.Node.Where(n => n.OpType == "GRU"))
        {
            node.Attribute.First(a => a.Name == "linear_before_reset").I = 0;
        }

        model = OnnxModel.Parse(model.ToBytes(), "gru-reset-before.onnx");
        var result = RnnCompressor.Compress(model, new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = Methods[method], Ratio = 3, Scope = CompressionScope.Recurrent });
        var compressed = OnnxModel.Parse(result.ToCompressedModel().ToBytes(), "gru-reset-before.compressed.onnx");
        var inputs = RandomInputs.Create(model, batch: 2, steps: 9);
        var native = new NativeModel(compressed);
        Assert.Contains(native.CompressedWeights.Values.SelectMany(f => f), f => f != "dense" && f != "rebuilt");
        var actual = native.Run(inputs);
        using var ort = new OnnxRuntimeModel(compressed);
        var expected = ort.Run(inputs);
        for (var k = 0; k < actual.Length; k++)
        {
            Assert.True(TensorComparer.MaxAbsoluteDifference(actual[k], expected[k]) <= 1e-4,
                $"output {k}: {TensorComparer.MaxAbsoluteDifference(actual[k], expected[k])}");
        }
    }

    [Fact]
    public void EmbeddingsAndLinearLayersRunFactoredToo()
    {
        // Scope "model" also compresses the embedding table (Gather) and the decoder (MatMul, stored as Wᵀ).
        var model = OnnxModel.Load(Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear", "model.onnx"));
        var result = RnnCompressor.Compress(model, new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = CompressionMethod.LowRank, Ratio = 2, Scope = CompressionScope.Model });
        var compressed = result.ToCompressedModel();
        var native = new NativeModel(compressed);
        Assert.Equal(["lowrank"], native.CompressedWeights["embed.weight"]);
        Assert.Contains(native.CompressedWeights, w => w.Key.Contains("MatMul", StringComparison.Ordinal) && w.Value.SequenceEqual(["lowrank"]));
        var inputs = Inputs("lm_embedding_lstm_linear");
        using var ort = new OnnxRuntimeModel(compressed);
        var expected = ort.Run(inputs);
        var actual = native.Run(inputs);
        for (var k = 0; k < actual.Length; k++)
        {
            Assert.True(TensorComparer.MaxAbsoluteDifference(actual[k], expected[k]) <= 1e-4, $"output {k}");
        }
    }

    [Fact]
    public void TheFileHoldsTheReportedBytesPlusASmallGraph()
    {
        var model = SyntheticRecurrentModel.Create(RecurrentCellType.Lstm, layers: 2, inputSize: 64, hiddenSize: 128, seed: 3);
        var result = RnnCompressor.Compress(model, new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = CompressionMethod.DirNet, Ratio = 4, Scope = CompressionScope.Recurrent });
        var bytes = result.ToCompressedModel().ToBytes().LongLength;
        Assert.True(bytes >= result.FileBytesAfter, $"{bytes} written < {result.FileBytesAfter} reported");
        Assert.True(bytes <= result.FileBytesAfter * 1.05 + 8192, $"{bytes} written vs {result.FileBytesAfter} reported");
    }

    [Fact]
    public void AnEditedRebuildGraphIsRefused()
    {
        var (_, result) = Compress("lstm_1layer", "dirnet");
        var compressed = result.ToCompressedModel();
        var node = compressed.Proto.Graph.Node.First(n => n.OpType == "CumSum");
        node.Input[1] = node.Input[0];
        var edited = OnnxModel.Parse(compressed.ToBytes(), "edited.onnx");
        var error = Assert.Throws<OnnxGraphException>(() => new NativeModel(edited));
        Assert.Contains("changed after compression", error.Message);
    }

    [Fact]
    public void ATamperedFactorIsRefused()
    {
        var (_, result) = Compress("lstm_1layer", "prune");
        var compressed = result.ToCompressedModel();
        var starts = compressed.Proto.Graph.Initializer.First(t => t.Name.EndsWith("weight_row_starts", StringComparison.Ordinal));
        var bytes = starts.RawData.ToByteArray();
        bytes[4] = 0xFF;
        bytes[5] = 0xFF;
        starts.RawData = Google.Protobuf.ByteString.CopyFrom(bytes);
        var edited = OnnxModel.Parse(compressed.ToBytes(), "edited.onnx");
        var error = Assert.Throws<OnnxFormatException>(() => new NativeModel(edited));
        Assert.Contains("inconsistent", error.Message);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("{\"format\":9,\"initializers\":[]}")]
    [InlineData("{\"format\":1,\"initializers\":[{\"name\":\"x\"}]}")]
    [InlineData("shape")]
    public void BrokenCompressionMetadataIsRefusedWithAClearError(string json)
    {
        var (_, result) = Compress("lstm_1layer", "lowrank");
        var compressed = result.ToCompressedModel();
        var entry = compressed.Proto.MetadataProps.First(p => p.Key == "dirnet.compression");
        // "shape": valid metadata whose recorded shape disagrees with its matrices.
        entry.Value = json == "shape" ? entry.Value.Replace("\"shape\":[1,", "\"shape\":[2,", StringComparison.Ordinal) : json;
        var edited = OnnxModel.Parse(compressed.ToBytes(), "edited.onnx");
        var error = Assert.Throws<OnnxFormatException>(() => new NativeModel(edited));
        Assert.Contains("edited.onnx", error.Message);
    }

    [Fact]
    public void CompressingACompressedModelIsRefused()
    {
        var (_, result) = Compress("lstm_1layer", "lowrank");
        var compressed = result.ToCompressedModel();
        var error = Assert.Throws<DirNetException>(() => RnnCompressor.Compress(compressed, new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Ratio = 2 }));
        Assert.Contains("already compressed", error.Message);
    }

    [Fact]
    public void TheMetadataRecordsMethodAndOptions()
    {
        var (_, result) = Compress("gru_1layer", "hmd");
        var metadata = result.ToCompressedModel().Metadata["dirnet.compression"];
        Assert.Contains("\"method\":\"hmd\"", metadata);
        Assert.Contains("\"target_ratio\":2", metadata);
        Assert.Contains("dense rows", metadata);
    }
}
