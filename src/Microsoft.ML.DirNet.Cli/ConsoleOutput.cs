using Spectre.Console;

namespace Microsoft.ML.DirNet.Cli;

/// <summary>
/// Where the tool writes for people. At a terminal, tables fit its width and progress draws in place. Piped or
/// redirected (as scripts and CI read it), tables take the width they need instead of wrapping at 80 columns mid-word,
/// and progress goes to stderr, so stdout holds only the results; <c>--no-progress</c> turns progress off.
/// </summary>
internal static class ConsoleOutput
{
    /// <summary>Table width when stdout is not a terminal: wide enough that no cell wraps.</summary>
    private const int RedirectedWidth = 4096;

    /// <summary>Whether progress is drawn at all (<c>--no-progress</c> clears it).</summary>
    public static bool ShowProgress { get; set; } = true;

    /// <summary>Sets up the console for stdout as it is: a terminal, or a pipe or file.</summary>
    public static void Configure()
    {
        if (Console.IsOutputRedirected)
        {
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Out = new AnsiConsoleOutput(Console.Out),
            });
            AnsiConsole.Console.Profile.Width = RedirectedWidth;
        }
    }

    /// <summary>
    /// Ends a progress display's tasks. Redirected, Spectre.Console prints a line per task at each refresh but none when
    /// the work is done, so the last line a script saw could say 66 %: this prints the final one.
    /// </summary>
    public static void Finished(IAnsiConsole console, params ProgressTask[] tasks)
    {
        if (Console.IsOutputRedirected)
        {
            foreach (var task in tasks)
            {
                console.MarkupLine($"{task.Description}: 100%"); // descriptions are markup, escaped where they were set
            }
        }
    }

    /// <summary>
    /// The console progress displays draw on: stdout's at a terminal, stderr's when stdout is redirected; null when
    /// progress is off.
    /// </summary>
    public static IAnsiConsole? Progress => !ShowProgress ? null
        : Console.IsOutputRedirected ? AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Out = new AnsiConsoleOutput(Console.Error) })
        : AnsiConsole.Console;
}
