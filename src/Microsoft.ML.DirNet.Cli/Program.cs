using System.CommandLine;
using System.CommandLine.Parsing;
using Microsoft.ML.DirNet.Cli.Commands;

namespace Microsoft.ML.DirNet.Cli;

// Microsoft.ML declares a namespace Microsoft.ML.Command, which would otherwise shadow the System.CommandLine type here.
using Command = System.CommandLine.Command;

/// <summary>The <c>dirnet</c> command line: each verb lives in Commands/ and owns no logic beyond presenting results.</summary>
public static class Program
{
    /// <summary>Parses the arguments and runs the chosen verb; returns the exit code.</summary>
    public static int Main(string[] args)
    {
        var root = new RootCommand("dirnet: inspect, compress, run, benchmark and evaluate recurrent ONNX models (LSTM, GRU, RNN) in a native managed engine. " + ExitCodes.Help)
        {
            InspectCommand.Create(),
            RunCommand.Create(),
            BenchCommand.Create(),
            EvalCommand.Create(),
            CompressCommand.Create(),
            CompareCommand.Create(),
        };
        var noProgress = new Option<bool>("--no-progress")
        {
            Description = "Draw no progress (it goes to stderr when stdout is redirected, and is off with --json).",
            Recursive = true,
        };
        root.Options.Add(noProgress);
        RefuseNulCharacters(root);
        var parsed = root.Parse(args);
        // A bad command line is invalid input like any other: one line on stderr and exit code 2, not the help text
        // (System.CommandLine's own error action would print the help on stdout and return 1). --help and --version
        // parse without errors, so they still print.
        if (parsed.Errors.Count > 0)
        {
            CommandAction.Error(string.Join("; ", parsed.Errors.Select(e => OneLine(e.Message)).Distinct()));
            return ExitCodes.InvalidInput;
        }

        ConsoleOutput.Configure();
        ConsoleOutput.ShowProgress = !parsed.GetValue(noProgress);
        return parsed.Invoke();
    }

    /// <summary>
    /// A parse error as one line: System.CommandLine lists the allowed values of an option on lines of their own
    /// ("Must be one of:\n\t'a'\n\t'b'"), joined here as "Must be one of: 'a', 'b'".
    /// </summary>
    private static string OneLine(string message)
    {
        var lines = message.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return lines.Length <= 1 ? message.Trim() : lines[0] + " " + string.Join(", ", lines.Skip(1));
    }

    /// <summary>
    /// Makes a NUL character in any option or argument a parse error that names it. .NET refuses such a path with an
    /// exception while the command line is converted (FileInfo), or later when a file is opened; no option takes one.
    /// </summary>
    private static void RefuseNulCharacters(Command command)
    {
        foreach (var option in command.Options)
        {
            option.Validators.Add(result =>
            {
                if (result.Tokens.Any(t => t.Value.Contains('\0')))
                {
                    result.AddError($"{result.Option.Name}: the value contains a NUL character (\\0); no file name can hold one.");
                }
            });
        }

        foreach (var argument in command.Arguments)
        {
            argument.Validators.Add(result =>
            {
                if (result.Tokens.Any(t => t.Value.Contains('\0')))
                {
                    result.AddError($"<{result.Argument.Name}>: the value contains a NUL character (\\0); no file name can hold one.");
                }
            });
        }

        foreach (var subcommand in command.Subcommands)
        {
            RefuseNulCharacters(subcommand);
        }
    }
}
