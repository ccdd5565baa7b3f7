using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.DirNet.Benchmarks;

/// <summary>What the tables in docs/results say of the machine and of how .NET was told to run on it.</summary>
internal static class MachineDescription
{
    /// <summary>The widest vectors .NET accelerates here, and which integer dot products the quantized kernels use.</summary>
    public static string Simd =>
        (Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "256-bit SIMD" : Vector128.IsHardwareAccelerated ? "128-bit SIMD" : "no SIMD")
        + (AvxVnni.IsSupported ? ", AVX-VNNI" : Avx512BW.IsSupported ? ", no AVX-VNNI: AVX-512BW integer products" : "");

    /// <summary>
    /// The DOTNET_Enable… settings this process runs under (e.g. <c>DOTNET_EnableAVX=0 </c>, which the SIMD ladder's
    /// narrower rungs are measured with), each followed by a space, to put before a recorded command; empty when none.
    /// </summary>
    public static string EnvironmentPrefix =>
        string.Concat(Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith("DOTNET_Enable", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
            .Select(k => $"{k}={Environment.GetEnvironmentVariable(k)} "));
}
