using System.CommandLine;
using System.Text.Json;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Export;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Weights;
using Spectre.Console;

namespace Microsoft.ML.DirNet.Cli.Commands;

// Microsoft.ML declares a namespace Microsoft.ML.Command, which would otherwise shadow the System.CommandLine type here.
using Command = System.CommandLine.Command;

/// <summary><c>dirnet inspect MODEL</c>: opset, ops (and which the engine lacks), recurrent layers, compressible weights.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model to describe." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of tables (with inputs and outputs: name, type, shape)." };
        var command = new Command("inspect",
            "Describe an ONNX model: its opset and operators (marking those the native engine lacks), its inputs and outputs (names, types, shapes), each recurrent layer, and every compressible weight matrix with its initializer (the name --keep-dense takes), shape, bytes and share of the file. " + ExitCodes.Help)
        {
            model, json,
        };
        command.SetAction(result => CommandAction.Run(() => Execute(result.GetValue(model)!, result.GetValue(json))));
        return command;
    }

    private static int Execute(FileInfo file, bool json)
    {
        var path = CommandAction.ExistingFile(file);
        var model = OnnxModel.Load(path);
        var fileBytes = new FileInfo(path).Length;
        var factored = CompressedOnnxReader.Read(model);
        var unsupported = NativeModel.FindUnsupportedOperators(model, factored);
        // Weights in Constant nodes and subgraphs are shown under the main-graph names compress gives them.
        if (factored is null)
        {
            model = WeightHoisting.Hoist(model, NativeEngine.Instance);
        }

        // One entry per operator and domain, counting the nodes inside subgraphs; the engine names an operator of
        // another domain "domain.op_type".
        var operators = WeightFinder.AllNodes(model).Select(n => n.Node).GroupBy(n => (n.Domain, n.OpType))
            .Select(g => (Key: g.Key.Domain.Length == 0 ? g.Key.OpType : $"{g.Key.Domain}.{g.Key.OpType}", Group: g))
            .OrderBy(o => o.Key, StringComparer.Ordinal)
            .Select(o => new { name = o.Group.Key.OpType, domain = o.Group.Key.Domain, count = o.Group.Count(), supported = !unsupported.ContainsKey(o.Key), display = o.Key })
            .ToArray();
        var compressedShapes = factored?.Initializers.ToDictionary(i => i.Entry.Name, i => i.Entry.Shape) ?? [];
        // A compressed model's W is rebuilt by nodes, not stored: its input size comes from the recorded shape.
        // By position, not name: ONNX allows repeated and empty node names.
        var recurrentNodes = WeightFinder.AllNodes(model).Select(n => n.Node).Where(WeightFinder.IsRecurrent).ToArray();
        var layers = WeightFinder.FindRecurrentLayers(model).Select(l => l.InputSize == 0
            && recurrentNodes[l.Index] is { Inputs.Count: > 1 } node
            && compressedShapes.TryGetValue(node.Inputs[1], out var shape) ? l with { InputSize = shape[^1] } : l).ToArray();
        // The factors of a compressed model are not candidates for another compression (compress refuses the file).
        var weights = factored is null ? WeightFinder.FindWeights(model) : [];
        var compressibleBytes = weights.DistinctBy(w => w.Initializer)
            .Sum(w => model.Graph.GetInitializerBytes(w.Initializer));

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = path,
                file_bytes = fileBytes,
                producer = model.ProducerName,
                opset = model.DefaultOpset,
                operators = operators.Select(o => new { o.name, o.domain, o.count, o.supported }),
                inputs = model.Graph.Inputs.Select(ValueJson),
                outputs = model.Graph.Outputs.Select(ValueJson),
                unsupported_operators = unsupported.Keys.ToArray(),
                recurrent_layers = layers,
                weights = weights.Select(w => new
                {
                    name = w.DisplayName, w.Initializer, node = w.NodeName, graph = w.GraphPath, op = w.OpType, role = w.Role.ToString(),
                    w.Direction, w.Rows, w.Columns, w.Parameters, w.Bytes,
                }),
                compressible_bytes = compressibleBytes,
                compressible_share = (double)compressibleBytes / fileBytes,
                compressed = factored is null ? null : new
                {
                    method = factored.Metadata.Method, target_ratio = factored.Metadata.TargetRatio, scope = factored.Metadata.Scope,
                    seed = factored.Metadata.Seed, calibrated = factored.Metadata.Calibrated,
                    fine_tuning = FineTuning(model) is { } note ? JsonDocument.Parse(note).RootElement : (JsonElement?)null,
                    initializers = factored.Initializers.Select(i => new
                    {
                        name = i.Entry.Name, shape = i.Entry.Shape,
                        matrices = i.Matrices.Select(m => new { method = m.Method, rows = m.Rows, columns = m.Columns, structure = m.Structure, precision = StoredMatrix.PrecisionOf(m), group = m.GroupSize, bytes = m.StorageBytes }),
                    }),
                },
            }, CommandAction.Json));
            return ExitCodes.Success;
        }

        // Everything the model names (op types, nodes, initializers, metadata) goes through TerminalText: never markup, never a control character.
        var console = AnsiConsole.Console;
        console.MarkupLine($"[bold]{TerminalText.Markup(path)}[/]: {fileBytes:N0} bytes, producer '{TerminalText.Markup(model.ProducerName)}', opset {model.DefaultOpset}");
        console.MarkupLine("Operators: " + string.Join(", ", operators.Select(o =>
            o.supported ? $"{TerminalText.Markup(o.display)}×{o.count}" : $"[red]{TerminalText.Markup(o.display)}×{o.count} (not in native engine)[/]")));

        var layerTable = new Table().Title("Recurrent layers").AddColumns("#", "node", "type", "hidden", "input", "directions", "bias");
        foreach (var l in layers)
        {
            layerTable.AddRow(TerminalText.Row(l.Index.ToString(), l.NodeName, l.OpType, l.HiddenSize.ToString(), l.InputSize.ToString(),
                l.Directions == 2 ? "bidirectional" : l.Direction, l.HasBias ? "yes" : "no"));
        }

        var valueTable = new Table().Title("Inputs and outputs").AddColumns("", "name", "type", "shape");
        foreach (var (kind, values) in new[] { ("input", model.Graph.Inputs), ("output", model.Graph.Outputs) })
        {
            foreach (var value in values)
            {
                valueTable.AddRow(TerminalText.Row(kind, value.Name, TypeName(value), value.ShapeText));
            }
        }

        console.Write(valueTable);
        console.Write(layerTable);
        if (factored is not null)
        {
            var meta = factored.Metadata;
            var compressedTable = new Table().Title(TerminalText.Markup($"Compressed by DirNet: {meta.Method} at ratio {meta.TargetRatio:0.##} over the {meta.Scope}, seed {meta.Seed}{(meta.Calibrated ? ", calibrated" : "")}"))
                .AddColumns("initializer", "direction", "rows × cols", "method", "structure", "precision", "bytes");
            foreach (var initializer in factored.Initializers)
            {
                for (var d = 0; d < initializer.Matrices.Length; d++)
                {
                    var m = initializer.Matrices[d];
                    compressedTable.AddRow(TerminalText.Row(initializer.Entry.Name, d.ToString(), $"{m.Rows} × {m.Columns}", m.Method, m.Structure,
                        StoredMatrix.LabelOf(m), m.StorageBytes.ToString("N0")));
                }
            }

            console.Write(compressedTable);
            if (FineTuning(model) is { } fineTuning)
            {
                console.MarkupLine($"Fine-tuned after compression (python/dirnet_torch): {TerminalText.Markup(fineTuning)}");
            }

            console.MarkupLine("This model is already compressed: `dirnet compress` refuses it; compress the original model to change the result.");
            return ExitCodes.Success;
        }

        // One row per stored matrix: a table read by two nodes (a tied embedding) is one matrix, so the shares add up.
        var weightTable = new Table().Title("Compressible weight matrices (y = W·x)")
            .AddColumns("matrix", "initializer (--keep-dense)", "read in", "role", "rows × cols", "params", "bytes", "share of file");
        foreach (var uses in weights.GroupBy(w => (w.Initializer, w.Direction)))
        {
            var w = uses.First();
            var readIn = string.Join(", ", uses.Select(u => u.GraphPath.Length == 0 ? "main graph" : u.GraphPath).Distinct());
            weightTable.AddRow(TerminalText.Row(w.DisplayName, w.Initializer, readIn, string.Join(", ", uses.Select(u => u.Role.ToString()).Distinct()),
                $"{w.Rows} × {w.Columns}", w.Parameters.ToString("N0"), w.Bytes.ToString("N0"), $"{100.0 * w.Bytes / fileBytes:F1} %"));
        }

        console.Write(weightTable);
        console.MarkupLineInterpolated($"Compressible weights: {compressibleBytes:N0} bytes, {100.0 * compressibleBytes / fileBytes:F1} % of the file.");
        return ExitCodes.Success;
    }

    /// <summary>A graph input or output as JSON: name, element type (null when not a tensor of a known type), shape (null when undeclared; a dimension is a number, a symbol, or null).</summary>
    private static object ValueJson(OnnxValueInfo value) => new
    {
        name = value.Name,
        type = value.ElementType?.ToString().ToLowerInvariant(),
        shape = value.Dimensions?.Select(d => d.Value is { } size ? (object)size : d.Symbol).ToArray(),
    };

    private static string TypeName(OnnxValueInfo value) => value.ElementType?.ToString().ToLowerInvariant() ?? (value.IsTensor ? "?" : "not a tensor");

    /// <summary>What python/dirnet_torch recorded when it fine-tuned the file (JSON), or null.</summary>
    private static string? FineTuning(OnnxModel model) =>
        model.Metadata.TryGetValue(CompressedFileMeasurement.FineTuningKey, out var note) && IsJson(note) ? note : null;

    private static bool IsJson(string text)
    {
        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
