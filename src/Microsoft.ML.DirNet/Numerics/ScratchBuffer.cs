using System.Buffers;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// Temporary floats rented from the shared pool for one product, so the per-step products of a recurrent cell
/// allocate nothing on the garbage-collected heap. Dispose returns the array.
/// </summary>
internal readonly struct ScratchBuffer : IDisposable
{
    private readonly float[] _array;
    private readonly int _length;

    /// <param name="length">Floats needed, computed in 64 bits by the caller so that a product of dimensions cannot wrap.</param>
    public ScratchBuffer(long length)
    {
        _length = BufferSize.Length("a product's scratch buffer", sizeof(float), length);

        // An empty buffer rents nothing, so a kernel can declare one it needs only on some paths at no cost.
        _array = _length == 0 ? [] : ArrayPool<float>.Shared.Rent(_length);
    }

    /// <summary>The first <c>length</c> floats (contents undefined until written).</summary>
    public Span<float> Span => _array.AsSpan(0, _length);

    public void Dispose()
    {
        if (_array.Length > 0)
        {
            ArrayPool<float>.Shared.Return(_array);
        }
    }
}
