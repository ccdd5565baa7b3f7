using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Numerics.Simd;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The softmax exponential and the recurrent cells' tanh and sigmoid against the library's exact functions, from every
/// rung of the SIMD ladder down (a wider one than the processor's emulated), on lengths that leave a remainder for
/// every narrower rung and the scalar one.
/// </summary>
public sealed class FastExpTests
{
    /// <summary>The rungs by their float lanes (LaneWidth is internal, so the theories take its number).</summary>
    public static IEnumerable<object[]> Rungs() => Enum.GetValues<LaneWidth>().Select(r => new object[] { (int)r });

    [Theory]
    [MemberData(nameof(Rungs))]
    public void ShiftedExponentialsMatchTheLibraryWithinTwoUlps(int lanes)
    {
        var rung = (LaneWidth)lanes;
        // 1,003 values (62 vectors of 16, then 8, 2 and 1 left: one for each narrower rung) from e^0 down past the
        // clamp at −87.3, around a shift of 12.5.
        var x = Enumerable.Range(0, 1003).Select(i => 12.5f - i * 0.0951f).ToArray();
        var y = new float[x.Length];
        var sum = FastExp.ExpShifted(x, 12.5f, y, rung);
        double expectedSum = 0;
        for (var i = 0; i < x.Length; i++)
        {
            var expected = MathF.Exp(x[i] - 12.5f);
            expectedSum += expected;
            Assert.True(MathF.Abs(y[i] - expected) <= 2.5e-7f * expected + 1e-37f, $"{rung}, e^{x[i] - 12.5f}: {y[i]} vs {expected}");
        }

        Assert.Equal(expectedSum, sum, 1e-5);
        Assert.Equal(expectedSum, FastExp.SumShifted(x, 12.5f, rung), 1e-5);
    }

    [Fact]
    public void ShiftsThatAreNotFiniteFollowTheDefinition()
    {
        float[] x = [1f, float.PositiveInfinity, 3f, 0f, 2f, 5f, 6f, 7f, 8f, 9f];
        Assert.True(float.IsNaN(FastExp.SumShifted(x, float.PositiveInfinity))); // ∞ − ∞
        Assert.True(float.IsNaN(FastExp.SumShifted(x, float.NaN)));
        Assert.Equal(float.PositiveInfinity, FastExp.SumShifted([-1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f], float.NegativeInfinity));
    }

    [Theory]
    [MemberData(nameof(Rungs))]
    public void TanhAndSigmoidAreWithinAMillionthOfTheDefinitionAndKeepNaN(int lanes)
    {
        var rung = (LaneWidth)lanes;
        // −12 … 12 in 1,003 steps (past the clamp at ±7.9 on both sides), then NaN and the infinities at places each
        // rung reaches: in the first vector, and in the scalar remainder.
        var x = Enumerable.Range(0, 1003).Select(i => -12f + i * 0.024f).ToArray();
        x[3] = float.NaN;
        x[5] = float.PositiveInfinity;
        x[6] = float.NegativeInfinity;
        x[^1] = float.NaN;
        var (tanh, sigmoid) = ((float[])x.Clone(), (float[])x.Clone());
        FastActivations.Tanh(tanh, rung);
        FastActivations.Sigmoid(sigmoid, rung);
        for (var i = 0; i < x.Length; i++)
        {
            if (float.IsNaN(x[i]))
            {
                Assert.True(float.IsNaN(tanh[i]) && float.IsNaN(sigmoid[i]), $"{rung}: NaN at {i} came out as {tanh[i]} and {sigmoid[i]}");
                continue;
            }

            Assert.True(System.Math.Abs(tanh[i] - System.Math.Tanh(x[i])) <= 1e-6, $"{rung}: tanh({x[i]}) = {tanh[i]}");
            Assert.True(System.Math.Abs(sigmoid[i] - 1 / (1 + System.Math.Exp(-x[i]))) <= 1e-6, $"{rung}: sigmoid({x[i]}) = {sigmoid[i]}");
        }
    }
}
