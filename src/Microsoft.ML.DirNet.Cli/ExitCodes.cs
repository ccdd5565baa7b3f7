namespace Microsoft.ML.DirNet.Cli;

/// <summary>Process exit codes of every <c>dirnet</c> verb; scripts rely on them.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>The command ran but its check failed (e.g. <c>run</c> found outputs differing above 1e-4).</summary>
    public const int CheckFailed = 1;

    /// <summary>Bad input: a missing, corrupt or unsupported model, data or option. The message says what.</summary>
    public const int InvalidInput = 2;

    /// <summary>An unexpected internal error (a bug): please report it with the message.</summary>
    public const int InternalError = 3;

    /// <summary>Cancelled by the user (Ctrl+C) before finishing; no output file was written.</summary>
    public const int Cancelled = 130;

    /// <summary>Text for <c>--help</c>.</summary>
    public const string Help = "Exit codes: 0 success, 1 check failed, 2 invalid input (model, data or options), 3 internal error, 130 cancelled (Ctrl+C).";
}
