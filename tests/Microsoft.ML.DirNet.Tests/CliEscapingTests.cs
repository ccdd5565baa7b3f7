using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using static Microsoft.ML.DirNet.Tests.CliTests;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// A hostile model's names reach the terminal as text, never as Spectre markup or control characters, and errors stay
/// one line; a bad command line is one error line with exit code 2.
/// </summary>
[Collection(nameof(CliCollection))]
public sealed class CliEscapingTests
{
    private static readonly string Fixture = Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear");

    /// <summary>Spectre markup that would print a clickable link.</summary>
    private const string Link = "[link=https://x]click[/]";

    /// <summary>A raw OSC 8 hyperlink: what a terminal would turn into a link.</summary>
    private const string Osc8 = "\u001b]8;;https://x\u0007";

    [Fact]
    public void EveryVerbShowsHostileNamesEscaped()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var model = HostileCopyOfFixture(folder);
        var data = Path.Combine(Fixture, "test_data_set_0");
        var compressed = Path.Combine(folder, "compressed.onnx");
        var runs = new[]
        {
            new[] { "inspect", model },
            ["run", model, "--data", data],
            ["run", model, "--data", data, "--ort"],
            ["compress", model, "-o", compressed, "--method", "lowrank", "--ratio", "3", "--scope", "recurrent"],
            ["bench", model, "--runs", "1", "--steps", "2", "--profile"],
            ["bench", model, "--compressed", compressed, "--runs", "1", "--steps", "2"],
            ["inspect", compressed],
        };
        foreach (var args in runs)
        {
            var (code, stdout, stderr) = Dirnet(args);
            Assert.True(code == 0, $"{args[0]}: exit {code}: {stderr}");
            AssertSafe(stdout);
            AssertSafe(stderr);
        }

        // The names are there, escaped: the markup as written, the controls as \x1b, \u202e, \n.
        var (_, inspected, _) = Dirnet("inspect", model);
        Assert.Contains("│ W[ ", inspected, StringComparison.Ordinal);
        Assert.Contains(@"W[20\x1b[1m\n\u202e", inspected, StringComparison.Ordinal);
        Assert.Contains(@"\x1b[2J\u202e", inspected, StringComparison.Ordinal);
        Assert.Contains(@"\u202e", inspected, StringComparison.Ordinal);
        Assert.Contains(@"\n", inspected, StringComparison.Ordinal);
        Assert.Contains(@"[link=https://x]", inspected, StringComparison.Ordinal);
        Assert.Contains(@"producer 'evil\x1b[5m[bold]'", inspected, StringComparison.Ordinal);

        var (_, ran, _) = Dirnet("run", model, "--data", data);
        Assert.Contains(@"out0\x1b]8;;https://x\x07link\x1b]8;;\x07\nnext: Float[9, 3, 50]", ran, StringComparison.Ordinal);

        var (_, profiled, _) = Dirnet("bench", model, "--runs", "1", "--steps", "2", "--profile");
        Assert.Contains(@"LSTM W[20\x1b[1m\n\u202e", profiled, StringComparison.Ordinal);

        // What a fine-tuning recorded (metadata JSON, where raw C1 and bidi characters are valid) is printed escaped too.
        var tuned = ModelProto.Parser.ParseFrom(File.ReadAllBytes(compressed));
        tuned.MetadataProps.Add(new StringStringEntryProto { Key = "dirnet.fine_tuning", Value = $"{{\"recipe\": \"{Link}\u202e\u0085\"}}" });
        var tunedPath = Path.Combine(folder, "tuned.onnx");
        File.WriteAllBytes(tunedPath, tuned.ToByteArray());
        var (tunedCode, tunedText, tunedError) = Dirnet("inspect", tunedPath);
        Assert.True(tunedCode == 0, tunedError);
        AssertSafe(tunedText);
        Assert.Contains(@"(python/dirnet_torch): {""recipe"": ""[link=https://x]click[/]\u202e\x85""}", tunedText, StringComparison.Ordinal);

