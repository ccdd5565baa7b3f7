using Microsoft.ML.DirNet.Compression;

namespace Microsoft.ML.DirNet.Cli;

/// <summary>The compression methods as the command line spells them (part of the public CLI contract).</summary>
internal static class MethodNames
{
    public static readonly IReadOnlyDictionary<string, CompressionMethod> All = new Dictionary<string, CompressionMethod>
    {
        ["dirnet"] = CompressionMethod.DirNet,
        ["hmd"] = CompressionMethod.Hmd,
        ["lowrank"] = CompressionMethod.LowRank,
        ["prune"] = CompressionMethod.Prune,
        ["odl"] = CompressionMethod.Odl,
        ["int8"] = CompressionMethod.Int8,
    };
}
