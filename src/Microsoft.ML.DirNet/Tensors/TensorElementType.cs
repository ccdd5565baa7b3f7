namespace Microsoft.ML.DirNet.Tensors;

/// <summary>
/// Element types a <see cref="Tensor"/> can hold. The numeric values are ONNX's <c>TensorProto.DataType</c> codes, so a
/// type read from a model maps to this enum without a lookup table.
/// </summary>
public enum TensorElementType
{
    /// <summary>32-bit IEEE float (ONNX FLOAT).</summary>
    Float = 1,
    /// <summary>Unsigned 8-bit integer (ONNX UINT8).</summary>
    UInt8 = 2,
    /// <summary>Signed 8-bit integer (ONNX INT8).</summary>
    Int8 = 3,
    /// <summary>Unsigned 16-bit integer (ONNX UINT16).</summary>
    UInt16 = 4,
    /// <summary>Signed 16-bit integer (ONNX INT16).</summary>
    Int16 = 5,
    /// <summary>Signed 32-bit integer (ONNX INT32).</summary>
    Int32 = 6,
    /// <summary>Signed 64-bit integer (ONNX INT64).</summary>
    Int64 = 7,
    /// <summary>Boolean (ONNX BOOL).</summary>
    Bool = 9,
    /// <summary>16-bit IEEE float (ONNX FLOAT16).</summary>
    Float16 = 10,
    /// <summary>64-bit IEEE float (ONNX DOUBLE).</summary>
    Double = 11,
    /// <summary>Unsigned 32-bit integer (ONNX UINT32).</summary>
    UInt32 = 12,
    /// <summary>Unsigned 64-bit integer (ONNX UINT64).</summary>
    UInt64 = 13,
    /// <summary>Brain float 16 (ONNX BFLOAT16).</summary>
    BFloat16 = 16,
}
