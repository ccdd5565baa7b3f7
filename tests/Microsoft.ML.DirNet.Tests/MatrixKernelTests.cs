using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The dense product kernels against a plain triple loop on shapes that hit each remainder path: MatMul's row-major
/// kernel (tiles of four rows, vectors of eight columns, a masked last vector, leftover rows) and the packed kernel
/// (pairs of panels for four rows at a time, two or three rows left over padded to four, groups of four panels for
/// single rows, a partial last panel).
/// </summary>
public sealed class MatrixKernelTests
{
    public static IEnumerable<object[]> Shapes() =>
        from m in new[] { 1, 3, 4, 6, 7, 13 }
        from k in new[] { 1, 6, 19 }
        from n in new[] { 1, 5, 8, 29, 45 }
        select new object[] { m, k, n };

    private static float[] Random(int count, Random random) =>
        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RowMajorProductMatchesTheDefinition(int m, int k, int n)
    {
        var random = new Random(m * 1000 + k * 10 + n);
        var a = Random(m * k, random);
        var b = Random(k * n, random);
        var start = Random(m * n, random);
        foreach (var accumulate in new[] { false, true })
        {
            var c = (float[])start.Clone();
            MatrixMultiply.Multiply(a, m, k, b, n, c, accumulate);
            for (var i = 0; i < m; i++)
            {
                for (var j = 0; j < n; j++)
                {
                    var expected = (accumulate ? start[i * n + j] : 0f) + Enumerable.Range(0, k).Sum(p => a[i * k + p] * b[p * n + j]);
                    Assert.True(MathF.Abs(c[i * n + j] - expected) <= 1e-4f, $"{m}x{k}x{n} accumulate={accumulate} [{i},{j}]: {c[i * n + j]} vs {expected}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PackedProductMatchesTheDefinition(int m, int k, int n)
    {
        var random = new Random(m * 1000 + k * 10 + n + 1);
        var rows = 4 * n; // up to 180 outputs: several groups of four 8-row panels and a partial panel
        var w = Random(rows * k, random);
        var a = Random(m * k, random);
        var start = Random(m * rows, random);
        var packed = PackedMatrix.For(w, 0, rows, k);
        foreach (var accumulate in new[] { false, true })
        {
            var c = (float[])start.Clone();
            packed.Multiply(a, m, c, accumulate);
            for (var i = 0; i < m; i++)
            {
                for (var r = 0; r < rows; r++)
                {
                    var expected = (accumulate ? start[i * rows + r] : 0f) + Enumerable.Range(0, k).Sum(p => a[i * k + p] * w[r * k + p]);
                    Assert.True(MathF.Abs(c[i * rows + r] - expected) <= 1e-4f, $"{m}x{k} by {rows} accumulate={accumulate} [{i},{r}]");
                }
            }
        }
    }
}
