using Google.Protobuf;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Onnx;

/// <summary>Converts between ONNX <see cref="TensorProto"/> messages and engine <see cref="Tensor"/>s.</summary>
internal static class TensorProtoConverter
{
    /// <summary>
    /// Decodes a tensor. External data must already have been inlined by <see cref="ExternalDataLoader"/>.
    /// Throws <see cref="ArgumentException"/> with a message naming the tensor when the proto is inconsistent.
    /// </summary>
    public static Tensor ToTensor(TensorProto proto)
    {
        var name = string.IsNullOrEmpty(proto.Name) ? "(unnamed)" : proto.Name;
        if (proto.DataLocation == TensorProto.Types.DataLocation.External)
        {
            throw new ArgumentException($"tensor '{name}' keeps its data in an external file that was not loaded.");
        }

        var type = ElementType(proto.DataType, name);
        var shape = new int[proto.Dims.Count];
        for (var i = 0; i < shape.Length; i++)
        {
            var d = proto.Dims[i];
            if (d < 0 || d > int.MaxValue)
            {
                throw new ArgumentException($"tensor '{name}' has invalid dimension {d} in dims [{string.Join(", ", proto.Dims)}].");
            }

            shape[i] = (int)d;
        }

        int count;
        try
        {
            count = TensorShape.ElementCount(shape);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"tensor '{name}': {e.Message}");
        }

        // Check the declared size against the data before allocating, so a damaged or hostile file cannot make the
        // loader allocate gigabytes for a tensor that is not there.
        var byteCount = (long)count * Tensor.ElementSizeOf(type);
        if (proto.HasRawData && proto.RawData.Length != byteCount)
        {
            throw new ArgumentException(
                $"tensor '{name}' declares {type}{TensorShape.Format(shape)} ({byteCount} bytes) but its raw_data has {proto.RawData.Length} bytes.");
        }

        if (!proto.HasRawData && count > proto.CalculateSize())
        {
            // Every element of a typed data field takes at least one byte of the message.
            throw new ArgumentException(
                $"tensor '{name}' declares {type}{TensorShape.Format(shape)} ({count} elements) but holds only {proto.CalculateSize()} bytes.");
        }

        var tensor = Tensor.Zeros(type, shape);
        if (proto.HasRawData)
        {
            proto.RawData.Span.CopyTo(tensor.AsBytes());
            return tensor;
        }

        FillFromTypedField(proto, tensor, name);
        return tensor;
    }

    /// <summary>Encodes a tensor as a <see cref="TensorProto"/> with little-endian <c>raw_data</c>.</summary>
    public static TensorProto ToProto(string name, Tensor tensor)
    {
        var proto = new TensorProto { Name = name, DataType = (int)tensor.ElementType };
        foreach (var d in tensor.Shape)
        {
            proto.Dims.Add(d);
        }

        proto.RawData = ByteString.CopyFrom(tensor.AsBytes());
        return proto;
    }

    /// <summary>Maps an ONNX data-type code to the engine's element type, or throws naming the tensor.</summary>
    public static TensorElementType ElementType(int dataType, string what)
    {
        if (Enum.IsDefined(typeof(TensorElementType), dataType))
        {
            return (TensorElementType)dataType;
        }

        var onnxName = Enum.IsDefined(typeof(TensorProto.Types.DataType), dataType)
            ? ((TensorProto.Types.DataType)dataType).ToString().ToUpperInvariant()
            : $"code {dataType}";
        throw new ArgumentException($"{what} has element type {onnxName}, which the engine does not support.");
    }

    private static void FillFromTypedField(TensorProto proto, Tensor tensor, string name)
    {
        void CheckCount(int count, string field)
        {
            if (count != tensor.Length)
            {
                throw new ArgumentException(
                    $"tensor '{name}' declares {tensor.ElementType}{TensorShape.Format(tensor.Shape)} ({tensor.Length} elements) but its {field} has {count}.");
            }
        }

        switch (tensor)
        {
            case Tensor<float> t:
                CheckCount(proto.FloatData.Count, "float_data");
                proto.FloatData.CopyTo(t.Data, 0);
                break;
            case Tensor<double> t:
                CheckCount(proto.DoubleData.Count, "double_data");
                proto.DoubleData.CopyTo(t.Data, 0);
                break;
            case Tensor<long> t:
                CheckCount(proto.Int64Data.Count, "int64_data");
                proto.Int64Data.CopyTo(t.Data, 0);
                break;
            case Tensor<uint> t:
                CheckCount(proto.Uint64Data.Count, "uint64_data");
                for (var i = 0; i < t.Length; i++) t.Data[i] = (uint)proto.Uint64Data[i];
                break;
            case Tensor<ulong> t:
                CheckCount(proto.Uint64Data.Count, "uint64_data");
                proto.Uint64Data.CopyTo(t.Data, 0);
                break;
            default:
                // ONNX stores every type of 32 bits or less (including float16/bfloat16 bit patterns) in int32_data.
                CheckCount(proto.Int32Data.Count, "int32_data");
                FillFromInt32(tensor, proto.Int32Data);
                break;
        }
    }

    private static void FillFromInt32(Tensor tensor, IList<int> values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            var v = values[i];
            switch (tensor)
            {
                case Tensor<int> t: t.Data[i] = v; break;
                case Tensor<short> t: t.Data[i] = (short)v; break;
                case Tensor<ushort> t: t.Data[i] = (ushort)v; break;
                case Tensor<sbyte> t: t.Data[i] = (sbyte)v; break;
                case Tensor<byte> t: t.Data[i] = (byte)v; break;
                case Tensor<bool> t: t.Data[i] = v != 0; break;
                case Tensor<Half> t: t.Data[i] = BitConverter.UInt16BitsToHalf((ushort)v); break;
                case Tensor<BFloat16> t: t.Data[i] = new BFloat16((ushort)v); break;
                default: throw new NotSupportedException($"No int32_data decoding for {tensor.ElementType}.");
            }
        }
    }
}
