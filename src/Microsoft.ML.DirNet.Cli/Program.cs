using System.CommandLine;
using Microsoft.ML.DirNet.Cli.Commands;

namespace Microsoft.ML.DirNet.Cli;

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
        return root.Parse(args).Invoke();
    }
}
