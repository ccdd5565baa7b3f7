using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.DirNet.Cli;

/// <summary>Runs a verb's body so that every failure is one clear line on stderr and an exit code, never a stack trace.</summary>
internal static class CommandAction
{
    /// <summary>JSON settings of every <c>--json</c> output: snake_case names, indented.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled: nothing was written.");
            return ExitCodes.Cancelled;
        }
        catch (DirNetException e)
        {
            Error(e.Message);
            return ExitCodes.InvalidInput;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Error(e.Message);
            return ExitCodes.InvalidInput;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"internal error ({e.GetType().Name}): {TerminalText.Plain(e.Message)}");
            if (Environment.GetEnvironmentVariable("DIRNET_TRACE") == "1")
            {
                Console.Error.WriteLine(TerminalText.Lines(e.ToString()));
            }

            return ExitCodes.InternalError;
        }
    }

    /// <summary>
    /// Writes <c>error: MESSAGE</c> as one line on stderr. Messages quote names from the model and the command line,
    /// so they are escaped first: a newline in a name shows as <c>\n</c>, an ESC as <c>\x1b</c>.
    /// </summary>
    public static void Error(string message) => Console.Error.WriteLine($"error: {TerminalText.Plain(message)}");

    /// <summary>Checks that a path given on the command line exists, with an error naming it.</summary>
    public static string ExistingFile(FileInfo file) =>
        file.Exists ? file.FullName : throw new DirNetException($"Model file '{file.FullName}' does not exist.");

    /// <summary>The CTC alphabet file: the one given, else alphabet.txt in the data folder or its parent.</summary>
    public static string AlphabetPath(string dataFolder, FileInfo? alphabet) =>
        alphabet?.FullName
        ?? new[] { Path.Combine(dataFolder, "alphabet.txt"), Path.Combine(dataFolder, "..", "alphabet.txt") }.FirstOrDefault(File.Exists)
        ?? throw new DirNetException($"No alphabet.txt in '{dataFolder}' or its parent; give one with --alphabet.");

    /// <summary>Checks that a data folder exists.</summary>
    public static string ExistingDirectory(DirectoryInfo directory) =>
        directory.Exists ? directory.FullName : throw new DirNetException($"Data folder '{directory.FullName}' does not exist.");
}
