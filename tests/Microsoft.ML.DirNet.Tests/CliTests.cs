using System.Text.Json;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>Console redirection is process-wide, so the CLI tests never run in parallel with each other.</summary>
[CollectionDefinition(nameof(CliCollection), DisableParallelization = true)]
public sealed class CliCollection;

/// <summary>The dirnet verbs as scripts use them: exit codes, JSON fields, one-line errors.</summary>
[Collection(nameof(CliCollection))]
public sealed class CliTests
{
    private static readonly string Fixture = Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear");

    [Fact]
    public void InspectJsonDescribesLayersAndWeights()
    {
        var (code, stdout, _) = Dirnet("inspect", Path.Combine(Fixture, "model.onnx"), "--json");
        Assert.Equal(0, code);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(14, json.GetProperty("opset").GetInt32());
        Assert.Equal(2, json.GetProperty("recurrent_layers").GetArrayLength());
        Assert.Equal(16, json.GetProperty("recurrent_layers")[0].GetProperty("hidden_size").GetInt32());
        Assert.Equal(6, json.GetProperty("weights").GetArrayLength());
        Assert.Empty(json.GetProperty("unsupported_operators").EnumerateArray());
        var share = json.GetProperty("compressible_share").GetDouble();
        Assert.InRange(share, 0.5, 1.0);
    }

