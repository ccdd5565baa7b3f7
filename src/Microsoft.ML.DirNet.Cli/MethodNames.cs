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
        ["quant"] = CompressionMethod.Quant,
    };

    /// <summary>The low-bit quantizers as the command line spells them.</summary>
    public static readonly IReadOnlyDictionary<string, Quantizer> Quantizers = new Dictionary<string, Quantizer>
    {
        ["rtn"] = Quantizer.RoundToNearest,
        ["gptq"] = Quantizer.Gptq,
    };
}