        // An error quoting the names (the model takes three inputs, the folder holds none) is one escaped line.
        var (failed, _, error) = Dirnet("run", model, "--data", folder);
        Assert.Equal(2, failed);
        AssertOneErrorLine(error);
        Assert.Contains(@"in0\x1b[31m\u202e", error, StringComparison.Ordinal);
    }

    [Fact]
    public void HostileOperatorTypeIsTextInInspectAndOneLineInErrors()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var opType = $"{Link}\n{Osc8}\u202e\u009b31m";
        var node = new NodeProto { OpType = opType, Name = "W[", Domain = "evil\u001b[31m.domain" };
        node.Input.Add("x\u001b[2J");
        node.Output.Add("y\u2066");
        var graph = new GraphProto { Name = "hostile" };
        graph.Node.Add(node);
        graph.Input.Add(FloatValue("x\u001b[2J", 2, 3));
        graph.Output.Add(FloatValue("y\u2066", 2, 3));
        var proto = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = Link };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 14 });
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "evil\u001b[31m.domain", Version = 1 });
        var model = Path.Combine(folder, "hostile_op.onnx");
        File.WriteAllBytes(model, proto.ToByteArray());
        var data = Path.Combine(folder, "data");
        Directory.CreateDirectory(data);
        TensorFile.Write(Path.Combine(data, "input_0.pb"), new Tensors.Tensor<float>([2, 3], new float[6]));

        var (code, stdout, stderr) = Dirnet("inspect", model);
        Assert.True(code == 0, stderr);
        AssertSafe(stdout);
        Assert.Contains(@"evil\x1b[31m.domain.[link=https://x]click[/]\n\x1b]8;;https://x\x07\u202e\x9b31m×1 (not in native engine)", stdout, StringComparison.Ordinal);

        foreach (var args in new[]
        {
            new[] { "run", model, "--data", data },
            ["run", model, "--data", data, "--ort"],
            ["bench", model, "--runs", "1"],
            ["compress", model, "-o", Path.Combine(folder, "out.onnx")],
        })
        {
            (code, stdout, stderr) = Dirnet(args);
            Assert.True(code is 0 or 2, $"{args[0]}: exit {code}: {stderr}");
            AssertSafe(stdout);
            if (code == 2)
            {
                AssertOneErrorLine(stderr);
            }
        }
    }

    [Fact]
    public void JsonOutputEscapesControlCharactersAsUnicodeEscapes()
    {
        var model = HostileCopyOfFixture(TestPaths.NewTemporaryFolder());
        var (code, stdout, stderr) = Dirnet("inspect", model, "--json");
        Assert.True(code == 0, stderr);
        AssertSafe(stdout);
        Assert.Contains(@"\u001B[1m\n\u202E", stdout, StringComparison.Ordinal);
        Assert.Contains(@"\u202E", stdout, StringComparison.Ordinal);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Contains(json.GetProperty("recurrent_layers").EnumerateArray(), l => l.GetProperty("node_name").GetString() == "W[20\u001b[1m\n\u202e");
    }

    [Fact]
    public void BadCommandLinesAreOneErrorLineWithExitCodeTwoAndNoHelp()
    {
        var model = Path.Combine(Fixture, "model.onnx");
        var output = Path.Combine(TestPaths.NewTemporaryFolder(), "out.onnx");
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["compress", model, "-o", output, "--method", "foo"], "'foo'"),
            (["compress", model, "-o", output, "--ratio", "abc"], "--ratio"),
            (["compress", model], "--output"),
            (["compress", model, "-o", output, "--no-such-option"], "--no-such-option"),
            (["inspect"], "'inspect'"),
            (["no-such-verb"], "no-such-verb"),
            ([], "command"),
            (["bench", model, "--batch", "99999999999"], "--batch"),
            (["run", model, "--data", "\u001b]8;;https://x\u0007x", "--bogus\u202e"], @"--bogus\u202e"),
        })
        {
            var (code, stdout, stderr) = Dirnet(args);
            Assert.True(code == 2, $"{string.Join(' ', args)}: exit {code}");
            Assert.Empty(stdout);
            AssertOneErrorLine(stderr);
            Assert.Contains(expected, stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Usage:", stderr);
        }

        // Allowed values listed by System.CommandLine on lines of their own come out on the one line.
        Assert.Contains("'lowrank'", Dirnet("compress", model, "-o", output, "--method", "foo").Stderr);

        foreach (var help in new[] { new[] { "--help" }, ["compress", "--help"], ["compress", "--method", "foo", "-h"] })
        {
            var (code, stdout, _) = Dirnet(help);
            Assert.Equal(0, code);
            Assert.Contains("Usage:", stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void NulCharacterInAPathIsAnErrorNamingTheOption()
    {
        var model = Path.Combine(Fixture, "model.onnx");
        var data = Path.Combine(Fixture, "test_data_set_0");
        foreach (var (args, option) in new (string[], string)[]
        {
            (["inspect", "model\0.onnx"], "<model>"),
            (["run", model, "--data", data + "\0x"], "--data"),
            (["compress", model, "-o", "out\0.onnx"], "--output"),
            (["compress", model, "-o", "out.onnx", "--calibration", "a\0b"], "--calibration"),
            (["bench", model, "--compressed", "a\0b"], "--compressed"),
            (["eval", model, "--task", "lm", "--data", data, "--split", "a\0b"], "--split"),
            (["compare", model, "--task", "lm", "--data", data, "--markdown", "a\0b"], "--markdown"),
        })
        {
            var (code, stdout, stderr) = Dirnet(args);
            Assert.True(code == 2, $"{string.Join(' ', args)}: exit {code}: {stderr}");
            Assert.Empty(stdout);
            AssertOneErrorLine(stderr);
            Assert.Contains(option, stderr, StringComparison.Ordinal);
            Assert.Contains("NUL", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void AbsurdBenchSizesAreRefusedNamingTheOption()
    {
        var model = Path.Combine(Fixture, "model.onnx");
        foreach (var (args, option) in new (string[], string)[]
        {
            (["--batch", "2147483647"], "--batch"),
            (["--batch", "100000", "--steps", "100000"], "--steps"),
            (["--batch", "0"], "--batch"),
            (["--batch", "-1"], "--batch"),
            (["--steps", "0"], "--steps"),
            (["--steps", "-5"], "--steps"),
            (["--runs", "0"], "--runs"),
            (["--runs", "2147483647"], "--runs"),
        })
        {
            var (code, stdout, stderr) = Dirnet(["bench", model, .. args]);
            Assert.True(code == 2, $"{string.Join(' ', args)}: exit {code}: {stderr}");
            Assert.Empty(stdout);
            AssertOneErrorLine(stderr);
            Assert.Contains(option, stderr, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("plain name.W[forward]", "plain name.W[forward]")]
    [InlineData("a\u001b[31mb", @"a\x1b[31mb")]
    [InlineData("line\nbreak\r\ttab\0nul\u0007bel", @"line\nbreak\r\ttab\x00nul\x07bel")]
    [InlineData("del\u007f csi\u009b nel\u0085", @"del\x7f csi\x9b nel\x85")]
    [InlineData("\u202aLRE \u202eRLO \u2066LRI \u2069PDI \u200fRLM \u2028LS", @"\u202aLRE \u202eRLO \u2066LRI \u2069PDI \u200fRLM \u2028LS")]
    [InlineData("ünïcödé ✓ 字", "ünïcödé ✓ 字")]
    public void TerminalTextShowsEveryControlCharacterAsAnEscape(string name, string shown)
    {
        Assert.Equal(shown, Cli.TerminalText.Plain(name));
        Assert.Equal(Spectre.Console.Markup.Escape(shown), Cli.TerminalText.Markup(name));
        Assert.Equal("[[link=https://x]]click[[/]]", Cli.TerminalText.Markup(Link));
    }

    /// <summary>
    /// The fixture with every name hostile: inputs, outputs and initializers renamed consistently (ESC sequences, an
    /// OSC 8 link, markup, U+202E, a newline), node names like <c>W[</c>, and a producer holding markup and ESC.
    /// </summary>
    private static string HostileCopyOfFixture(string folder)
    {
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(Fixture, "model.onnx")));
        var graph = proto.Graph;
        var names = new Dictionary<string, string>();
        for (var i = 0; i < graph.Input.Count; i++)
        {
            names.TryAdd(graph.Input[i].Name, $"in{i}\u001b[31m\u202e");
        }

        for (var i = 0; i < graph.Output.Count; i++)
        {
            names.TryAdd(graph.Output[i].Name, $"out{i}{Osc8}link\u001b]8;;\u0007\nnext");
        }

        for (var i = 0; i < graph.Initializer.Count; i++)
        {
            names.TryAdd(graph.Initializer[i].Name, $"{Link}{i}\u001b[2J\u202e");
        }

        string Rename(string name) => names.TryGetValue(name, out var renamed) ? renamed : name;
        foreach (var value in graph.Input.Concat(graph.Output).Concat(graph.ValueInfo))
        {
            value.Name = Rename(value.Name);
        }

        foreach (var tensor in graph.Initializer)
        {
            tensor.Name = Rename(tensor.Name);
        }

        for (var n = 0; n < graph.Node.Count; n++)
        {
            var node = graph.Node[n];
            // The first recurrent layer is named just "W[" (an unclosed markup tag), every other node holds controls.
            node.Name = node.OpType == "LSTM" && !graph.Node.Any(other => other.Name == "W[") ? "W[" : $"W[{n}\u001b[1m\n\u202e";
            for (var i = 0; i < node.Input.Count; i++)
            {
                node.Input[i] = Rename(node.Input[i]);
            }

            for (var i = 0; i < node.Output.Count; i++)
            {
                node.Output[i] = Rename(node.Output[i]);
            }
        }

        proto.ProducerName = "evil\u001b[5m[bold]";
        proto.MetadataProps.Add(new StringStringEntryProto { Key = "\u001b[31mkey\n", Value = $"{Link}\u202e" });
        var path = Path.Combine(folder, "hostile.onnx");
        File.WriteAllBytes(path, proto.ToByteArray());
        return path;
    }

    private static ValueInfoProto FloatValue(string name, params long[] shape)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto() };
        foreach (var d in shape)
        {
            tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    /// <summary>No control character but the line ends, no bidi control, no OSC 8 link, no ANSI escape.</summary>
    private static void AssertSafe(string text)
    {
        var bad = text.Where(c => (c < ' ' && c is not '\n' and not '\r') || c is >= '\u007f' and <= '\u009f'
            || c is >= '\u202a' and <= '\u202e' || c is >= '\u2066' and <= '\u2069').Distinct().ToArray();
        Assert.True(bad.Length == 0, $"raw control characters {string.Join(", ", bad.Select(c => $"U+{(int)c:X4}"))} in: {text}");
        Assert.DoesNotContain("\u001b]8", text, StringComparison.Ordinal);
    }

    private static void AssertOneErrorLine(string stderr)
    {
        AssertSafe(stderr);
        Assert.StartsWith("error: ", stderr);
        Assert.Single(stderr.TrimEnd('\n', '\r').Split('\n'));
        Assert.DoesNotContain("   at ", stderr);
    }
}
