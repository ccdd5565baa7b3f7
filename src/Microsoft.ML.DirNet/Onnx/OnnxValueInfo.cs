using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Onnx;

/// <summary>One dimension of a declared graph input or output: a fixed size, a named symbol, or unknown.</summary>
/// <param name="Value">The fixed size, when the model fixes it.</param>
/// <param name="Symbol">The symbolic name (e.g. "batch") of a dynamic dimension, when the model names it.</param>
public readonly record struct OnnxDimension(long? Value, string? Symbol)
{
    /// <inheritdoc />
    public override string ToString() => Value?.ToString() ?? Symbol ?? "?";
}

/// <summary>The declared name, element type and shape of a graph input or output.</summary>
public sealed class OnnxValueInfo
{
    internal OnnxValueInfo(ValueInfoProto proto)
    {
        Name = proto.Name;
        var tensorType = proto.Type?.TensorType;
        if (tensorType is not null && Enum.IsDefined(typeof(TensorElementType), tensorType.ElemType))
        {
            ElementType = (TensorElementType)tensorType.ElemType;
        }

        ElementTypeCode = tensorType?.ElemType ?? 0;
        IsTensor = proto.Type is null || proto.Type.ValueCase is TypeProto.ValueOneofCase.TensorType or TypeProto.ValueOneofCase.None;
        Dimensions = tensorType?.Shape is { } shape
            ? shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue
                ? new OnnxDimension(d.DimValue, null)
                : new OnnxDimension(null, string.IsNullOrEmpty(d.DimParam) ? null : d.DimParam)).ToArray()
            : null;
    }

    /// <summary>The value's name.</summary>
    public string Name { get; }

    /// <summary>The element type, when it is a tensor of a type the engine knows.</summary>
    public TensorElementType? ElementType { get; }

    /// <summary>False when the value is a sequence, map or optional rather than a tensor.</summary>
    public bool IsTensor { get; }

    /// <summary>The raw ONNX element-type code (0 when the value is not a tensor or the type is unset).</summary>
    public int ElementTypeCode { get; }

    /// <summary>The declared dimensions, or null when the model declares no shape.</summary>
    public IReadOnlyList<OnnxDimension>? Dimensions { get; }

    /// <summary>The shape as text, e.g. <c>[seq, batch, 8]</c>.</summary>
    public string ShapeText => Dimensions is null ? "(unknown)" : "[" + string.Join(", ", Dimensions) + "]";

    /// <inheritdoc />
    public override string ToString() => $"{Name}: {ElementType?.ToString() ?? "?"}{ShapeText}";
}
