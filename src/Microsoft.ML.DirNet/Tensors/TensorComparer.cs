namespace Microsoft.ML.DirNet.Tensors;

/// <summary>Compares tensors the way the ONNX backend tests do: floats within a tolerance, everything else exactly.</summary>
public static class TensorComparer
{
    /// <summary>
    /// The largest absolute difference between two tensors of the same type and shape (0 for equal non-float
    /// tensors, +∞ for a type or shape mismatch or a non-float difference; NaN equals NaN).
    /// </summary>
    public static double MaxAbsoluteDifference(Tensor actual, Tensor expected)
    {
        if (actual.ElementType != expected.ElementType || !TensorShape.SameAs(actual.Shape, expected.Shape))
        {
            return double.PositiveInfinity;
        }

        var worst = 0.0;
        foreach (var (a, e) in Pairs(actual, expected))
        {
            if (double.IsNaN(a) && double.IsNaN(e))
            {
                continue;
            }

            var diff = a == e ? 0 : System.Math.Abs(a - e);
            worst = double.IsNaN(diff) ? double.PositiveInfinity : System.Math.Max(worst, diff);
        }

        return worst;
    }

    /// <summary>
    /// True when every element satisfies |actual − expected| ≤ absolute + relative·|expected| (floats) or is equal
    /// (other types), and types and shapes match.
    /// </summary>
    public static bool AreClose(Tensor actual, Tensor expected, double relative = 1e-4, double absolute = 1e-5)
    {
        if (actual.ElementType != expected.ElementType || !TensorShape.SameAs(actual.Shape, expected.Shape))
        {
            return false;
        }

        foreach (var (a, e) in Pairs(actual, expected))
        {
            var same = a == e || (double.IsNaN(a) && double.IsNaN(e));
            if (!same && !(System.Math.Abs(a - e) <= absolute + relative * System.Math.Abs(e)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Both tensors' elements widened to double (bools as 0/1, bfloat16/float16 exactly).</summary>
    private static IEnumerable<(double Actual, double Expected)> Pairs(Tensor actual, Tensor expected)
    {
        var a = AsDoubles(actual);
        var e = AsDoubles(expected);
        for (var i = 0; i < a.Length; i++)
        {
            yield return (a[i], e[i]);
        }
    }

    private static double[] AsDoubles(Tensor tensor) => tensor switch
    {
        Tensor<float> t => Array.ConvertAll(t.Data, v => (double)v),
        Tensor<double> t => t.Data,
        Tensor<Half> t => Array.ConvertAll(t.Data, v => (double)v),
        Tensor<BFloat16> t => Array.ConvertAll(t.Data, v => (double)v.ToSingle()),
        Tensor<bool> t => Array.ConvertAll(t.Data, v => v ? 1.0 : 0.0),
        Tensor<long> t => Array.ConvertAll(t.Data, v => (double)v),
        Tensor<int> t => Array.ConvertAll(t.Data, v => (double)v),
        Tensor<short> t => Array.ConvertAll(t.Data, v => (double)v),
        Tensor<sbyte> t => Array.ConvertAll(t.Data, v => (double)v),
        Tensor<byte> t => Array.ConvertAll(t.Data, v => (double)v),
        Tensor<ushort> t => Array.ConvertAll(t.Data, v => (double)v),
        Tensor<uint> t => Array.ConvertAll(t.Data, v => (double)v),
        Tensor<ulong> t => Array.ConvertAll(t.Data, v => (double)v),
        _ => throw new NotSupportedException($"Cannot compare {tensor.ElementType} tensors."),
    };
}
