using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Microsoft.ML.DirNet.Numerics.Simd;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// A weight matrix stored as int8 levels with one float32 scale per row (W[r, k] = q[r, k]·s[r], see
/// <c>Int8Rows</c>), rearranged for y = W·x as <see cref="PackedLowBitMatrix"/> is: rows in panels of 16, each 32-bit
/// word one row's levels for 4 consecutive columns, so one vector load brings 4 columns of as many rows as the vector
/// has lanes, each sign-extended by two shifts and converted in registers; each row's sum is scaled once at the end,
/// y[r] = s[r]·Σ q[r, k]·x[k]. For single inputs (recurrent steps) it reads a quarter of the float32 matrix's bytes,
/// which is what bounds a matrix-vector product. Written once over <see cref="ILanes{TFloat, TUInt}"/>.
/// </summary>
internal sealed class PackedInt8Matrix
{
    private const int PanelRows = PackedLowBitMatrix.PanelRows;

    private const int ColumnsPerWord = 4;

    /// <summary>Columns per step of the kernel: two words, so that eight sums run side by side.</summary>
    private const int ColumnsPerStep = 2 * ColumnsPerWord;

    private static readonly ConditionalWeakTable<float[], System.Collections.Concurrent.ConcurrentDictionary<(int Offset, int Rows, int Columns), PackedInt8Matrix>> Cache = new();

    private readonly uint[] _words;   // [panel][word][lane], columns zero-padded to whole steps
    private readonly float[] _scales; // row scales, zero-padded to whole panels
    private readonly int _wordsPerPanel;

    private PackedInt8Matrix(ReadOnlySpan<float> values, ReadOnlySpan<float> scales, int rows, int columns)
    {
        Rows = rows;
        Columns = columns;
        _wordsPerPanel = (columns + ColumnsPerStep - 1) / ColumnsPerStep * 2;
        var panels = (rows + PanelRows - 1) / PanelRows;
        _words = new uint[(long)panels * _wordsPerPanel * PanelRows];
        _scales = new float[panels * PanelRows];
        for (var r = 0; r < rows; r++)
        {
            var scale = scales[r];
            _scales[r] = scale;
            var source = values.Slice(r * columns, columns);
            for (var k = 0; k < columns; k++)
            {
                // The values are on the int8 grid (q·s), so dividing by the scale and rounding recovers q exactly.
                var level = scale == 0f ? (sbyte)0 : (sbyte)MathF.Round(source[k] / scale);
                _words[((long)(r / PanelRows) * _wordsPerPanel + k / ColumnsPerWord) * PanelRows + r % PanelRows] |= (uint)(byte)level << (8 * (k % ColumnsPerWord));
            }
        }
    }

    /// <summary>
    /// Whether products should run here rather than on the float32 values: where 256-bit vectors are accelerated. With
    /// 128-bit ones only (SSE without FMA) this kernel measured slower than the float32 row kernel (MatrixVectorBenchmarks).
    /// </summary>
    public static bool IsPreferred => LaneLadder.ForPanels == LaneWidth.Vector512;

    /// <summary>Outputs.</summary>
    public int Rows { get; }

    /// <summary>Inputs.</summary>
    public int Columns { get; }

    /// <summary>
    /// The packed form of the [rows, columns] matrix at <paramref name="offset"/> in <paramref name="values"/> (already
    /// on the int8 grid of <paramref name="scales"/>, one per row), made once per array and range.
    /// </summary>
    public static PackedInt8Matrix For(float[] values, float[] scales, int offset, int rows, int columns) =>
        Cache.GetValue(values, static _ => new()).GetOrAdd((offset, rows, columns), static (key, state) => new PackedInt8Matrix(
            state.Values.AsSpan(key.Offset, key.Rows * key.Columns), state.Scales.AsSpan(key.Offset / System.Math.Max(key.Columns, 1), key.Rows), key.Rows, key.Columns),
            (Values: values, Scales: scales));

