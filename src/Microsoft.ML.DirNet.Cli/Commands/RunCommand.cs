using System.CommandLine;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Cli.Commands;

// Microsoft.ML declares a namespace Microsoft.ML.Command, which would otherwise shadow the System.CommandLine type here.
using Command = System.CommandLine.Command;

/// <summary><c>dirnet run MODEL --data DIR [--ort]</c>: run on backend-test style inputs and compare with expected outputs.</summary>
internal static class RunCommand
{
    /// <summary>Largest absolute difference accepted against DIR/output_K.pb.</summary>
    private const double Tolerance = 1e-4;

    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model to run." };
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "Folder with input_0.pb, input_1.pb, ... (serialized ONNX TensorProto, in the model's input order) and optionally output_K.pb to compare against.",
            Required = true,
        };
        var ort = new Option<bool>("--ort") { Description = "Run through ONNX Runtime instead of the native engine." };
        var command = new Command("run",
            $"Run a model on inputs in the ONNX backend-test layout; print each output's name and shape and, where DIR/output_K.pb exist, the largest absolute difference (exit code 1 above {Tolerance:G}). " + ExitCodes.Help)
        {
            model, data, ort,
        };
        command.SetAction(result => CommandAction.Run(() => Execute(result.GetValue(model)!, result.GetValue(data)!, result.GetValue(ort))));
        return command;
    }

    private static int Execute(FileInfo file, DirectoryInfo data, bool useOrt)
    {
        var loaded = OnnxModel.Load(CommandAction.ExistingFile(file));
        var folder = CommandAction.ExistingDirectory(data);
        var inputs = TensorFile.ReadSeries(folder, "input");
        if (inputs.Length != loaded.Graph.Inputs.Count)
        {
            throw new DirNetException(
                $"'{folder}' holds {inputs.Length} input_K.pb files but the model takes {loaded.Graph.Inputs.Count} inputs ({string.Join(", ", loaded.Graph.Inputs.Select(i => i.Name))}).");
        }

        Tensor[] outputs;
        using (var engine = new EngineChoice(loaded, useOrt))
        {
            outputs = engine.Model.Run(inputs);
        }

        var expected = TensorFile.ReadSeries(folder, "output");
        var worst = 0.0;
        Console.WriteLine($"engine: {(useOrt ? "ONNX Runtime" : "native")}");
        for (var k = 0; k < outputs.Length; k++)
        {
            var line = $"{TerminalText.Plain(loaded.Graph.Outputs[k].Name)}: {outputs[k]}";
            if (k < expected.Length)
            {
                var diff = TensorComparer.MaxAbsoluteDifference(outputs[k], expected[k]);
                worst = Math.Max(worst, diff);
                line += $"  max |diff| vs output_{k}.pb = {diff:G4}";
            }

            Console.WriteLine(line);
        }

        if (expected.Length > 0 && worst > Tolerance)
        {
            Console.Error.WriteLine($"error: outputs differ from the expected ones by up to {worst:G4} (> {Tolerance:G}).");
            return ExitCodes.CheckFailed;
        }

        return ExitCodes.Success;
    }
}
