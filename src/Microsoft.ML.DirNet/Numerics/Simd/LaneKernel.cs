using System.Runtime.Intrinsics;

namespace Microsoft.ML.DirNet.Numerics.Simd;

/// <summary>
/// An element-wise kernel written once over the SIMD ladder: <see cref="Run{TLanes, TFloat, TUInt}"/> does whole
/// vectors of one rung from a given element on. <see cref="LaneKernel.Run{TKernel}(ref TKernel, LaneWidth)"/> runs
/// it down the ladder, so a remainder too short for one rung's vector takes the next narrower one, and the scalar
/// rung, the same arithmetic on one lane, does the last few.
/// </summary>
internal interface ILaneKernel
{
    /// <summary>Processes whole vectors of <typeparamref name="TLanes"/> from element <paramref name="start"/>; returns where it stopped.</summary>
    int Run<TLanes, TFloat, TUInt>(int start)
        where TLanes : struct, ILanes<TFloat, TUInt>;
}

/// <summary>Runs <see cref="ILaneKernel"/>s down the ladder.</summary>
internal static class LaneKernel
{
    /// <summary>
    /// Runs <paramref name="kernel"/> on every element: whole vectors of <paramref name="top"/> first, then of each
    /// narrower rung, then one lane at a time.
    /// </summary>
    public static void Run<TKernel>(ref TKernel kernel, LaneWidth top)
        where TKernel : ILaneKernel, allows ref struct
    {
        var start = 0;
        if (top >= LaneWidth.Vector512)
        {
            start = kernel.Run<Lanes512, Vector512<float>, Vector512<uint>>(start);
        }

        if (top >= LaneWidth.Vector256)
        {
            start = kernel.Run<Lanes256, Vector256<float>, Vector256<uint>>(start);
        }

        if (top >= LaneWidth.Vector128)
        {
            start = kernel.Run<Lanes128, Vector128<float>, Vector128<uint>>(start);
        }

        kernel.Run<LanesScalar, float, uint>(start);
    }
}
