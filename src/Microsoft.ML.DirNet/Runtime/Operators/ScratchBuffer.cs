using System.Buffers;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// Temporary floats rented from the shared pool for one product, so the per-step products of a recurrent cell
/// allocate nothing on the garbage-collected heap. Dispose returns the array.
/// </summary>
internal readonly struct ScratchBuffer : IDisposable
{
    private readonly float[] _array;
    private readonly int _length;

    public ScratchBuffer(int length)
    {
        _array = ArrayPool<float>.Shared.Rent(System.Math.Max(length, 1));
        _length = length;
    }

    /// <summary>The first <c>length</c> floats (contents undefined until written).</summary>
    public Span<float> Span => _array.AsSpan(0, _length);

    public void Dispose() => ArrayPool<float>.Shared.Return(_array);
}
