using Microsoft.ML.Data;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The ML.NET surface: <c>CompressRnn</c> fits and scores like the native engine on the compressed file, through
/// <c>Transform</c> and <c>PredictionEngine</c>; schema errors name the column and what was expected; the compressed
/// file saves, loads, and scores the same in ML.NET's own <c>ApplyOnnxModel</c>, whose pipeline round-trips through
/// <c>mlContext.Model.Save</c>/<c>Load</c>.
/// </summary>
public sealed class MLNetSurfaceTests
{
    private const int Frames = 11;
    private const int FeatureCount = 20;

    private static string SpeechFixture => Path.Combine(TestPaths.Fixtures, "asr_bigru_ctc", "model.onnx");

    private static Dictionary<string, int[]> SpeechShape => new() { ["features"] = [1, Frames, FeatureCount] };

    /// <summary>One utterance of the speech fixture: [1 × frames × features] log-mel values.</summary>
    private sealed class Utterance
    {
        [ColumnName("features"), VectorType(1, Frames, FeatureCount)]
        public float[] Features { get; set; } = [];
    }

    private sealed class Scores
    {
        [ColumnName("log_probs")]
        public float[] LogProbs { get; set; } = [];
    }

    private sealed class WrongType
    {
        [ColumnName("features"), VectorType(1, Frames, FeatureCount)]
        public double[] Features { get; set; } = [];
    }

    private sealed class WrongSize
    {
        [ColumnName("features"), VectorType(Frames - 1, FeatureCount)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>No columns: the input side of <see cref="ShapeOf{T}"/>'s mapping.</summary>
    private sealed class NoColumns;

    /// <summary>The schema shape of <typeparamref name="T"/>'s columns (ML.NET builds shapes only inside estimators).</summary>
    private static SchemaShape ShapeOf<T>(MLContext mlContext) where T : class, new() =>
        mlContext.Transforms.CustomMapping<NoColumns, T>((_, _) => { }, contractName: null).GetOutputSchema(new SchemaShape([]));

    private static Utterance[] Utterances(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => new Utterance { Features = Enumerable.Range(0, Frames * FeatureCount).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray() })
            .ToArray();
    }

    private static List<float[]> Column(IDataView data, string name) =>
        data.GetColumn<VBuffer<float>>(data.Schema[name]).Select(v => v.DenseValues().ToArray()).ToList();

    private static (MLContext MlContext, IDataView Data, RnnCompressionTransformer Transformer) FitSpeech(RnnCompressionOptions? options = null)
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(Utterances(6, seed: 2));
        options ??= new RnnCompressionOptions { ModelFile = SpeechFixture, Method = CompressionMethod.Hmd, TargetRatio = 4, ShapeDictionary = SpeechShape };
        return (mlContext, data, mlContext.Transforms.CompressRnn(options).Fit(data));
    }

