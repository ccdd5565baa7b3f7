namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// Whether the run on this thread quantizes the inputs of its int8 and low-bit matrices' products
/// (<see cref="Runtime.NativeModel.QuantizeInt8Activations"/>). A run sets it for its duration, as
/// <see cref="Runtime.NodeObservation"/> does its observer, so the matrices, shared by every model and thread that load
/// them, need not carry it.
/// </summary>
internal static class ActivationQuantization
{
    [ThreadStatic]
    private static bool t_on;

    /// <summary>Whether this thread's run quantizes the inputs of int8 and low-bit products.</summary>
    public static bool IsOn => t_on;

    /// <summary>Sets it for this thread until the returned scope is disposed (runs nest).</summary>
    public static Scope Begin(bool on)
    {
        var previous = t_on;
        t_on = on;
        return new Scope(previous);
    }

    /// <summary>Restores the setting that was current before <see cref="Begin"/>.</summary>
    public readonly struct Scope(bool previous) : IDisposable
    {
        public void Dispose() => t_on = previous;
    }
}
