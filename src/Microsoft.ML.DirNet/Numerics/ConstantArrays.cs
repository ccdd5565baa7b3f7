using System.Runtime.CompilerServices;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// Arrays that hold a model's constants (its initializers, and what constant folding computed from them at load), which
/// never change while the model lives. Only forms derived from these (packed panels, the matrices over a weight) may be
/// kept from one run for the next: any other array, a caller's input above all, may hold new values on the next run
/// while being the same array, so forms of it are made again at each use.
/// </summary>
internal static class ConstantArrays
{
    private static readonly ConditionalWeakTable<Array, object> Marked = new();

    /// <summary>Marks <paramref name="array"/> as a constant's.</summary>
    public static void Mark(Array array) => Marked.TryAdd(array, Marked);

    /// <summary>Whether <paramref name="array"/> was marked as a constant's.</summary>
    public static bool Contains(Array array) => Marked.TryGetValue(array, out _);
}
