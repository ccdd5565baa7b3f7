namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// Large float arrays kept from one model run for the next on the same thread (an arena, as ONNX Runtime plans its
/// buffers): a run of the same shapes gets back the arrays the previous run freed, cleared, instead of fresh ones. A
/// fresh multi-megabyte array is memory the process touches for the first time, and that measured as much as the
/// product that fills it. Arrays are handed out only while a run's scope is open (<see cref="Begin"/>), come back
/// when the run drops the last value that holds them (<see cref="Release"/>), and the arena keeps at most what one run
/// freed of the lengths that run asked for, so it never grows beyond one run's working set.
/// </summary>
/// <remarks>
/// An array whose contents something else keeps depending on after the run must never be handed out again. The
/// packed-weight caches, which key on the array itself, keep only a model's constants (<see cref="ConstantArrays"/>)
/// and compressed factors, made at load outside any run, so none of their arrays is an arena's. Outputs the run returns
/// are forgotten when the scope closes (they belong to the caller).
/// </remarks>
internal sealed class ArrayArena
{
    /// <summary>
    /// Arrays below this length (64 KB) come from the heap: the garbage collector serves those well. The environment
    /// variable DIRNET_ARENA_MINIMUM_FLOATS overrides it (build/test.sh runs one pass with 0, so that every array of
    /// every test goes through the arena).
    /// </summary>
    public static readonly int MinimumLength =
        int.TryParse(Environment.GetEnvironmentVariable("DIRNET_ARENA_MINIMUM_FLOATS"), out var floats) && floats >= 0 ? floats : 1 << 14;

    [ThreadStatic]
    private static ArrayArena? _current;

    [ThreadStatic]
    private static ArrayArena? _threadArena;

    private readonly Dictionary<int, Stack<float[]>> _free = [];

    /// <summary>The arrays handed out in the open run, with how many of the run's values hold each (views share an array).</summary>
    private readonly Dictionary<float[], int> _rented = new(ReferenceEqualityComparer.Instance);

    private readonly HashSet<int> _asked = [];

    /// <summary>The arena of the run open on this thread, or null outside runs.</summary>
    public static ArrayArena? Current => _current;

    /// <summary>
    /// Opens a run's scope on this thread (its arena, kept for the thread's next runs); inside an open scope, a nested
    /// one changes nothing, so a run within a run shares the outer run's arrays.
    /// </summary>
    public static Scope Begin()
    {
        if (_current is not null)
        {
            return default;
        }

        _current = _threadArena ??= new ArrayArena();
        return new Scope(_current);
    }

    /// <summary>A cleared array of exactly <paramref name="length"/> floats, or null below <see cref="MinimumLength"/>.</summary>
    public float[]? Rent(int length)
    {
        if (length < MinimumLength)
        {
            return null;
        }

        _asked.Add(length);
        if (_free.TryGetValue(length, out var free) && free.TryPop(out var array))
        {
            Array.Clear(array);
        }
        else
        {
            array = new float[length];
        }

        _rented[array] = 0;
        return array;
    }

    /// <summary>
    /// Counts one more value of the run holding <paramref name="array"/> (a node's output, in whichever graph or
    /// subgraph of the run); arrays this arena did not hand out in this run are not counted.
    /// </summary>
    public void Hold(float[] array)
    {
        if (_rented.TryGetValue(array, out var holders))
        {
            _rented[array] = holders + 1;
        }
    }

    /// <summary>
    /// One value holding <paramref name="array"/> is dropped; when it was the last, the array is taken back for a later
    /// rent.
    /// </summary>
    public void Release(float[] array)
    {
        if (!_rented.TryGetValue(array, out var holders) || holders == 0)
        {
            return;
        }

        if (holders > 1)
        {
            _rented[array] = holders - 1;
            return;
        }

        _rented.Remove(array);
        if (!_free.TryGetValue(array.Length, out var free))
        {
            _free[array.Length] = free = new Stack<float[]>();
        }

        free.Push(array);
    }

    /// <summary>
    /// A graph hands <paramref name="array"/> to its caller as an output: from now on it is the caller's (or the
    /// enclosing graph's, or a control-flow node's), and never taken back in this run.
    /// </summary>
    public void HandOver(float[] array) => _rented.Remove(array);

    /// <summary>
    /// A graph is given <paramref name="array"/> as an input: if no value of the run holds it (a control-flow node's
    /// own copy, handed to its body), the node may still need it after the body ran, so it is never taken back.
    /// </summary>
    public void Adopt(float[] array)
    {
        if (_rented.TryGetValue(array, out var holders) && holders == 0)
        {
            _rented.Remove(array);
        }
    }

    private void End()
    {
        // What the run did not give back (its outputs, or values dropped by an error) now belongs to whoever holds it;
        // lengths this run did not ask for are let go, so a change of shapes does not leave the old ones behind.
        _rented.Clear();
        // Removing while enumerating is allowed for Dictionary (since .NET Core 3.0), so this allocates nothing per run.
        foreach (var length in _free.Keys)
        {
            if (!_asked.Contains(length))
            {
                _free.Remove(length);
            }
        }

        _asked.Clear();
    }

    /// <summary>Closes the run's scope (disposing the default scope, from a nested <see cref="Begin"/>, does nothing).</summary>
    public readonly struct Scope(ArrayArena? arena) : IDisposable
    {
        public void Dispose()
        {
            if (arena is not null)
            {
                arena.End();
                _current = null;
            }
        }
    }
}
