namespace Microsoft.ML.DirNet.Tensors;

/// <summary>
/// A brain-float-16 value: the upper 16 bits of an IEEE float32. .NET has no such type, and the engine needs one only
/// to carry BFLOAT16 tensors through <c>Cast</c>, so this stays a bare bit container.
/// </summary>
public readonly record struct BFloat16(ushort Bits)
{
    /// <summary>Converts by truncating the low mantissa bits, as ONNX's reference implementation does.</summary>
    public static BFloat16 FromSingle(float value)
    {
        if (float.IsNaN(value))
        {
            return new BFloat16(0x7FC0);
        }

        return new BFloat16((ushort)(BitConverter.SingleToUInt32Bits(value) >> 16));
    }

    /// <summary>Widens to float32 exactly.</summary>
    public float ToSingle() => BitConverter.UInt32BitsToSingle((uint)Bits << 16);
}
