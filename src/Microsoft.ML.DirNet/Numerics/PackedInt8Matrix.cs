using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
    private readonly int[] _levelSums; // Σ_k q[r, k] per row, zero-padded to whole panels (for unsigned activations)
    private readonly int _wordsPerPanel;

    private PackedInt8Matrix(ReadOnlySpan<float> values, ReadOnlySpan<float> scales, int rows, int columns)
    {
        Rows = rows;
        Columns = columns;
        _wordsPerPanel = (columns + ColumnsPerStep - 1) / ColumnsPerStep * 2;
        var panels = (rows + PanelRows - 1) / PanelRows;
        _words = new uint[(long)panels * _wordsPerPanel * PanelRows];
        _scales = new float[panels * PanelRows];
        _levelSums = new int[panels * PanelRows];
        for (var r = 0; r < rows; r++)
        {
            var scale = scales[r];
            _scales[r] = scale;
            var source = values.Slice(r * columns, columns);
            for (var k = 0; k < columns; k++)
            {
                // The values are on the int8 grid (q·s), so dividing by the scale and rounding recovers q exactly.
                var level = scale == 0f ? (sbyte)0 : (sbyte)MathF.Round(source[k] / scale);
                _levelSums[r] += level;
                _words[((long)(r / PanelRows) * _wordsPerPanel + k / ColumnsPerWord) * PanelRows + r % PanelRows] |= (uint)(byte)level << (8 * (k % ColumnsPerWord));
            }
        }
    }

    /// <summary>
    /// Whether products should run here rather than on the float32 values: where 256-bit vectors are accelerated. With
    /// 128-bit ones this kernel measured slower than the packed float32 kernel on the same rung, with FMA or without
    /// (MatrixVectorBenchmarks), so there the floats are kept.
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

    /// <summary>
    /// Whether <see cref="MultiplyQuantized"/> runs on integer dot products, and so can be used: AVX-VNNI (four int8
    /// products summed into each 32-bit lane per instruction), or else AVX-512BW (int16 multiply-adds, two products per
    /// lane; processors with AVX-512 VNNI but not AVX-VNNI, which .NET does not expose, get this).
    /// </summary>
    public static bool HasIntegerDotProducts => AvxVnni.IsSupported || Avx512BW.IsSupported;

    /// <summary>What the quantized products run on here: "avx-vnni", "avx-512bw", or "none" (then they are refused).</summary>
    public static string IntegerProducts => AvxVnni.IsSupported ? "avx-vnni" : Avx512BW.IsSupported ? "avx-512bw" : "none";

    /// <summary>The most columns whose int32 sums cannot overflow: each step adds at most 4·255·128.</summary>
    public const int MaxQuantizedColumns = 1 << 16;

    /// <summary>
    /// C[m×Rows] = A[m×Columns]·Wᵀ (or C +=) with each input row itself quantized for the product, as ONNX Runtime's
    /// DynamicQuantizeLSTM does: symmetric int8 with one scale per row (its largest magnitude over 127), shifted by 128
    /// to the unsigned bytes the integer dot product takes; c[r] = s[r]·sₓ·(Σ_k q[r, k]·(xq[k] + 128) − 128·Σ_k q[r, k]).
    /// The only error on top of the weights' is the inputs' rounding, at most sₓ/2 per element. Four input rows share
    /// each loaded weight vector, so a batch (an input projection over a sequence) reads the weights once per four.
    /// </summary>
    public void MultiplyQuantized(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        if (!HasIntegerDotProducts || Columns > MaxQuantizedColumns)
        {
            throw new InvalidOperationException("The quantized product needs AVX-VNNI or AVX-512BW and at most 65,536 columns.");
        }

        if (a.Length < (long)m * Columns || c.Length < (long)m * Rows)
        {
            throw new ArgumentException("Matrix spans are smaller than their dimensions.");
        }

        if (!AvxVnni.IsSupported)
        {
            MultiplyWidened(a, m, c, accumulate);
            return;
        }

        var stride = _wordsPerPanel * ColumnsPerWord;
        using var buffer = new ScratchBuffer((long)m * stride / 4 + m + Columns);
        var scales = buffer.Span[..m];
        var levels = MemoryMarshal.Cast<float, int>(buffer.Span.Slice(m, Columns));
        var bytes = MemoryMarshal.AsBytes(buffer.Span[(m + Columns)..]);
        // Padded columns hold weight 0, so whatever they hold adds nothing; 128 is x = 0.
        bytes.Fill(128);
        for (var i = 0; i < m; i++)
        {
            var x = a.Slice(i * Columns, Columns);
            var scale = scales[i] = SymmetricInt8.Step(x);
            SymmetricInt8.Levels(x, scale, levels);
            var row = bytes.Slice(i * stride, Columns);
            var k = 0;
            for (; k + 16 <= Columns; k += 16)
            {
                (Vector128.Narrow(
                    Vector128.Narrow(Vector128.Create(levels.Slice(k, 4)), Vector128.Create(levels.Slice(k + 4, 4))),
                    Vector128.Narrow(Vector128.Create(levels.Slice(k + 8, 4)), Vector128.Create(levels.Slice(k + 12, 4)))).AsByte() + Vector128.Create((byte)128)).CopyTo(row[k..]);
            }

            for (; k < Columns; k++)
            {
                row[k] = (byte)(levels[k] + 128);
            }
        }

        Span<float> tail = stackalloc float[4 * PanelRows];
        var i0 = 0;
        for (; i0 + 4 <= m; i0 += 4)
        {
            ProductQuantized<Four>(bytes[(i0 * stride)..], stride, scales[i0..], c[(i0 * Rows)..], accumulate, tail);
        }

        for (; i0 < m; i0++)
        {
            ProductQuantized<One>(bytes[(i0 * stride)..], stride, scales[i0..], c[(i0 * Rows)..], accumulate, tail);
        }
    }

    /// <summary>
    /// Rows [i0, i0 + <typeparamref name="TCount"/>) of the quantized product: <paramref name="x"/> their bytes, one
    /// row every <paramref name="stride"/>; <paramref name="y"/> their outputs, one row every <see cref="Rows"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ProductQuantized<TCount>(ReadOnlySpan<byte> x, int stride, ReadOnlySpan<float> xScales, Span<float> y, bool accumulate, Span<float> tail)
        where TCount : struct, IInputCount
    {
        ref var word0 = ref MemoryMarshal.GetArrayDataReference(_words);
        ref var quad0 = ref Unsafe.As<byte, uint>(ref MemoryMarshal.GetReference(x));
        var quadStride = stride / 4;
        var panels = (Rows + PanelRows - 1) / PanelRows;
        var shift = Vector256.Create(128);
        for (var panel = 0; panel < panels; panel++)
        {
            ref var words = ref Unsafe.Add(ref word0, (nint)panel * _wordsPerPanel * PanelRows);
            // Rows 0-7 and 8-15 of the panel for each input: independent sums, so the dot products do not wait on one another.
            var (low0, high0, low1, high1) = (Vector256<int>.Zero, Vector256<int>.Zero, Vector256<int>.Zero, Vector256<int>.Zero);
            var (low2, high2, low3, high3) = (Vector256<int>.Zero, Vector256<int>.Zero, Vector256<int>.Zero, Vector256<int>.Zero);
            for (var w = 0; w < _wordsPerPanel; w++)
            {
                ref var column = ref Unsafe.Add(ref words, w * PanelRows);
                var low = Vector256.LoadUnsafe(ref column).AsSByte();
                var high = Vector256.LoadUnsafe(ref Unsafe.Add(ref column, 8)).AsSByte();
                var x0 = Vector256.Create(Unsafe.Add(ref quad0, w)).AsByte();
                low0 = AvxVnni.MultiplyWideningAndAdd(low0, x0, low);
                high0 = AvxVnni.MultiplyWideningAndAdd(high0, x0, high);
                if (TCount.Count == 4)
                {
                    var x1 = Vector256.Create(Unsafe.Add(ref quad0, quadStride + w)).AsByte();
                    var x2 = Vector256.Create(Unsafe.Add(ref quad0, 2 * quadStride + w)).AsByte();
                    var x3 = Vector256.Create(Unsafe.Add(ref quad0, 3 * quadStride + w)).AsByte();
                    low1 = AvxVnni.MultiplyWideningAndAdd(low1, x1, low);
                    high1 = AvxVnni.MultiplyWideningAndAdd(high1, x1, high);
                    low2 = AvxVnni.MultiplyWideningAndAdd(low2, x2, low);
                    high2 = AvxVnni.MultiplyWideningAndAdd(high2, x2, high);
                    low3 = AvxVnni.MultiplyWideningAndAdd(low3, x3, low);
                    high3 = AvxVnni.MultiplyWideningAndAdd(high3, x3, high);
                }
            }

            var full = (panel + 1) * PanelRows <= Rows;
            var rowScales = (Vector256.LoadUnsafe(ref _scales[panel * PanelRows]), Vector256.LoadUnsafe(ref _scales[panel * PanelRows + 8]));
            var levelSums = (Vector256.LoadUnsafe(ref _levelSums[panel * PanelRows]) * shift, Vector256.LoadUnsafe(ref _levelSums[panel * PanelRows + 8]) * shift);
            for (var i = 0; i < TCount.Count; i++)
            {
                var (lowSum, highSum) = i switch { 0 => (low0, high0), 1 => (low1, high1), 2 => (low2, high2), _ => (low3, high3) };
                var output = full ? y.Slice(i * Rows + panel * PanelRows, PanelRows) : tail.Slice(i * PanelRows, PanelRows);
                var lowValue = Vector256.ConvertToSingle(lowSum - levelSums.Item1) * (rowScales.Item1 * xScales[i]);
                var highValue = Vector256.ConvertToSingle(highSum - levelSums.Item2) * (rowScales.Item2 * xScales[i]);
                PackedLowBitMatrix.StorePanel(lowValue, highValue, output, accumulate && full);
                if (!full)
                {
                    PackedLowBitMatrix.WritePartialPanel(output, y[(i * Rows + panel * PanelRows)..(i * Rows + Rows)], accumulate);
                }
            }
        }
    }

    /// <summary>
    /// <see cref="MultiplyQuantized"/> without AVX-VNNI, on AVX-512BW: each 16-bit half of a weight word (two columns of
    /// a row) is split in registers into its low and high bytes, sign-extended by shifts, and multiplied by pairs into
    /// the row's 32-bit lane (vpmaddwd) against the inputs' levels as int16: columns 0 and 2 by one, 1 and 3 by the
    /// other. Signed by signed, so no shift by 128, and no overflow: |q·x| ≤ 127².
    /// </summary>
    private void MultiplyWidened(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        var stride = _wordsPerPanel * ColumnsPerWord;
        using var buffer = new ScratchBuffer((long)m * stride / 2 + m + Columns);
        var scales = buffer.Span[..m];
        var levels = MemoryMarshal.Cast<float, int>(buffer.Span.Slice(m, Columns));
        var inputs = MemoryMarshal.Cast<float, short>(buffer.Span[(m + Columns)..]);
        inputs.Clear(); // padded columns hold weight 0 and input 0
        for (var i = 0; i < m; i++)
        {
            var x = a.Slice(i * Columns, Columns);
            var scale = scales[i] = SymmetricInt8.Step(x);
            SymmetricInt8.Levels(x, scale, levels);
            // Per word: columns 0 and 2 (against the words' low bytes), then 1 and 3 (their high bytes).
            var row = inputs.Slice(i * stride, stride);
            var k = 0;
            for (; k + 8 <= Columns; k += 8)
            {
                var shorts = Vector128.Narrow(Vector128.Create(levels.Slice(k, 4)), Vector128.Create(levels.Slice(k + 4, 4)));
                Vector128.Shuffle(shorts, Vector128.Create((short)0, 2, 1, 3, 4, 6, 5, 7)).CopyTo(row[k..]);
            }

            for (; k < Columns; k++)
            {
                row[k & ~3 | (k & 1) << 1 | (k & 2) >> 1] = (short)levels[k];
            }
        }

        Span<float> tail = stackalloc float[4 * PanelRows];
        var i0 = 0;
        for (; i0 + 4 <= m; i0 += 4)
        {
            ProductWidened<Four>(inputs[(i0 * stride)..], stride, scales[i0..], c[(i0 * Rows)..], accumulate, tail);
        }

        for (; i0 < m; i0++)
        {
            ProductWidened<One>(inputs[(i0 * stride)..], stride, scales[i0..], c[(i0 * Rows)..], accumulate, tail);
        }
    }

    /// <summary>Rows [i0, i0 + <typeparamref name="TCount"/>) of the widened product, laid out as in <see cref="ProductQuantized"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ProductWidened<TCount>(ReadOnlySpan<short> x, int stride, ReadOnlySpan<float> xScales, Span<float> y, bool accumulate, Span<float> tail)
        where TCount : struct, IInputCount
    {
        ref var word0 = ref MemoryMarshal.GetArrayDataReference(_words);
        ref var pair0 = ref Unsafe.As<short, uint>(ref MemoryMarshal.GetReference(x));
        var pairStride = stride / 2;
        var panels = (Rows + PanelRows - 1) / PanelRows;
        for (var panel = 0; panel < panels; panel++)
        {
            ref var words = ref Unsafe.Add(ref word0, (nint)panel * _wordsPerPanel * PanelRows);
            // Even (columns 0, 2) and odd (1, 3) sums apart, so that the multiply-adds do not wait on one another.
            var (even0, odd0, even1, odd1) = (Vector512<int>.Zero, Vector512<int>.Zero, Vector512<int>.Zero, Vector512<int>.Zero);
            var (even2, odd2, even3, odd3) = (Vector512<int>.Zero, Vector512<int>.Zero, Vector512<int>.Zero, Vector512<int>.Zero);
            for (var w = 0; w < _wordsPerPanel; w++)
            {
                var word = Vector512.LoadUnsafe(ref Unsafe.Add(ref words, w * PanelRows)).AsInt16();
                var (low, high) = ((word << 8) >> 8, word >> 8);
                even0 += Avx512BW.MultiplyAddAdjacent(low, Vector512.Create(Unsafe.Add(ref pair0, 2 * w)).AsInt16());
                odd0 += Avx512BW.MultiplyAddAdjacent(high, Vector512.Create(Unsafe.Add(ref pair0, 2 * w + 1)).AsInt16());
                if (TCount.Count == 4)
                {
                    even1 += Avx512BW.MultiplyAddAdjacent(low, Vector512.Create(Unsafe.Add(ref pair0, pairStride + 2 * w)).AsInt16());
                    odd1 += Avx512BW.MultiplyAddAdjacent(high, Vector512.Create(Unsafe.Add(ref pair0, pairStride + 2 * w + 1)).AsInt16());
                    even2 += Avx512BW.MultiplyAddAdjacent(low, Vector512.Create(Unsafe.Add(ref pair0, 2 * pairStride + 2 * w)).AsInt16());
                    odd2 += Avx512BW.MultiplyAddAdjacent(high, Vector512.Create(Unsafe.Add(ref pair0, 2 * pairStride + 2 * w + 1)).AsInt16());
                    even3 += Avx512BW.MultiplyAddAdjacent(low, Vector512.Create(Unsafe.Add(ref pair0, 3 * pairStride + 2 * w)).AsInt16());
                    odd3 += Avx512BW.MultiplyAddAdjacent(high, Vector512.Create(Unsafe.Add(ref pair0, 3 * pairStride + 2 * w + 1)).AsInt16());
                }
            }

            var full = (panel + 1) * PanelRows <= Rows;
            var rowScales = Vector512.LoadUnsafe(ref _scales[panel * PanelRows]);
            for (var i = 0; i < TCount.Count; i++)
            {
                var sums = i switch { 0 => even0 + odd0, 1 => even1 + odd1, 2 => even2 + odd2, _ => even3 + odd3 };
                var value = Vector512.ConvertToSingle(sums) * (rowScales * xScales[i]);
                var output = full ? y.Slice(i * Rows + panel * PanelRows, PanelRows) : tail.Slice(i * PanelRows, PanelRows);
                PackedLowBitMatrix.StorePanel(value.GetLower(), value.GetUpper(), output, accumulate && full);
                if (!full)
                {
                    PackedLowBitMatrix.WritePartialPanel(output, y[(i * Rows + panel * PanelRows)..(i * Rows + Rows)], accumulate);
                }
            }
        }
    }
}
