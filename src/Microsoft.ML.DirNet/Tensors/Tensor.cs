namespace Microsoft.ML.DirNet.Tensors;

/// <summary>
/// A dense, row-major tensor of one element type. Tensors are treated as immutable once handed to the engine: kernels
/// never write into their inputs, so initializers can be shared between runs and threads without copying.
/// </summary>
public abstract class Tensor
{
    private protected Tensor(int[] shape)
    {
        Shape = shape;
        Length = TensorShape.ElementCount(shape);
    }

    /// <summary>The dimensions, outermost first. A scalar has an empty shape.</summary>
    public int[] Shape { get; }

    /// <summary>The number of elements (the product of <see cref="Shape"/>).</summary>
    public int Length { get; }

    /// <summary>The number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>The element type.</summary>
    public abstract TensorElementType ElementType { get; }

    /// <summary>The CLR type of one element.</summary>
    public abstract Type ClrType { get; }

    /// <summary>Bytes the elements take in memory and in an ONNX <c>raw_data</c> field.</summary>
    public abstract long ByteCount { get; }

    /// <summary>Returns the same elements viewed with another shape of equal element count (no copy).</summary>
    public abstract Tensor Reshape(int[] shape);

    /// <summary>Bytes per element.</summary>
    internal int ElementSize => Length == 0 ? ElementSizeOf(ElementType) : (int)(ByteCount / Length);

    /// <summary>The elements as raw little-endian bytes (the ONNX raw_data encoding), without copying.</summary>
    internal abstract Span<byte> AsBytes();

    internal static int ElementSizeOf(TensorElementType type) => type switch
    {
        TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.Bool => 1,
        TensorElementType.UInt16 or TensorElementType.Int16 or TensorElementType.Float16 or TensorElementType.BFloat16 => 2,
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        _ => 8,
    };

    /// <summary>Returns this tensor as <see cref="Tensor{T}"/>, or throws naming both types.</summary>
    public Tensor<T> As<T>() where T : unmanaged =>
        this as Tensor<T> ?? throw new InvalidOperationException(
            $"Expected a tensor of {typeof(T).Name}, got {ElementType} with shape {TensorShape.Format(Shape)}.");

    /// <summary>Creates a tensor of zeros (default values) of the given element type.</summary>
    public static Tensor Zeros(TensorElementType type, int[] shape) => type switch
    {
        TensorElementType.Float => new Tensor<float>(shape),
        TensorElementType.UInt8 => new Tensor<byte>(shape),
        TensorElementType.Int8 => new Tensor<sbyte>(shape),
        TensorElementType.UInt16 => new Tensor<ushort>(shape),
        TensorElementType.Int16 => new Tensor<short>(shape),
        TensorElementType.Int32 => new Tensor<int>(shape),
        TensorElementType.Int64 => new Tensor<long>(shape),
        TensorElementType.Bool => new Tensor<bool>(shape),
        TensorElementType.Float16 => new Tensor<Half>(shape),
        TensorElementType.Double => new Tensor<double>(shape),
        TensorElementType.UInt32 => new Tensor<uint>(shape),
        TensorElementType.UInt64 => new Tensor<ulong>(shape),
        TensorElementType.BFloat16 => new Tensor<BFloat16>(shape),
        _ => throw new NotSupportedException($"Tensor element type {type} is not supported."),
    };

    /// <summary>Maps a CLR element type to its <see cref="TensorElementType"/>.</summary>
    public static TensorElementType ElementTypeOf(Type clrType) =>
        clrType == typeof(float) ? TensorElementType.Float
        : clrType == typeof(long) ? TensorElementType.Int64
        : clrType == typeof(int) ? TensorElementType.Int32
        : clrType == typeof(bool) ? TensorElementType.Bool
        : clrType == typeof(double) ? TensorElementType.Double
        : clrType == typeof(Half) ? TensorElementType.Float16
        : clrType == typeof(byte) ? TensorElementType.UInt8
        : clrType == typeof(sbyte) ? TensorElementType.Int8
        : clrType == typeof(short) ? TensorElementType.Int16
        : clrType == typeof(ushort) ? TensorElementType.UInt16
        : clrType == typeof(uint) ? TensorElementType.UInt32
        : clrType == typeof(ulong) ? TensorElementType.UInt64
        : clrType == typeof(BFloat16) ? TensorElementType.BFloat16
        : throw new NotSupportedException($"CLR type {clrType.Name} has no tensor element type.");

    /// <inheritdoc />
    public override string ToString() => $"{ElementType}{TensorShape.Format(Shape)}";
}

/// <summary>A dense row-major tensor whose elements are <typeparamref name="T"/>.</summary>
/// <typeparam name="T">The element type: float, double, Half, BFloat16, bool or an integer type.</typeparam>
public sealed class Tensor<T> : Tensor where T : unmanaged
{
    private static readonly TensorElementType Type = ElementTypeOf(typeof(T));

    /// <summary>Creates a tensor of zeros with the given shape.</summary>
    /// <exception cref="ArgumentException">The shape has a negative dimension, or needs more than 2 GB.</exception>
    public Tensor(int[] shape)
        : base(shape)
    {
        // One tensor is at most 2 GB (its bytes must fit one span). Checked before allocating, so a shape computed from
        // damaged data is refused without first taking the memory.
        if ((long)Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>() > int.MaxValue)
        {
            throw new ArgumentException($"Shape {TensorShape.Format(shape)} of {typeof(T).Name} needs more than 2 GB, the limit for one tensor.");
        }

        // Inside a model run, large float arrays come from the run's arena (reused across runs, cleared).
        Data = typeof(T) == typeof(float) && Numerics.ArrayArena.Current?.Rent(Length) is { } rented ? (T[])(object)rented : new T[Length];
    }

    /// <summary>Wraps existing data (no copy); its length must equal the shape's element count.</summary>
    public Tensor(int[] shape, T[] data)
        : base(shape)
    {
        if (data.Length != Length)
        {
            throw new ArgumentException(
                $"Tensor data has {data.Length} elements but shape {TensorShape.Format(shape)} needs {Length}.",
                nameof(data));
        }

        Data = data;
    }

    /// <summary>The elements in row-major order.</summary>
    public T[] Data { get; }

    /// <summary>The elements as a span.</summary>
    public Span<T> Span => Data;

    /// <inheritdoc />
    public override TensorElementType ElementType => Type;

    /// <inheritdoc />
    public override Type ClrType => typeof(T);

    /// <inheritdoc />
    public override long ByteCount => (long)Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();

    /// <inheritdoc />
    public override Tensor Reshape(int[] shape) => new Tensor<T>(shape, Data);

    internal override Span<byte> AsBytes() => System.Runtime.InteropServices.MemoryMarshal.AsBytes(Data.AsSpan());

    /// <summary>Creates a scalar (rank-0) tensor.</summary>
    public static Tensor<T> Scalar(T value) => new([], [value]);
}
