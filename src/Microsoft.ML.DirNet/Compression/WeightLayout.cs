using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// Moves a compressible matrix between its initializer's stored layout and the y = W·x view [rows × columns]:
/// a recurrent direction's slice, a MatMul B [in, out] or Gemm B without transB (both transposed), or a Gather table.
/// </summary>
internal static class WeightLayout
{
    /// <summary>The matrix as W [rows × columns], read from the initializer's data.</summary>
    public static float[] Read(CompressibleWeight weight, ReadOnlySpan<float> stored)
    {
        var size = weight.Rows * weight.Columns;
        if (!weight.StoredTransposed)
        {
            return stored.Slice(weight.Direction * size, size).ToArray();
        }

        var w = new float[size];
        for (var i = 0; i < weight.Columns; i++)
        {
            for (var o = 0; o < weight.Rows; o++)
            {
                w[o * weight.Columns + i] = stored[i * weight.Rows + o];
            }
        }

        return w;
    }

    /// <summary>Writes W [rows × columns] back into the initializer's data in its stored layout.</summary>
    public static void Write(CompressibleWeight weight, ReadOnlySpan<float> w, Span<float> stored)
    {
        var size = weight.Rows * weight.Columns;
        if (!weight.StoredTransposed)
        {
            w[..size].CopyTo(stored.Slice(weight.Direction * size, size));
            return;
        }

        for (var i = 0; i < weight.Columns; i++)
        {
            for (var o = 0; o < weight.Rows; o++)
            {
                stored[i * weight.Rows + o] = w[o * weight.Columns + i];
            }
        }
    }
}
