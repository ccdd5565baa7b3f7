using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Compressed files of one model for the fuzzers to mutate, so the reader's checks of factors, precisions (fp32, int8
/// row scales, low-bit packed levels, group scales and shapes) and the rebuild graph get mutants too.
/// </summary>
internal static class CompressedSeedlings
{
    public static IEnumerable<(string Name, byte[] Bytes)> Of(byte[] model)
    {
        foreach (var (method, precision) in new[]
        {
            (CompressionMethod.DirNet, FactorPrecision.Float32), (CompressionMethod.DirNet, FactorPrecision.Int8),
            (CompressionMethod.DirNet, FactorPrecision.Int3), (CompressionMethod.Quant, FactorPrecision.Ternary),
        })
        {
            var options = new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = method, Ratio = 3, Scope = CompressionScope.Recurrent, Precision = precision };
            yield return ($"lm_compressed_{method}_{precision}".ToLowerInvariant(), RnnCompressor.Compress(OnnxModel.Parse(model), options).ToCompressedModel().ToBytes());
        }
    }
}