    /// <summary>C[m×Rows] = A[m×Columns]·Wᵀ, or C += when <paramref name="accumulate"/>; one input row at a time, on the ladder's rung for panels.</summary>
    public void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate) => Multiply(a, m, c, accumulate, LaneLadder.ForPanels);

    /// <summary>As <see cref="Multiply(ReadOnlySpan{float}, int, Span{float}, bool)"/> on a given rung (the tests run each).</summary>
    internal void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate, LaneWidth rung)
    {
        if (a.Length < (long)m * Columns || c.Length < (long)m * Rows)
        {
            throw new ArgumentException("Matrix spans are smaller than their dimensions.");
        }

        using var input = new ScratchBuffer((long)_wordsPerPanel * ColumnsPerWord);
        var padded = input.Span;
        Span<float> tail = stackalloc float[PanelRows];
        for (var i = 0; i < m; i++)
        {
            a.Slice(i * Columns, Columns).CopyTo(padded);
            padded[Columns..].Clear();
            var y = c.Slice(i * Rows, Rows);
            switch (rung)
            {
                case LaneWidth.Vector512: Product<Lanes512, Vector512<float>, Vector512<uint>>(padded, y, accumulate, tail); break;
                case LaneWidth.Vector256: Product<Lanes256, Vector256<float>, Vector256<uint>>(padded, y, accumulate, tail); break;
                case LaneWidth.Vector128: Product<Lanes128, Vector128<float>, Vector128<uint>>(padded, y, accumulate, tail); break;
                default: Product<LanesScalar, float, uint>(padded, y, accumulate, tail); break;
            }
        }
    }

    /// <summary>y = W·x (or y +=) for one input, <paramref name="x"/> zero-padded to whole steps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Product<TLanes, TFloat, TUInt>(ReadOnlySpan<float> x, Span<float> y, bool accumulate, Span<float> tail)
        where TLanes : struct, ILanes<TFloat, TUInt>
    {
        ref var word0 = ref MemoryMarshal.GetArrayDataReference(_words);
        ref var scale0 = ref MemoryMarshal.GetArrayDataReference(_scales);
        ref var x0 = ref MemoryMarshal.GetReference(x);
        var panels = (Rows + PanelRows - 1) / PanelRows;
        for (var panel = 0; panel < panels; panel++)
        {
            var full = (panel + 1) * PanelRows <= Rows;
            ref var output = ref full ? ref y[panel * PanelRows] : ref tail[0];
            for (var lane = 0; lane < PanelRows; lane += TLanes.Count)
            {
                // A sum per column of the step, so that its multiply-adds do not wait on one another.
                var (sum0, sum1, sum2, sum3) = (TLanes.Zero, TLanes.Zero, TLanes.Zero, TLanes.Zero);
                var (sum4, sum5, sum6, sum7) = (TLanes.Zero, TLanes.Zero, TLanes.Zero, TLanes.Zero);
                ref var words = ref Unsafe.Add(ref word0, (nint)panel * _wordsPerPanel * PanelRows + lane);
                for (var w = 0; w < _wordsPerPanel; w += 2)
                {
                    var low = TLanes.LoadUInt(ref Unsafe.Add(ref words, w * PanelRows));
                    var high = TLanes.LoadUInt(ref Unsafe.Add(ref words, (w + 1) * PanelRows));
                    ref var xw = ref Unsafe.Add(ref x0, w * ColumnsPerWord);
                    sum0 = TLanes.MultiplyAdd(TLanes.SignedByte(low, 0), TLanes.Broadcast(xw), sum0);
                    sum1 = TLanes.MultiplyAdd(TLanes.SignedByte(low, 8), TLanes.Broadcast(Unsafe.Add(ref xw, 1)), sum1);
                    sum2 = TLanes.MultiplyAdd(TLanes.SignedByte(low, 16), TLanes.Broadcast(Unsafe.Add(ref xw, 2)), sum2);
                    sum3 = TLanes.MultiplyAdd(TLanes.SignedByte(low, 24), TLanes.Broadcast(Unsafe.Add(ref xw, 3)), sum3);
                    sum4 = TLanes.MultiplyAdd(TLanes.SignedByte(high, 0), TLanes.Broadcast(Unsafe.Add(ref xw, 4)), sum4);
                    sum5 = TLanes.MultiplyAdd(TLanes.SignedByte(high, 8), TLanes.Broadcast(Unsafe.Add(ref xw, 5)), sum5);
                    sum6 = TLanes.MultiplyAdd(TLanes.SignedByte(high, 16), TLanes.Broadcast(Unsafe.Add(ref xw, 6)), sum6);
                    sum7 = TLanes.MultiplyAdd(TLanes.SignedByte(high, 24), TLanes.Broadcast(Unsafe.Add(ref xw, 7)), sum7);
                }

                var sum = TLanes.Add(TLanes.Add(TLanes.Add(sum0, sum1), TLanes.Add(sum2, sum3)), TLanes.Add(TLanes.Add(sum4, sum5), TLanes.Add(sum6, sum7)));
                var total = TLanes.Multiply(TLanes.Load(ref Unsafe.Add(ref scale0, panel * PanelRows + lane)), sum);
                ref var target = ref Unsafe.Add(ref output, lane);
                TLanes.Store(accumulate && full ? TLanes.Add(TLanes.Load(ref target), total) : total, ref target);
            }

            if (!full)
            {
                PackedLowBitMatrix.WritePartialPanel(tail, y[(panel * PanelRows)..], accumulate);
            }
        }
    }
}
