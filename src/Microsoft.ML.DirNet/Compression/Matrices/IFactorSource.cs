namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// One direction's stored factors as a compressed file holds them, for a form to read itself back
/// (<see cref="MethodRegistry.StoredForms"/>): value arrays come already widened to float32 at the file's precision.
/// Every accessor throws an <see cref="Onnx.OnnxFormatException"/> naming the factor when it is missing or malformed.
/// </summary>
internal interface IFactorSource
{
    /// <summary>The stored form's name (the method that made it, e.g. <c>dirnet</c> or <c>odl</c>).</summary>
    string Method { get; }

    /// <summary>Rows of W.</summary>
    int Rows { get; }

    /// <summary>Columns of W.</summary>
    int Columns { get; }

    /// <summary>A value array.</summary>
    float[] Values(string factor);

    /// <summary>A value array that the writer leaves out when empty; empty when absent.</summary>
    float[] OptionalValues(string factor);

    /// <summary>Dimension <paramref name="axis"/> of a 2-D factor.</summary>
    int Dimension(string factor, int axis);

    /// <summary>Dimension <paramref name="axis"/> of a factor that may be absent (0 then).</summary>
    int OptionalDimension(string factor, int axis);

    /// <summary>Sparse rows stored under <paramref name="prefix"/> (values, columns, row starts) over <paramref name="columns"/> columns.</summary>
    SparseRows Sparse(string prefix, int columns);

    /// <summary>The dictionary (this matrix's own, or the one it shares): its values, its atoms, and whether this matrix stores it.</summary>
    (float[] Values, int Atoms, bool Owned) Dictionary();
}
