namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// The library's one 64-bit size check for a buffer: tensors (through <c>TensorShape.BufferLength</c>), kernels'
/// outputs and scratch buffers are sized here before anything is allocated.
/// </summary>
internal static class BufferSize
{
    /// <summary>The most bytes one tensor (or one temporary buffer of a kernel) may take: its bytes must fit one span.</summary>
    internal const long MaxBytes = int.MaxValue;

    /// <summary>
    /// The element count of a buffer of <paramref name="elementSize"/>-byte elements with dimensions
    /// <paramref name="dimensions"/>, computed in 64 bits; throws, naming <paramref name="what"/>, before anything is
    /// allocated when it exceeds <see cref="MaxBytes"/>. Kernels size every buffer through this, so no offset
    /// into one can overflow 32 bits.
    /// </summary>
    public static int Length(string what, int elementSize, params ReadOnlySpan<long> dimensions)
    {
        foreach (var d in dimensions)
        {
            if (d < 0)
            {
                throw new ArgumentException($"{what} would have a negative dimension ({d}).");
            }

            if (d == 0)
            {
                return 0;
            }
        }

        var limit = MaxBytes / elementSize;
        long count = 1;
        foreach (var d in dimensions)
        {
            // Compared before multiplying, so the product never overflows 64 bits.
            if (count > limit / d)
            {
                throw new ArgumentException(
                    $"{what} would need {FormatBytes(dimensions, elementSize)}, more than the {MaxBytes / (1L << 20):N0} MB limit for one tensor.");
            }

            count *= d;
        }

        return (int)count;
    }

    private static string FormatBytes(ReadOnlySpan<long> dimensions, int elementSize)
    {
        var bytes = (double)elementSize;
        foreach (var d in dimensions)
        {
            bytes *= d;
        }

        return $"{bytes / (1L << 20):N0} MB ({string.Join(" × ", dimensions.ToArray())} elements of {elementSize} bytes)";
    }
}