    [Fact]
    public void InspectShowsInputsOutputsAndOneRowPerStoredMatrixNamedAsKeepDenseTakesIt()
    {
        var lm = Path.Combine(TestPaths.RepositoryRoot, "samples", "LanguageModel", "model.onnx");
        var json = JsonDocument.Parse(Dirnet("inspect", lm, "--json").Stdout).RootElement;
        Assert.Equal(["input", "h0", "c0"], json.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        var h0 = json.GetProperty("inputs")[1];
        Assert.Equal("float", h0.GetProperty("type").GetString());
        Assert.Equal("2,batch,512", string.Join(",", h0.GetProperty("shape").EnumerateArray().Select(d => d.ToString())));
        Assert.Equal("int64", json.GetProperty("inputs")[0].GetProperty("type").GetString());
        Assert.Equal(["log_probs", "hn", "cn"], json.GetProperty("outputs").EnumerateArray().Select(o => o.GetProperty("name").GetString()));

        // The tied embedding (read by Gather and by the output Gemm) is one row, so the shares add up to the total; the
        // initializer column is the name --keep-dense takes.
        var (code, table, _) = Dirnet("inspect", lm);
        Assert.Equal(0, code);
        Assert.Contains("h0", table);
        Assert.Contains("[2, batch, 512]", table);
        Assert.Single(table.Split('\n'), line => line.Contains("embedding.weight (Gather)", StringComparison.Ordinal));
        var shares = table.Split('\n').Select(line => System.Text.RegularExpressions.Regex.Match(line, @"([0-9.]+) %\s*│?\s*$"))
            .Where(m => m.Success).Sum(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.InRange(shares, 99.0, 100.0);
        Assert.Contains("lstm.l0.W", table);
        var keep = Dirnet("compress", lm, "-o", Path.Combine(TestPaths.NewTemporaryFolder(), "k.onnx"), "--method", "quant", "--precision", "int4",
            "--scope", "recurrent", "--keep-dense", "lstm.l0.W", "--json");
        Assert.True(keep.Code == 0, keep.Stderr);
    }

    [Fact]
    public void RedirectedOutputKeepsTableRowsWholeAndProgressOnStderrEndingAtOneHundred()
    {
        // The test host's stdout is a pipe, as a script's is: what the tool does for redirected output is what runs here.
        Assert.True(Console.IsOutputRedirected);
        var lm = Path.Combine(TestPaths.RepositoryRoot, "samples", "LanguageModel", "model.onnx");
        var output = Path.Combine(TestPaths.NewTemporaryFolder(), "lr.onnx");
        var (code, stdout, stderr) = Dirnet("compress", lm, "-o", output, "--method", "lowrank", "--ratio", "4", "--scope", "recurrent");
        Assert.True(code == 0, stderr);
        // Each matrix is one table line (no cell wraps), and stdout holds no progress.
        Assert.Single(stdout.Split('\n'), line => line.Contains("/lstm/LSTM_1.R[forward]", StringComparison.Ordinal) && line.Contains("rank", StringComparison.Ordinal));
        Assert.DoesNotContain("analyse:", stdout);
        Assert.DoesNotContain("build:", stdout);
        Assert.Contains("build: /lstm/LSTM_1.R[forward]: 100%", stderr);

        var quiet = Dirnet("eval", lm, "--task", "lm", "--data", Path.Combine(TestPaths.RepositoryRoot, "samples", "LanguageModel", "data"), "--tokens", "200", "--no-progress");
        Assert.Equal(0, quiet.Code);
        Assert.Equal("", quiet.Stderr);
        Assert.Contains("perplexity", quiet.Stdout);
    }

    [Fact]
    public void RunComparesWithExpectedOutputsAndFailsAboveTolerance()
    {
        var model = Path.Combine(Fixture, "model.onnx");
        var data = Path.Combine(Fixture, "test_data_set_0");
        var (ok, stdout, _) = Dirnet("run", model, "--data", data);
        Assert.Equal(0, ok);
        Assert.Contains("log_probs: Float[9, 3, 50]", stdout);
        Assert.Equal(0, Dirnet("run", model, "--data", data, "--ort").Code);

        // The same inputs against a perturbed expected output: exit code 1.
        var folder = TestPaths.NewTemporaryFolder();
        foreach (var file in Directory.GetFiles(data))
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        }

        var expected = TensorFile.Read(Path.Combine(folder, "output_0.pb")).As<float>();
        expected.Data[0] += 0.01f;
        TensorFile.Write(Path.Combine(folder, "output_0.pb"), expected);
        var (failed, _, stderr) = Dirnet("run", model, "--data", folder);
        Assert.Equal(1, failed);
        Assert.Contains("differ", stderr);
    }

    [Fact]
    public void RunAndBenchFallBackToOnnxRuntimeForAModelTheNativeEngineCannotRun()
    {
        // Det is an operator ONNX Runtime has and the native engine lacks.
        var node = new Microsoft.ML.DirNet.Onnx.Protobuf.NodeProto { OpType = "Det", Name = "det" };
        node.Input.Add("X");
        node.Output.Add("Y");
        var folder = TestPaths.NewTemporaryFolder();
        var model = Path.Combine(folder, "det.onnx");
        SingleNodeModel.Build(node, [("X", TensorElementType.Float)], ["Y"]).Save(model);
        var data = Path.Combine(folder, "data");
        Directory.CreateDirectory(data);
        TensorFile.Write(Path.Combine(data, "input_0.pb"), new Tensor<float>([2, 2], [1, 2, 3, 4]));
        TensorFile.Write(Path.Combine(data, "output_0.pb"), Tensor<float>.Scalar(-2));

        var (code, _, stderr) = Dirnet("run", model, "--data", data);
        Assert.True(code == 0, stderr);
        Assert.Contains("lacks Det; running in ONNX Runtime instead", stderr);

        (code, var stdout, stderr) = Dirnet("bench", model, "--data", data, "--json", "--runs", "3");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(JsonValueKind.Null, json.GetProperty("native_ms").ValueKind);
        Assert.True(json.GetProperty("ort_ms").GetDouble() > 0);
        Assert.Equal("Det", json.GetProperty("native_unsupported")[0].GetString());
    }

    /// <summary>
    /// compare on a model the native engine cannot run (the LM sample with a Shrink, an identity here, after its
    /// output) says so and measures every row in ONNX Runtime: the original's perplexity is the one the native
    /// engine gives without the Shrink, and a compressed row and a compressed file are measured.
    /// </summary>
    [Fact]
    public void CompareFallsBackToOnnxRuntimeForAModelTheNativeEngineCannotRun()
    {
        var lm = Path.Combine(TestPaths.RepositoryRoot, "samples", "LanguageModel");
        var proto = Microsoft.ML.DirNet.Onnx.OnnxModel.Load(Path.Combine(lm, "model.onnx")).Proto.Clone();
        var output = proto.Graph.Output[0].Name;
        var producer = proto.Graph.Node.Single(n => n.Output.Contains(output));
        producer.Output[producer.Output.IndexOf(output)] = output + "_before_shrink";
        var shrink = new Microsoft.ML.DirNet.Onnx.Protobuf.NodeProto { OpType = "Shrink", Name = "identity_shrink" };
        shrink.Input.Add(output + "_before_shrink");
        shrink.Output.Add(output);
        shrink.Attribute.Add(new Microsoft.ML.DirNet.Onnx.Protobuf.AttributeProto { Name = "lambd", Type = Microsoft.ML.DirNet.Onnx.Protobuf.AttributeProto.Types.AttributeType.Float, F = 0 });
        proto.Graph.Node.Add(shrink);
        var folder = TestPaths.NewTemporaryFolder();
        var model = Path.Combine(folder, "shrink.onnx");
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        var file = Path.Combine(folder, "lowrank.onnx");
        var compressed = Dirnet("compress", model, "-o", file, "--method", "lowrank", "--ratio", "3", "--scope", "recurrent");
        Assert.True(compressed.Code == 0, compressed.Stderr);

        string[] Compare(string path, params string[] more) => ["compare", path, "--task", "lm", "--data", Path.Combine(lm, "data"), "--tokens", "300", "--json", .. more];
        var (code, stdout, stderr) = Dirnet(Compare(model, "--methods", "lowrank", "--ratios", "3", "--compressed", file));
        Assert.True(code == 0, stderr);
        Assert.Contains("the native engine lacks Shrink; every row is measured in ONNX Runtime instead", stderr);
        var rows = JsonDocument.Parse(stdout).RootElement.GetProperty("rows").EnumerateArray().ToArray();
        Assert.Equal(["original", "lowrank", "lowrank"], rows.Select(r => r.GetProperty("method").GetString()));
        Assert.All(rows, r => Assert.True(double.IsFinite(r.GetProperty("metrics")[0].GetDouble())));
        Assert.Equal(rows[1].GetProperty("metrics")[0].GetDouble(), rows[2].GetProperty("metrics")[0].GetDouble(), 1e-3);

        (code, stdout, stderr) = Dirnet(Compare(Path.Combine(lm, "model.onnx"), "--methods", ""));
        Assert.True(code == 0, stderr);
        var native = JsonDocument.Parse(stdout).RootElement.GetProperty("rows")[0].GetProperty("metrics")[0].GetDouble();
        Assert.Equal(native, rows[0].GetProperty("metrics")[0].GetDouble(), 1e-3);
    }

    [Fact]
    public void BenchJsonHasTheContractFields()
    {
        var (code, stdout, _) = Dirnet("bench", Path.Combine(Fixture, "model.onnx"), "--json", "--runs", "3", "--steps", "4");
        Assert.Equal(0, code);
        var json = JsonDocument.Parse(stdout).RootElement;
        var native = json.GetProperty("native_ms").GetDouble();
        var ort = json.GetProperty("ort_ms").GetDouble();
        Assert.True(native > 0 && ort > 0);
        Assert.Equal(ort / native, json.GetProperty("speedup").GetDouble(), 6);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("profile").ValueKind);
    }

