using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>The softmax exponential against <see cref="MathF.Exp(float)"/>, on the vector path and its scalar tail.</summary>
public sealed class FastExpTests
{
    [Fact]
    public void ShiftedExponentialsMatchTheLibraryWithinTwoUlps()
    {
        // 1,003 values (vectors and a tail) from e^0 down past the clamp at −87.3, around a shift of 12.5.
        var x = Enumerable.Range(0, 1003).Select(i => 12.5f - i * 0.0951f).ToArray();
        var y = new float[x.Length];
        var sum = FastExp.ExpShifted(x, 12.5f, y);
        double expectedSum = 0;
        for (var i = 0; i < x.Length; i++)
        {
            var expected = MathF.Exp(x[i] - 12.5f);
            expectedSum += expected;
            Assert.True(MathF.Abs(y[i] - expected) <= 2.5e-7f * expected + 1e-37f, $"e^{x[i] - 12.5f}: {y[i]} vs {expected}");
        }

        Assert.Equal(expectedSum, sum, 1e-5);
        Assert.Equal(expectedSum, FastExp.SumShifted(x, 12.5f), 1e-5);
    }

    [Fact]
    public void ShiftsThatAreNotFiniteFollowTheDefinition()
    {
        float[] x = [1f, float.PositiveInfinity, 3f, 0f, 2f, 5f, 6f, 7f, 8f, 9f];
        Assert.True(float.IsNaN(FastExp.SumShifted(x, float.PositiveInfinity))); // ∞ − ∞
        Assert.True(float.IsNaN(FastExp.SumShifted(x, float.NaN)));
        Assert.Equal(float.PositiveInfinity, FastExp.SumShifted([-1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f], float.NegativeInfinity));
    }
}
