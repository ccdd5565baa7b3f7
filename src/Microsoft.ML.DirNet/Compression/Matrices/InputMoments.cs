namespace Microsoft.ML.DirNet.Compression;

/// <summary>How the second moment of a matrix's inputs carries through a factor: what the next factor multiplies.</summary>
internal static class InputMoments
{
    /// <summary>
    /// The moment V·C·Vᵀ [rows × rows] of t = V·x, for row-major <paramref name="v"/> [<paramref name="rows"/> ×
    /// <paramref name="columns"/>] and the moment <paramref name="moment"/> C [columns × columns] of x.
    /// </summary>
    public static double[] Through(float[] v, int rows, int columns, double[] moment)
    {
        var vc = new double[(long)rows * columns];
        Parallel.For(0, rows, r =>
        {
            var target = vc.AsSpan(r * columns, columns);
            for (var k = 0; k < columns; k++)
            {
                var weight = (double)v[r * columns + k];
                if (weight != 0)
                {
                    TensorPrimitives.MultiplyAdd(moment.AsSpan(k * columns, columns), weight, target, target);
                }
            }
        });
        var result = new double[(long)rows * rows];
        Parallel.For(0, rows, i =>
        {
            var row = vc.AsSpan(i * columns, columns);
            for (var j = 0; j < rows; j++)
            {
                var sum = 0.0;
                for (var k = 0; k < columns; k++)
                {
                    sum += row[k] * v[j * columns + k];
                }

                result[i * rows + j] = sum;
            }
        });
        return result;
    }
}