    /// <summary>
    /// <c>--int8-activations</c> on a model compressed to int4: bench says in JSON and text that the native engine ran
    /// with int8 inputs and on which integer products (this processor's: AVX-VNNI, AVX-512BW or none), and its
    /// outputs stay near ONNX Runtime's on the same file (within the inputs' rounding, not 1e-4); without the option
    /// both fields are false and null.
    /// </summary>
    [Fact]
    public void BenchWithInt8ActivationsSaysWhatTheIntegerProductsRanOn()
    {
        var model = Path.Combine(Fixture, "model.onnx");
        var compressed = Path.Combine(TestPaths.NewTemporaryFolder(), "int4.onnx");
        var (code, stdout, stderr) = Dirnet("compress", model, "-o", compressed, "--method", "quant", "--precision", "int4", "--ratio", "2", "--scope", "recurrent", "--no-progress");
        Assert.True(code == 0, stderr);
        (code, stdout, stderr) = Dirnet("bench", model, "--compressed", compressed, "--json", "--runs", "3", "--steps", "4", "--int8-activations");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.True(json.GetProperty("int8_activations").GetBoolean());
        Assert.Equal(Numerics.PackedInt8Matrix.IntegerProducts, json.GetProperty("integer_products").GetString());
        Assert.Contains(json.GetProperty("integer_products").GetString(), new[] { "avx-vnni", "avx-512bw", "none" });
        Assert.InRange(json.GetProperty("compressed_max_abs_diff").GetDouble(), 0, 0.05);

        (code, stdout, stderr) = Dirnet("bench", model, "--compressed", compressed, "--runs", "3", "--steps", "4", "--int8-activations");
        Assert.True(code == 0, stderr);
        Assert.Contains($"int8 inputs   : on (integer products: {Numerics.PackedInt8Matrix.IntegerProducts})", stdout);

        (code, stdout, _) = Dirnet("bench", model, "--json", "--runs", "1", "--steps", "2");
        Assert.Equal(0, code);
        json = JsonDocument.Parse(stdout).RootElement;
        Assert.False(json.GetProperty("int8_activations").GetBoolean());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("integer_products").ValueKind);
    }

    /// <summary>
    /// <c>--peer ort-int8</c> times ONNX Runtime's own int8 form of the model in the same rounds: its time, the native
    /// engine's ratio to it and its error against the float model are in the JSON (plain and with --compressed) and
    /// the text; without it the fields are null; an unknown peer is a parser error.
    /// </summary>
    [Fact]
    public void BenchPeerTimesOnnxRuntimesInt8FormInTheSameRounds()
    {
        var model = Path.Combine(Fixture, "model.onnx");
        var (code, stdout, stderr) = Dirnet("bench", model, "--json", "--runs", "3", "--steps", "4", "--peer", "ort-int8");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("ort-int8", json.GetProperty("peer").GetString());
        var peer = json.GetProperty("peer_ort_ms").GetDouble();
        Assert.True(peer > 0);
        Assert.Equal(peer / json.GetProperty("native_ms").GetDouble(), json.GetProperty("peer_speedup").GetDouble(), 6);
        Assert.InRange(json.GetProperty("peer_max_abs_diff").GetDouble(), 1e-6, 0.1);

        var compressed = Path.Combine(TestPaths.NewTemporaryFolder(), "int8.onnx");
        (code, _, stderr) = Dirnet("compress", model, "-o", compressed, "--method", "quant", "--precision", "int8", "--ratio", "2", "--scope", "recurrent", "--no-progress");
        Assert.True(code == 0, stderr);
        (code, stdout, stderr) = Dirnet("bench", model, "--compressed", compressed, "--json", "--runs", "3", "--steps", "4", "--peer", "ort-int8");
        Assert.True(code == 0, stderr);
        json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(json.GetProperty("peer_ort_ms").GetDouble() / json.GetProperty("compressed_native_ms").GetDouble(), json.GetProperty("peer_speedup").GetDouble(), 6);

        (code, stdout, stderr) = Dirnet("bench", model, "--runs", "3", "--steps", "4", "--peer", "ort-int8");
        Assert.True(code == 0, stderr);
        Assert.Contains("peer ort-int8:", stdout);
        Assert.Contains("2 LSTM and 1 MatMul", stderr);

        (code, stdout, _) = Dirnet("bench", model, "--json", "--runs", "1", "--steps", "2");
        Assert.Equal(0, code);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(stdout).RootElement.GetProperty("peer_ort_ms").ValueKind);

        (code, _, stderr) = Dirnet("bench", model, "--peer", "pytorch");
        Assert.Equal(2, code);
        Assert.Contains("pytorch", stderr);
    }

    [Fact]
    public void BenchProfileShowsEveryNodeInBothEngines()
    {
        var model = Path.Combine(Fixture, "model.onnx");
        var (code, stdout, stderr) = Dirnet("bench", model, "--json", "--runs", "3", "--steps", "4", "--profile");
        Assert.True(code == 0, stderr);
        var rows = JsonDocument.Parse(stdout).RootElement.GetProperty("profile").EnumerateArray().ToArray();
        // Every node the native engine runs has a row; the recurrent layer runs in both engines under its own name.
        var executed = new Runtime.NativeModel(OnnxModel.Load(model)).ExecutedNodes;
        Assert.All(executed, n => Assert.Contains(rows, r => r.GetProperty("node").GetString() == n.Name));
        var layers = rows.Where(r => r.GetProperty("op").GetString() == "LSTM").ToArray();
        Assert.NotEmpty(layers);
        Assert.All(layers, r => Assert.True(r.GetProperty("native_ms").GetDouble() > 0 && r.GetProperty("ort_ms").GetDouble() > 0));
        Assert.Equal(rows.Select(r => Math.Max(Time(r, "native_ms"), Time(r, "ort_ms"))).OrderDescending(),
            rows.Select(r => Math.Max(Time(r, "native_ms"), Time(r, "ort_ms"))));

        (code, stdout, _) = Dirnet("bench", model, "--runs", "3", "--steps", "4", "--profile");
        Assert.Equal(0, code);
        Assert.Contains("time per node", stdout);
        Assert.Contains("LSTM", stdout);
    }

    private static double Time(JsonElement row, string engine) =>
        row.GetProperty(engine).ValueKind == JsonValueKind.Null ? 0 : row.GetProperty(engine).GetDouble();

    [Fact]
    public void BadInputGivesOneLineErrorAndExitCodeTwo()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var notOnnx = Path.Combine(folder, "readme.onnx");
        File.WriteAllText(notOnnx, "hello");
        foreach (var args in new[]
        {
            new[] { "inspect", notOnnx },
            ["run", notOnnx, "--data", folder],
            ["bench", Path.Combine(folder, "missing.onnx")],
            ["run", Path.Combine(Fixture, "model.onnx"), "--data", folder],
            ["eval", Path.Combine(Fixture, "model.onnx"), "--task", "asr", "--data", folder],
            ["eval", Path.Combine(Fixture, "model.onnx"), "--task", "lm", "--data", folder],
        })
        {
            var (code, _, stderr) = Dirnet(args);
            Assert.Equal(2, code);
            Assert.StartsWith("error: ", stderr);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.DoesNotContain("   at ", stderr);
        }
    }

    [Fact]
    public void CompressJsonHasTheContractFieldsAndWritesARunnableModel()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var input = Path.Combine(Fixture, "model.onnx");
        var before = File.ReadAllBytes(input);
        var output = Path.Combine(folder, "small.onnx");
        var (code, stdout, stderr) = Dirnet("compress", input, "-o", output, "--method", "lowrank", "--ratio", "3", "--scope", "recurrent", "--json");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        var bytesBefore = json.GetProperty("bytes_before").GetInt64();
        var bytesAfter = json.GetProperty("bytes_after").GetInt64();
        Assert.Equal((double)bytesBefore / bytesAfter, json.GetProperty("ratio").GetDouble(), 6);
        Assert.InRange(json.GetProperty("ratio").GetDouble(), 2.94, 3.06);
        Assert.True(json.GetProperty("seconds").GetDouble() >= 0);
        var rows = json.GetProperty("matrices").EnumerateArray().ToArray();
        Assert.NotEmpty(rows);
        Assert.Equal(bytesAfter, rows.Sum(r => r.GetProperty("bytes").GetInt64()));
        Assert.All(rows, r => Assert.Equal("lowrank", r.GetProperty("method").GetString()));
        Assert.All(rows, r => Assert.Matches("^rank [0-9]+$", r.GetProperty("structure").GetString()));
        Assert.Equal(before, File.ReadAllBytes(input));
        var written = OnnxModel.Load(output);
        Assert.Equal(new FileInfo(output).Length, json.GetProperty("output_bytes").GetInt64());
        Assert.True(written.Metadata.ContainsKey("dirnet.compression"));
        Assert.All(new Runtime.NativeModel(written).CompressedWeights.Values, forms => Assert.All(forms, f => Assert.Equal("lowrank", f)));
        Assert.Equal([output], Directory.GetFiles(folder));

        // The compressed file: bench times it beside the original, inspect describes it, compress refuses it.
        (code, stdout, stderr) = Dirnet("bench", input, "--compressed", output, "--json", "--runs", "3", "--steps", "4", "--profile");
        Assert.True(code == 0, stderr);
        json = JsonDocument.Parse(stdout).RootElement;
        Assert.Contains(json.GetProperty("compressed_profile").EnumerateArray(), r => r.GetProperty("op").GetString() == "LSTM" && r.GetProperty("native_ms").GetDouble() > 0);
        Assert.Equal(json.GetProperty("ort_ms").GetDouble() / json.GetProperty("compressed_native_ms").GetDouble(),
            json.GetProperty("compressed_speedup").GetDouble(), 6);
        Assert.True(json.GetProperty("compressed_ort_ms").GetDouble() > 0 && json.GetProperty("compressed_native_bytes").GetInt64() > 0);
        (code, stdout, _) = Dirnet("inspect", output, "--json");
        Assert.Equal(0, code);
        Assert.Equal("lowrank", JsonDocument.Parse(stdout).RootElement.GetProperty("compressed").GetProperty("method").GetString());
        (code, _, stderr) = Dirnet("compress", output, "-o", Path.Combine(folder, "again.onnx"));
        Assert.Equal(2, code);
        Assert.Contains("already compressed", stderr);
        Assert.Equal([output], Directory.GetFiles(folder));
    }

    [Fact]
    public void CompressRefusesBadRequestsWithoutWritingAnything()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var input = Path.Combine(Fixture, "model.onnx");
        var before = File.ReadAllBytes(input);
        var output = Path.Combine(folder, "out.onnx");
        foreach (var args in new[]
        {
            new[] { "compress", input, "-o", output, "--ratio", "0.5" },
            ["compress", input, "-o", output, "--ratio", "100000", "--method", "lowrank"],
            ["compress", input, "-o", input, "--ratio", "2"],
            ["compress", Path.Combine(folder, "missing.onnx"), "-o", output],
        })
        {
            var (code, _, stderr) = Dirnet(args);
            Assert.Equal(2, code);
            Assert.StartsWith("error: ", stderr);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.Empty(Directory.GetFiles(folder));
        }

        Assert.Equal(before, File.ReadAllBytes(input));
    }

    [Fact]
    public void KeepDenseLeavesTheNamedMatrixOutAndUnknownNamesAreRefused()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var input = Path.Combine(Fixture, "model.onnx");
        var kept = Compression.RnnCompressor.Targets(OnnxModel.Load(input), Compression.CompressionScope.Recurrent)[0].Initializer;
        var output = Path.Combine(folder, "small.onnx");
        var (code, stdout, stderr) = Dirnet("compress", input, "-o", output, "--method", "lowrank", "--ratio", "3", "--scope", "recurrent", "--keep-dense", kept, "--json");
        Assert.True(code == 0, stderr);
        var rows = JsonDocument.Parse(stdout).RootElement.GetProperty("matrices").EnumerateArray().ToArray();
        Assert.NotEmpty(rows);
        Assert.DoesNotContain(rows, r => r.GetProperty("initializer").GetString() == kept);

        (code, _, stderr) = Dirnet("compress", input, "-o", Path.Combine(folder, "other.onnx"), "--keep-dense", "no_such_weight");
        Assert.Equal(2, code);
        Assert.Contains("'no_such_weight'", stderr);
        Assert.Equal([output], Directory.GetFiles(folder));
    }

    [Fact]
    public void InspectShowsPrecisionAndWhatTheFineTuningRecorded()
    {
        var file = Path.Combine(TestPaths.Fixtures, "fine_tuning", "lm_embedding_lstm_linear.dirnet-int8.fine_tuned.onnx");
        var (code, stdout, stderr) = Dirnet("inspect", file, "--json");
        Assert.True(code == 0, stderr);
        var compressed = JsonDocument.Parse(stdout).RootElement.GetProperty("compressed");
        Assert.Equal("distillation", compressed.GetProperty("fine_tuning").GetProperty("recipe").GetString());
        Assert.All(compressed.GetProperty("initializers").EnumerateArray().SelectMany(i => i.GetProperty("matrices").EnumerateArray()),
            m => Assert.Equal("int8", m.GetProperty("precision").GetString()));

        var plain = Dirnet("inspect", Path.Combine(TestPaths.Fixtures, "fine_tuning", "lm_embedding_lstm_linear.dirnet.onnx"), "--json");
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(plain.Stdout).RootElement.GetProperty("compressed").GetProperty("fine_tuning").ValueKind);
    }

    [Fact]
    public void CompareMeasuresACompressedFileAsItsOwnCompressionWouldBe()
    {
        var lm = Path.Combine(TestPaths.RepositoryRoot, "samples", "LanguageModel");
        var folder = TestPaths.NewTemporaryFolder();
        var file = Path.Combine(folder, "lowrank.onnx");
        Assert.Equal(0, Dirnet("compress", Path.Combine(lm, "model.onnx"), "-o", file, "--method", "lowrank", "--ratio", "3", "--scope", "recurrent").Code);
        var (code, stdout, stderr) = Dirnet("compare", Path.Combine(lm, "model.onnx"), "--task", "lm", "--data", Path.Combine(lm, "data"),
            "--tokens", "300", "--methods", "lowrank", "--ratios", "3", "--compressed", file, "--json");
        Assert.True(code == 0, stderr);
        var rows = JsonDocument.Parse(stdout).RootElement.GetProperty("rows").EnumerateArray().ToArray();
        var (compressedHere, measured) = (rows[1], rows[2]);
        Assert.Equal(["original", "lowrank", "lowrank"], rows.Select(r => r.GetProperty("method").GetString()));
        Assert.Equal(JsonValueKind.Null, compressedHere.GetProperty("source").ValueKind);
        Assert.Equal("lowrank.onnx", measured.GetProperty("source").GetString());
        Assert.False(measured.GetProperty("fine_tuned").GetBoolean());
        foreach (var field in new[] { "matrix_bytes", "file_bytes" })
        {
            Assert.Equal(compressedHere.GetProperty(field).GetInt64(), measured.GetProperty(field).GetInt64());
        }

        foreach (var field in new[] { "matrix_ratio", "file_ratio", "reconstruction_error", "output_error" })
        {
            Assert.Equal(compressedHere.GetProperty(field).GetDouble(), measured.GetProperty(field).GetDouble(), 1e-4);
        }

        Assert.Equal(compressedHere.GetProperty("metrics")[0].GetDouble(), measured.GetProperty("metrics")[0].GetDouble(), 1e-3);

        var plain = Dirnet("compare", Path.Combine(lm, "model.onnx"), "--task", "lm", "--data", Path.Combine(lm, "data"),
            "--tokens", "300", "--methods", "", "--compressed", Path.Combine(lm, "model.onnx"), "--json");
        Assert.Equal(2, plain.Code);
        Assert.Contains("is not a compressed model", plain.Stderr);
    }

    [Fact]
    public void CompareJsonHasARowPerMethodRatioAndCalibration()
    {
        var lm = Path.Combine(TestPaths.RepositoryRoot, "samples", "LanguageModel");
        var folder = TestPaths.NewTemporaryFolder();
        var markdown = Path.Combine(folder, "table.md");
        var plot = Path.Combine(folder, "plot.png");
        var (code, stdout, stderr) = Dirnet("compare", Path.Combine(lm, "model.onnx"), "--task", "lm", "--data", Path.Combine(lm, "data"),
            "--tokens", "300", "--methods", "prune", "--ratios", "3", "--calibrate", "--json", "--markdown", markdown, "--plot", plot);
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(["perplexity"], json.GetProperty("metric_names").EnumerateArray().Select(e => e.GetString()));
        var rows = json.GetProperty("rows").EnumerateArray().ToArray();
        Assert.Equal(["original", "prune", "prune"], rows.Select(r => r.GetProperty("method").GetString()));
        Assert.Equal([false, false, true], rows.Select(r => r.GetProperty("calibrated").GetBoolean()));
        Assert.Equal(13_631_488, rows[0].GetProperty("matrix_bytes").GetInt64());
        foreach (var row in rows.Skip(1))
        {
            Assert.InRange(row.GetProperty("matrix_ratio").GetDouble(), 2.94, 3.06);
            Assert.True(row.GetProperty("metrics")[0].GetDouble() > rows[0].GetProperty("metrics")[0].GetDouble());
            Assert.InRange(row.GetProperty("output_error").GetDouble(), 1e-6, 1);
        }

        Assert.Contains("| prune | fp32 | yes | 3x |", File.ReadAllText(markdown));
        var png = File.ReadAllBytes(plot);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        Assert.True(png.Length > 10_000, $"plot of {png.Length} bytes");
    }

    /// <summary>
    /// Held while a command runs: Console's writers are process-wide, and classes outside the CLI collection (public
    /// models, file payoff, low-bit precision, the bad-input corpus) run commands in parallel with it, so two commands
    /// at once would swap each other's output (an inspect's JSON was once captured empty).
    /// </summary>
    private static readonly object ConsoleLock = new();

    internal static (int Code, string Stdout, string Stderr) Dirnet(params string[] args)
    {
        lock (ConsoleLock)
        {
            return RunInProcess(args);
        }
    }

    private static (int Code, string Stdout, string Stderr) RunInProcess(string[] args)
    {
        var originalOut = Console.Out;
        var originalError = Console.Error;
        // Not disposed: a display's refresh thread (Spectre.Console's status and progress) may still write once after
        // the command has returned, and a closed writer would throw on that thread and stop the test host.
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        // Spectre.Console's static console keeps the writer it was made with: give it this command's, without ANSI
        // styling (as for any redirected output) and wide enough that table cells and lines are not wrapped.
        var previousConsole = Spectre.Console.AnsiConsole.Console;
        Spectre.Console.AnsiConsole.Console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Ansi = Spectre.Console.AnsiSupport.No,
            Interactive = Spectre.Console.InteractionSupport.No,
            Out = new Spectre.Console.AnsiConsoleOutput(stdout),
        });
        Spectre.Console.AnsiConsole.Profile.Width = 400;
        try
        {
            var code = Cli.Program.Main(args);
            return (code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
            Spectre.Console.AnsiConsole.Console = previousConsole;
        }
    }
}
