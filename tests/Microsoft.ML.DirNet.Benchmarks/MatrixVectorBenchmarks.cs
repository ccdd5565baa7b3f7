using BenchmarkDotNet.Attributes;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Numerics.Simd;

namespace Microsoft.ML.DirNet.Benchmarks;

/// <summary>
/// One recurrent step's product y = R·h on the recurrent matrix of a 512-unit LSTM (2048 × 512), per stored precision:
/// float32 panels (the baseline) and rows (where panels are not supported), int8 levels with row scales, and int4 levels (groups of 128), the last two on every
/// rung of the SIMD ladder and by integer dot products with the input quantized (AVX-VNNI, else AVX-512BW). Random values, seeded.
/// </summary>
[MinColumn, MaxColumn, MedianColumn]
public class MatrixVectorBenchmarks
{
    private const int Rows = 2048, Columns = 512;
    private readonly float[] _x = new float[Columns];
    private readonly float[] _y = new float[Rows];
    private float[] _w = null!;
    private PackedMatrix _float = null!;
    private PackedInt8Matrix _int8 = null!;
    private PackedLowBitMatrix _int4 = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(5);
        var w = Enumerable.Range(0, Rows * Columns).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        for (var i = 0; i < Columns; i++)
        {
            _x[i] = (float)(random.NextDouble() * 2 - 1);
        }

        _w = w;
        _float = PackedMatrix.For(w, 0, Rows, Columns);
        var int4 = RoundToNearest.Quantize(w, Rows, Columns, LowBitGrid.Integer(4, 128));
        _int4 = PackedLowBitMatrix.For(int4, 0, Rows);
        var scales = Enumerable.Range(0, Rows).Select(r => w.AsSpan(r * Columns, Columns).ToArray().Max(MathF.Abs) / 127).ToArray();
        var levels = w.Select((v, i) => MathF.Round(v / scales[i / Columns]) * scales[i / Columns]).ToArray();
        _int8 = PackedInt8Matrix.For(levels, scales, 0, Rows, Columns);
    }

    [Benchmark(Baseline = true)]
    public void Float32() => _float.Multiply(_x, 1, _y, accumulate: false);

    /// <summary>The row-major float32 product, what machines without vector hardware run (and, before the packed kernels had a 128-bit rung, SSE-only and ARM64 ones).</summary>
    [Benchmark]
    public void Float32RowMajor() => MatrixMultiply.MultiplyByTransposed(_x, 1, Columns, _w, Rows, _y, accumulate: false);

    /// <summary>The packed float32 product on one rung of the ladder (what the low-bit and int8 kernels are weighed against on it).</summary>
    [Benchmark]
    [Arguments(16)]
    [Arguments(8)]
    [Arguments(4)]
    public void Float32OnRung(int lanes) => PackedMatrix.For(_w, 0, Rows, Columns, (LaneWidth)lanes).Multiply(_x, 1, _y, accumulate: false);

    [Benchmark]
    [Arguments(16)]
    [Arguments(8)]
    [Arguments(4)]
    public void Int8(int lanes) => _int8.Multiply(_x, 1, _y, accumulate: false, (LaneWidth)lanes); // the rung's float lanes

    /// <summary>int8 levels by integer dot products (AVX-VNNI, else AVX-512BW), the input quantized to int8 first.</summary>
    [Benchmark]
    public void Int8QuantizedInput() => _int8.MultiplyQuantized(_x, 1, _y, accumulate: false);

    /// <summary>int4 levels by integer dot products on their nibbles (AVX-VNNI, else AVX-512BW), the input quantized to int8 first.</summary>
    [Benchmark]
    public void Int4QuantizedInput() => _int4.MultiplyQuantized(_x, 1, _y, accumulate: false);

    [Benchmark]
    [Arguments(16)]
    [Arguments(8)]
    [Arguments(4)]
    public void Int4(int lanes) => _int4.Multiply(_x, 1, _y, accumulate: false, (LaneWidth)lanes); // the rung's float lanes
}