    [Fact]
    public void FittedTransformerScoresLikeTheNativeEngineOnTheCompressedFile()
    {
        var (_, data, transformer) = FitSpeech();
        using var file = new MemoryStream();
        transformer.SaveCompressedModel(file);
        file.Position = 0;
        var engine = new NativeModel(OnnxModel.Load(file));
        Assert.NotEmpty(engine.CompressedWeights);

        var scored = Column(transformer.Transform(data), "log_probs");
        var inputs = Column(data, "features");
        Assert.Equal(6, scored.Count);
        for (var row = 0; row < inputs.Count; row++)
        {
            var expected = engine.Run(new Tensor<float>([1, Frames, FeatureCount], inputs[row]))[0].As<float>().Data;
            Assert.Equal(expected, scored[row]);
        }

        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single), transformer.GetOutputSchema(data.Schema)["log_probs"].Type);
    }

    [Fact]
    public void ReportCountsEveryCompressedMatrixAndMeetsTheTarget()
    {
        var (_, _, transformer) = FitSpeech();
        var report = transformer.Report;
        Assert.Equal("hmd", report.Method);
        Assert.Equal("recurrent", report.Scope);
        Assert.False(report.Calibrated);
        Assert.NotEmpty(report.Matrices);
        Assert.All(report.Matrices, m => Assert.True(m.RelativeError is > 0 and < 1, $"{m.Initializer}/{m.Direction}: {m.RelativeError}"));
        Assert.Equal(report.Matrices.Sum(m => m.BytesBefore), report.BytesBefore);
        Assert.True(report.Ratio >= 4, $"ratio {report.Ratio}");
        using var file = new MemoryStream();
        transformer.SaveCompressedModel(file);
        Assert.Equal(file.Length, report.FileBytes);
    }

    [Fact]
    public void PredictionEngineGivesTheSameScoresAsTransform()
    {
        var (mlContext, data, transformer) = FitSpeech();
        var expected = Column(transformer.Transform(data), "log_probs");
        var engine = mlContext.Model.CreatePredictionEngine<Utterance, Scores>(transformer);
        var utterances = Utterances(6, seed: 2);
        for (var row = 0; row < utterances.Length; row++)
        {
            Assert.Equal(expected[row], engine.Predict(utterances[row]).LogProbs);
        }
    }

    [Fact]
    public void SavedCompressedModelLoadsAndScoresTheSame()
    {
        var (mlContext, data, transformer) = FitSpeech();
        var path = Path.Combine(TestPaths.NewTemporaryFolder(), "speech.dirnet.onnx");
        transformer.SaveCompressedModel(path);
        var loaded = mlContext.Model.LoadCompressedRnn(path, shapeDictionary: SpeechShape);

        Assert.Equal(Column(transformer.Transform(data), "log_probs"), Column(loaded.Transform(data), "log_probs"));
        Assert.Equal(transformer.Report.Matrices.Select(m => m with { RelativeError = null }), loaded.Report.Matrices);
        Assert.All(loaded.Report.Matrices, m => Assert.Null(m.RelativeError));

        // ML.NET's zip cannot hold this transformer: the error says what to do instead.
        var error = Assert.Throws<NotSupportedException>(() => mlContext.Model.Save(transformer, data.Schema, Path.ChangeExtension(path, ".zip")));
        Assert.Contains("SaveCompressedModel", error.Message);
    }

    [Fact]
    public void ApplyOnnxModelOnTheExportedFileScoresTheSameAndRoundTripsThroughModelSave()
    {
        var (mlContext, data, transformer) = FitSpeech();
        var folder = TestPaths.NewTemporaryFolder();
        var path = Path.Combine(folder, "speech.dirnet.onnx");
        transformer.SaveCompressedModel(path);

        var onnx = mlContext.Transforms.ApplyOnnxModel(["log_probs"], ["features"], path, SpeechShape, gpuDeviceId: null, fallbackToCpu: false).Fit(data);
        var native = Column(transformer.Transform(data), "log_probs");
        var runtime = Column(onnx.Transform(data), "log_probs");
        Assert.Equal(native.Count, runtime.Count);
        for (var row = 0; row < native.Count; row++)
        {
            Assert.Equal(native[row].Length, runtime[row].Length);
            var worst = native[row].Zip(runtime[row], (a, b) => MathF.Abs(a - b)).Max();
            Assert.True(worst <= 1e-4f, $"row {row}: native and ONNX Runtime differ by {worst}");
        }

        var zip = Path.Combine(folder, "pipeline.zip");
        mlContext.Model.Save(onnx, data.Schema, zip);
        var reloaded = mlContext.Model.Load(zip, out _);
        Assert.Equal(runtime, Column(reloaded.Transform(data), "log_probs"));
    }

    [Fact]
    public void SchemaErrorsNameTheColumnAndWhatWasExpected()
    {
        var mlContext = new MLContext(seed: 1);
        var estimator = mlContext.Transforms.CompressRnn(SpeechFixture, CompressionMethod.LowRank, 4, SpeechShape);

        // Schema shapes (what pipelines check before fitting): the output column is added, a wrong item type named.
        var shape = estimator.GetOutputSchema(ShapeOf<Utterance>(mlContext));
        var logProbs = Assert.Single(shape, c => c.Name == "log_probs");
        Assert.Equal((SchemaShape.Column.VectorKind.VariableVector, (DataViewType)NumberDataViewType.Single), (logProbs.Kind, logProbs.ItemType));
        var typeError = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(ShapeOf<WrongType>(mlContext)));
        Assert.Contains("Schema mismatch for input column 'features': expected vector of Single with 220 values (ONNX input 'features', shape [1, 11, 20]), got vector of Double", typeError.Message);
        Assert.Contains("Could not find input column 'features'",
            Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(new SchemaShape([]))).Message);

        // Data (what Fit and Transform see): sizes are checked too.
        var wrongType = mlContext.Data.LoadFromEnumerable(new[] { new WrongType { Features = new double[Frames * FeatureCount] } });

        var wrongSize = mlContext.Data.LoadFromEnumerable(new[] { new WrongSize { Features = new float[(Frames - 1) * FeatureCount] } });
        var sizeError = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(wrongSize));
        Assert.Contains("got vector of Single with 200 values", sizeError.Message);

        var missing = mlContext.Data.LoadFromEnumerable(new[] { new Scores { LogProbs = [1] } });
        var missingError = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(missing));
        Assert.Contains("Could not find input column 'features'", missingError.Message);

        var renamed = mlContext.Transforms.CompressRnn(["scores"], ["audio"], SpeechFixture, CompressionMethod.LowRank, 4, SpeechShape);
        Assert.Contains("input column 'audio'", Assert.Throws<ArgumentOutOfRangeException>(() => renamed.Fit(wrongType)).Message);
        Assert.Contains("(log_probs); 2 output column names", Assert.Throws<ArgumentException>(() => mlContext.Transforms.CompressRnn(["a", "b"], ["features"], SpeechFixture)).Message);
    }

    [Fact]
    public void RowsWithMoreThanOneOpenDimensionAskForAShape()
    {
        var (mlContext, data, _) = FitSpeech();
        var path = Path.Combine(TestPaths.NewTemporaryFolder(), "speech.dirnet.onnx");
        FitSpeech().Transformer.SaveCompressedModel(path);
        var withoutShapes = mlContext.Model.LoadCompressedRnn(path);
        var error = Assert.Throws<ModelInputException>(() => Column(withoutShapes.Transform(data), "log_probs"));
        Assert.Contains("'features'", error.Message);
        Assert.Contains("shape dictionary", error.Message);

        // With the time dimension left open (-1), rows of any length score, each as its own sequence.
        var open = mlContext.Model.LoadCompressedRnn(path, shapeDictionary: new Dictionary<string, int[]> { ["features"] = [1, -1, FeatureCount] });
        var engine = mlContext.Model.CreatePredictionEngine<VariableUtterance, Scores>(open);
        var native = new NativeModel(OnnxModel.Load(path));
        foreach (var frames in new[] { 3, 17 })
        {
            var features = Enumerable.Range(0, frames * FeatureCount).Select(i => MathF.Sin(i)).ToArray();
            var expected = native.Run(new Tensor<float>([1, frames, FeatureCount], features))[0].As<float>().Data;
            Assert.Equal(expected, engine.Predict(new VariableUtterance { Features = features }).LogProbs);
        }

        Assert.Throws<ArgumentException>(() => mlContext.Model.LoadCompressedRnn(path, shapeDictionary: new Dictionary<string, int[]> { ["features"] = [1, -1, 19] }));
    }

    /// <summary>An utterance of any length (a variable-size vector column).</summary>
    private sealed class VariableUtterance
    {
        [ColumnName("features")]
        public float[] Features { get; set; } = [];
    }

    [Fact]
    public void CalibrationRowsAndKeptDenseMatricesReachTheCompression()
    {
        var keep = RnnCompressor.Targets(OnnxModel.Load(SpeechFixture), CompressionScope.Recurrent)[0].Initializer;
        var (_, _, transformer) = FitSpeech(new RnnCompressionOptions
        {
            ModelFile = SpeechFixture, Method = CompressionMethod.LowRank, TargetRatio = 4, ShapeDictionary = SpeechShape,
            CalibrationRows = 4, KeepDense = [keep],
        });
        Assert.True(transformer.Report.Calibrated);
        Assert.DoesNotContain(transformer.Report.Matrices, m => m.Initializer == keep);
        Assert.NotEmpty(transformer.Report.Matrices);

        var unknown = Assert.Throws<DirNetException>(() => FitSpeech(new RnnCompressionOptions
        {
            ModelFile = SpeechFixture, TargetRatio = 4, ShapeDictionary = SpeechShape, KeepDense = ["no_such_weight"],
        }));
        Assert.Contains("'no_such_weight'", unknown.Message);
    }

    [Fact]
    public void TheQuantMethodAtLowBitsWithGptqFromTheCalibrationRowsReachesTheFile()
    {
        var (_, data, transformer) = FitSpeech(new RnnCompressionOptions
        {
            ModelFile = SpeechFixture, Method = CompressionMethod.Quant, Precision = FactorPrecision.Int3, GroupSize = 32,
            Quantizer = Quantizer.Gptq, CalibrationRows = 4, ShapeDictionary = SpeechShape,
        });
        Assert.All(transformer.Report.Matrices, m => Assert.Equal(("dense", "int3", 32), (m.Method, m.Precision, m.GroupSize)));
        using var file = new MemoryStream();
        transformer.SaveCompressedModel(file);
        file.Position = 0;
        var engine = new NativeModel(OnnxModel.Load(file));
        Assert.All(engine.CompressedWeights.Values, forms => Assert.All(forms, f => Assert.Equal("dense", f)));
        var inputs = Column(data, "features");
        var scored = Column(transformer.Transform(data), "log_probs");
        Assert.Equal(engine.Run(new Tensor<float>([1, Frames, FeatureCount], inputs[0]))[0].As<float>().Data, scored[0]);

        // GPTQ without calibration rows has nothing to minimise the output error over.
        var uncalibrated = Assert.Throws<DirNetException>(() => FitSpeech(new RnnCompressionOptions
        {
            ModelFile = SpeechFixture, Method = CompressionMethod.Quant, Precision = FactorPrecision.Int3, Quantizer = Quantizer.Gptq, ShapeDictionary = SpeechShape,
        }));
        Assert.Contains("needs calibration inputs", uncalibrated.Message);
    }

    /// <summary>A window of the language-model fixture: 9 token ids and the initial states, batch 1.</summary>
    private sealed class TokenWindow
    {
        [ColumnName("ids"), VectorType(9, 1)]
        public long[] Ids { get; set; } = [];

        [ColumnName("h0"), VectorType(2, 1, 16)]
        public float[] H0 { get; set; } = new float[32];

        [ColumnName("c0"), VectorType(2, 1, 16)]
        public float[] C0 { get; set; } = new float[32];
    }

    /// <summary>The same window with its state columns of unknown size (no VectorType), as rows often come.</summary>
    private sealed class LooseTokenWindow
    {
        [ColumnName("ids"), VectorType(9, 1)]
        public long[] Ids { get; set; } = [];

        [ColumnName("h0")]
        public float[] H0 { get; set; } = new float[32];

        [ColumnName("c0")]
        public float[] C0 { get; set; } = new float[32];
    }

    [Fact]
    public void FitRefusesAStateColumnOfTheWrongLengthBeforeCompressing()
    {
        var fixture = Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear", "model.onnx");
        var mlContext = new MLContext(seed: 1);
        var shapes = new Dictionary<string, int[]> { ["ids"] = [9, 1], ["h0"] = [2, 1, 16], ["c0"] = [2, 1, 16] };
        var progress = new List<CompressionProgress>();
        var estimator = mlContext.Transforms.CompressRnn(new RnnCompressionOptions
        {
            ModelFile = fixture, Method = CompressionMethod.LowRank, TargetRatio = 2, ShapeDictionary = shapes,
            Progress = new RecordingProgress(progress.Add),
        });
        // 16 values where [2, 1, 16] needs 32: the schema cannot tell (the vector's size is unknown), the rows can.
        var rows = new[] { new LooseTokenWindow { Ids = new long[9], H0 = new float[16] } };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(mlContext.Data.LoadFromEnumerable(rows)));
        Assert.Contains("Column 'h0' holds 16 values", error.Message);
        Assert.Empty(progress); // refused before any compression work

        var good = new[] { new LooseTokenWindow { Ids = new long[9] } };
        Assert.NotNull(estimator.Fit(mlContext.Data.LoadFromEnumerable(good)));
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class RecordingProgress(Action<CompressionProgress> report) : IProgress<CompressionProgress>
    {
        public void Report(CompressionProgress value) => report(value);
    }

    private sealed class NextWords
    {
        [ColumnName("log_probs")]
        public float[] LogProbs { get; set; } = [];

        [ColumnName("h_n")]
        public float[] Hidden { get; set; } = [];
    }

    [Fact]
    public void ModelsWithSeveralInputsAndIntegerIdsScoreThroughAPredictionEngine()
    {
        var fixture = Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear", "model.onnx");
        var mlContext = new MLContext(seed: 1);
        var random = new Random(4);
        var windows = Enumerable.Range(0, 3).Select(_ => new TokenWindow
        {
            Ids = Enumerable.Range(0, 9).Select(_ => (long)random.Next(50)).ToArray(),
            H0 = Enumerable.Range(0, 32).Select(_ => (float)random.NextDouble()).ToArray(),
        }).ToArray();
        var shapes = new Dictionary<string, int[]> { ["ids"] = [9, 1], ["h0"] = [2, 1, 16], ["c0"] = [2, 1, 16] };
        var transformer = mlContext.Transforms.CompressRnn(fixture, CompressionMethod.DirNet, 4, shapes).Fit(mlContext.Data.LoadFromEnumerable(windows));

        using var file = new MemoryStream();
        transformer.SaveCompressedModel(file);
        file.Position = 0;
        var engine = new NativeModel(OnnxModel.Load(file));
        var predictions = mlContext.Model.CreatePredictionEngine<TokenWindow, NextWords>(transformer);
        foreach (var window in windows)
        {
            var expected = engine.Run(new Tensor<long>([9, 1], window.Ids), new Tensor<float>([2, 1, 16], window.H0), new Tensor<float>([2, 1, 16], window.C0));
            var predicted = predictions.Predict(window);
            Assert.Equal(expected[0].As<float>().Data, predicted.LogProbs);
            Assert.Equal(expected[1].As<float>().Data, predicted.Hidden);
        }
    }
}
