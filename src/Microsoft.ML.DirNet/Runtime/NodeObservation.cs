using Microsoft.ML.DirNet.Onnx;

namespace Microsoft.ML.DirNet.Runtime;

/// <summary>
/// The <see cref="INodeObserver"/> of the run in progress on this thread, set by <see cref="NativeModel"/> for the length
/// of each run: the plans of subgraphs, run by control-flow kernels that know nothing of the run, find it here.
/// </summary>
internal static class NodeObservation
{
    [ThreadStatic]
    private static INodeObserver? t_current;

    /// <summary>The observer of this thread's run, or null.</summary>
    public static INodeObserver? Current => t_current;

    /// <summary>Makes <paramref name="observer"/> this thread's until the returned scope is disposed (runs nest).</summary>
    public static Scope Begin(INodeObserver? observer)
    {
        var previous = t_current;
        t_current = observer;
        return new Scope(previous);
    }

    /// <summary>Restores the observer that was current before <see cref="Begin"/>.</summary>
    public readonly struct Scope(INodeObserver? previous) : IDisposable
    {
        public void Dispose() => t_current = previous;
    }
}
