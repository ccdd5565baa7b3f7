namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// How many input rows one pass of a quantized-input kernel takes (1 or 4), as a type, so that each count compiles
/// on its own: four rows share every weight vector loaded (and unpacked), a batch reads the weights once per four.
/// </summary>
internal interface IInputCount
{
    static abstract int Count { get; }
}

/// <summary>One input row per pass.</summary>
internal readonly struct One : IInputCount
{
    public static int Count => 1;
}

/// <summary>Four input rows per pass.</summary>
internal readonly struct Four : IInputCount
{
    public static int Count => 4;
}
