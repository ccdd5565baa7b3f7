using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Microsoft.ML.DirNet.Numerics.Simd;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// A low-bit matrix (<see cref="GroupQuantizedValues"/>: int4, int3, int2 or ternary levels with a scale and zero point
/// per group of a row) rearranged for y = W·x without expanding it to floats: rows in panels of 16, and within a panel
/// each 32-bit word holds one row's levels for 8 consecutive columns, a nibble each, so one vector load brings 8 columns
/// of as many rows as the vector has lanes, and each column costs a shift, a mask, a conversion and a multiply-add in
/// registers. The matrix takes an eighth of its float32 bytes (int2 and ternary are widened to nibbles: a quarter), so
/// a recurrent matrix that float32 streams from L3 or memory at every step stays in L2.
/// </summary>
/// <remarks>
/// Per group, y += s·Σ q·x − s·z·Σ x (levels q, scale s, zero z): the sums over the group's inputs are formed once per
/// product, so the zero point costs one multiply-add per group and row rather than a subtraction per value. Groups are
/// padded to whole words with level 0, which adds nothing. The kernel is written once over <see cref="ILanes{TFloat, TUInt}"/>.
/// </remarks>
internal sealed class PackedLowBitMatrix
{
    /// <summary>Rows per panel: one Vector512 of lanes, two Vector256, four Vector128.</summary>
    public const int PanelRows = 16;

    private const int ColumnsPerWord = 8;

    private static readonly ConditionalWeakTable<GroupQuantizedValues, System.Collections.Concurrent.ConcurrentDictionary<(int Start, int Rows), PackedLowBitMatrix>> Cache = new();

    private readonly uint[] _words;          // [panel][word][lane]
    private readonly float[] _scales;        // [panel][group][lane]
    private readonly float[] _scaledZeros;   // s·z, [panel][group][lane]
    private readonly int[] _levelSums;       // Σ q over the group, [panel][group][lane] (for unsigned activations)
    private readonly int[] _groupWords;      // first word of each group, and the total at the end
    private readonly int _groupSize;

    private PackedLowBitMatrix(GroupQuantizedValues values, int start, int rows)
    {
        Rows = rows;
        Columns = values.Columns;
        _groupSize = values.Grid.GroupSize;
        var groups = values.Grid.GroupsPerRow(Columns);
        _groupWords = new int[groups + 1];
        for (var g = 0; g < groups; g++)
        {
            var width = Math.Min(_groupSize, Columns - g * _groupSize);
            _groupWords[g + 1] = _groupWords[g] + (width + ColumnsPerWord - 1) / ColumnsPerWord;
        }

        var words = _groupWords[groups];
        var panels = (rows + PanelRows - 1) / PanelRows;
        _words = new uint[(long)panels * words * PanelRows];
        _scales = new float[(long)panels * groups * PanelRows];
        _scaledZeros = new float[_scales.Length];
        _levelSums = new int[_scales.Length];
        for (var r = 0; r < rows; r++)
        {
            var (panel, lane) = (r / PanelRows, r % PanelRows);
            var row = start + r;
            for (var g = 0; g < groups; g++)
            {
                var group = row * groups + g;
                var at = (panel * groups + g) * PanelRows + lane;
                _scales[at] = (float)values.Scales[group];
                _scaledZeros[at] = _scales[at] * values.Zero(group);
                var first = g * _groupSize;
                var width = Math.Min(_groupSize, Columns - first);
                for (var k = 0; k < width; k++)
                {
                    var word = ((long)panel * words + _groupWords[g] + k / ColumnsPerWord) * PanelRows + lane;
                    _words[word] |= (uint)values.Levels[(long)row * Columns + first + k] << (4 * (k % ColumnsPerWord));
                    _levelSums[at] += values.Levels[(long)row * Columns + first + k];
                }
            }
        }
    }

    /// <summary>
    /// Whether products should run here rather than on the dequantized floats: where 256-bit vectors are accelerated.
    /// With 128-bit vectors it measured slower than the packed float32 kernel on the same rung, with FMA or without
    /// (MatrixVectorBenchmarks), so there the floats are kept.
    /// </summary>
    public static bool IsPreferred => LaneLadder.ForPanels == LaneWidth.Vector512;

    /// <summary>Outputs.</summary>
    public int Rows { get; }

    /// <summary>Inputs.</summary>
    public int Columns { get; }

    /// <summary>
    /// The packed form of rows [<paramref name="start"/>, start + <paramref name="rows"/>) of <paramref name="values"/>,
    /// made once per array and range and reused by every later run and thread.
    /// </summary>
    public static PackedLowBitMatrix For(GroupQuantizedValues values, int start, int rows) =>
        Cache.GetValue(values, static _ => new()).GetOrAdd((start, rows), static (key, source) => new PackedLowBitMatrix(source, key.Start, key.Rows), values);

    /// <summary>C[m×Rows] = A[m×Columns]·Wᵀ (or C += when <paramref name="accumulate"/>), one input row at a time, on the ladder's rung for panels.</summary>
    public void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate) => Multiply(a, m, c, accumulate, LaneLadder.ForPanels);

    /// <summary>As <see cref="Multiply(ReadOnlySpan{float}, int, Span{float}, bool)"/> on a given rung (the tests run each).</summary>
    internal void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate, LaneWidth rung)
    {
        if (a.Length < (long)m * Columns || c.Length < (long)m * Rows)
        {
            throw new ArgumentException("Matrix spans are smaller than their dimensions.");
        }

        var groups = _groupWords.Length - 1;
        using var inputs = new ScratchBuffer((long)_groupWords[groups] * ColumnsPerWord + groups);
        var padded = inputs.Span[..(_groupWords[groups] * ColumnsPerWord)];
        var sums = inputs.Span[padded.Length..];
        Span<float> tail = stackalloc float[PanelRows];
        for (var i = 0; i < m; i++)
        {
            var x = a.Slice(i * Columns, Columns);
            padded.Clear();
            for (var g = 0; g < groups; g++)
            {
                var group = x.Slice(g * _groupSize, Math.Min(_groupSize, Columns - g * _groupSize));
                group.CopyTo(padded[(_groupWords[g] * ColumnsPerWord)..]);
                sums[g] = TensorPrimitives.Sum(group);
            }

            var y = c.Slice(i * Rows, Rows);
            switch (rung)
            {
                case LaneWidth.Vector512: Product<Lanes512, Vector512<float>, Vector512<uint>>(padded, sums, y, accumulate, tail); break;
                case LaneWidth.Vector256: Product<Lanes256, Vector256<float>, Vector256<uint>>(padded, sums, y, accumulate, tail); break;
                case LaneWidth.Vector128: Product<Lanes128, Vector128<float>, Vector128<uint>>(padded, sums, y, accumulate, tail); break;
                default: Product<LanesScalar, float, uint>(padded, sums, y, accumulate, tail); break;
            }
        }
    }

    /// <summary>y = W·x (or y +=) for one input, <paramref name="x"/> padded per group to whole words, <paramref name="sums"/> its sum per group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Product<TLanes, TFloat, TUInt>(ReadOnlySpan<float> x, ReadOnlySpan<float> sums, Span<float> y, bool accumulate, Span<float> tail)
        where TLanes : struct, ILanes<TFloat, TUInt>
    {
        var groups = _groupWords.Length - 1;
        var words = _groupWords[groups];
        ref var word0 = ref MemoryMarshal.GetArrayDataReference(_words);
        ref var scale0 = ref MemoryMarshal.GetArrayDataReference(_scales);
        ref var zero0 = ref MemoryMarshal.GetArrayDataReference(_scaledZeros);
        ref var x0 = ref MemoryMarshal.GetReference(x);
        var panels = (Rows + PanelRows - 1) / PanelRows;
        for (var panel = 0; panel < panels; panel++)
        {
            var full = (panel + 1) * PanelRows <= Rows;
            ref var output = ref full ? ref y[panel * PanelRows] : ref tail[0];
            for (var lane = 0; lane < PanelRows; lane += TLanes.Count)
            {
                var total = TLanes.Zero;
                for (var g = 0; g < groups; g++)
                {
                    // A sum per column of the word, so that its multiply-adds do not wait on one another.
                    var (sum0, sum1, sum2, sum3) = (TLanes.Zero, TLanes.Zero, TLanes.Zero, TLanes.Zero);
                    var (sum4, sum5, sum6, sum7) = (TLanes.Zero, TLanes.Zero, TLanes.Zero, TLanes.Zero);
                    for (var w = _groupWords[g]; w < _groupWords[g + 1]; w++)
                    {
                        var levels = TLanes.LoadUInt(ref Unsafe.Add(ref word0, ((nint)panel * words + w) * PanelRows + lane));
                        ref var xw = ref Unsafe.Add(ref x0, w * ColumnsPerWord);
                        sum0 = TLanes.MultiplyAdd(TLanes.Nibble(levels, 0), TLanes.Broadcast(xw), sum0);
                        sum1 = TLanes.MultiplyAdd(TLanes.Nibble(levels, 4), TLanes.Broadcast(Unsafe.Add(ref xw, 1)), sum1);
                        sum2 = TLanes.MultiplyAdd(TLanes.Nibble(levels, 8), TLanes.Broadcast(Unsafe.Add(ref xw, 2)), sum2);
                        sum3 = TLanes.MultiplyAdd(TLanes.Nibble(levels, 12), TLanes.Broadcast(Unsafe.Add(ref xw, 3)), sum3);
                        sum4 = TLanes.MultiplyAdd(TLanes.Nibble(levels, 16), TLanes.Broadcast(Unsafe.Add(ref xw, 4)), sum4);
                        sum5 = TLanes.MultiplyAdd(TLanes.Nibble(levels, 20), TLanes.Broadcast(Unsafe.Add(ref xw, 5)), sum5);
                        sum6 = TLanes.MultiplyAdd(TLanes.Nibble(levels, 24), TLanes.Broadcast(Unsafe.Add(ref xw, 6)), sum6);
                        sum7 = TLanes.MultiplyAdd(TLanes.Nibble(levels, 28), TLanes.Broadcast(Unsafe.Add(ref xw, 7)), sum7);
                    }

                    var sum = TLanes.Add(TLanes.Add(TLanes.Add(sum0, sum1), TLanes.Add(sum2, sum3)), TLanes.Add(TLanes.Add(sum4, sum5), TLanes.Add(sum6, sum7)));
                    var at = ((nint)panel * groups + g) * PanelRows + lane;
                    total = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref scale0, at)), sum, total);
                    total = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref zero0, at)), TLanes.Broadcast(-sums[g]), total);
                }

                ref var target = ref Unsafe.Add(ref output, lane);
                TLanes.Store(accumulate && full ? TLanes.Add(TLanes.Load(ref target), total) : total, ref target);
            }

            if (!full)
            {
                WritePartialPanel(tail, y[(panel * PanelRows)..], accumulate);
            }
        }
    }

    /// <summary>
    /// C[m×Rows] = A[m×Columns]·Wᵀ (or C +=) with each input row itself quantized for the product, as for
    /// <see cref="PackedInt8Matrix.MultiplyQuantized"/>: symmetric int8 with one scale sₓ per row, shifted by 128 to
    /// unsigned bytes, so that integer dot products (AVX-VNNI) take four levels of a row at once: the low nibbles of a
    /// word (its even columns) and the high ones (its odd columns) against the matching bytes of the input. Per group,
    /// y += sₓ·(s·(Σ q·(xq + 128) − 128·Σ q) − s·z·Σ xq). The only error on top of the weights' is the inputs' rounding.
    /// Without AVX-VNNI, on AVX-512BW: the nibbles as unsigned bytes times the signed input bytes, added by pairs into
    /// 16 bits (vpmaddubsw: at most 2·15·127 = 3,810 per lane, two per word, so four words' worth, 30,480, fit before
    /// widening to 32 bits by vpmaddwd), with no shift by 128: y += sₓ·(s·Σ q·xq − s·z·Σ xq).
    /// </summary>
    public void MultiplyQuantized(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        if (!PackedInt8Matrix.HasIntegerDotProducts || Columns > PackedInt8Matrix.MaxQuantizedColumns)
        {
            throw new InvalidOperationException("The quantized product needs AVX-VNNI or AVX-512BW and at most 65,536 columns.");
        }

        if (a.Length < (long)m * Columns || c.Length < (long)m * Rows)
        {
            throw new ArgumentException("Matrix spans are smaller than their dimensions.");
        }

        var groups = _groupWords.Length - 1;
        var words = _groupWords[groups];
        // Per input row and word 8 bytes: its even columns' inputs, then its odd columns'; then the rows' sums of their
        // quantized inputs per group, and their scales.
        var stride = 2 * words;
        var used = m * (stride + groups + 1);
        using var buffer = new ScratchBuffer((long)used + Columns);
        var bytes = MemoryMarshal.AsBytes(buffer.Span[..(m * stride)]);
        var sums = MemoryMarshal.Cast<float, int>(buffer.Span.Slice(m * stride, m * groups));
        var scales = buffer.Span.Slice(m * (stride + groups), m);
        var levels = MemoryMarshal.Cast<float, int>(buffer.Span.Slice(used, Columns));
        var dotProducts = AvxVnni.IsSupported;
        var unsigned = dotProducts ? 128 : 0;
        // Padded columns hold level 0 (adding nothing to Σ q·x) and input 0 (adding nothing to Σ xq).
        bytes.Fill((byte)unsigned);
        for (var i = 0; i < m; i++)
        {
            var x = a.Slice(i * Columns, Columns);
            var scale = scales[i] = SymmetricInt8.Step(x);
            SymmetricInt8.Levels(x, scale, levels);
            for (var g = 0; g < groups; g++)
            {
                sums[i * groups + g] = TensorPrimitives.Sum<int>(levels.Slice(g * _groupSize, Math.Min(_groupSize, Columns - g * _groupSize)));
            }

            Interleave(levels, bytes.Slice(i * 4 * stride, 4 * stride), (byte)unsigned);
        }

        Span<float> tail = stackalloc float[4 * PanelRows];
        var i0 = 0;
        for (; !dotProducts && i0 + 4 <= m; i0 += 4)
        {
            ProductPairwise<Four>(bytes[(i0 * 4 * stride)..], stride, sums[(i0 * groups)..], scales[i0..], c[(i0 * Rows)..], accumulate, tail);
        }

        for (; i0 < m; i0++)
        {
            var x = bytes.Slice(i0 * 4 * stride, 4 * stride);
            var y = c.Slice(i0 * Rows, Rows);
            if (dotProducts)
            {
                ProductQuantized(x, sums.Slice(i0 * groups, groups), scales[i0], y, accumulate, tail);
            }
            else
            {
                ProductPairwise<One>(x, stride, sums[(i0 * groups)..], scales[i0..], y, accumulate, tail);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ProductQuantized(ReadOnlySpan<byte> x, ReadOnlySpan<int> sums, float xScale, Span<float> y, bool accumulate, Span<float> tail)
    {
        var groups = _groupWords.Length - 1;
        var words = _groupWords[groups];
        ref var word0 = ref MemoryMarshal.GetArrayDataReference(_words);
        ref var quad0 = ref Unsafe.As<byte, uint>(ref MemoryMarshal.GetReference(x));
        var mask = Vector256.Create(0x0F0F0F0Fu);
        var shift = Vector256.Create(128);
        var panels = (Rows + PanelRows - 1) / PanelRows;
        for (var panel = 0; panel < panels; panel++)
        {
            var full = (panel + 1) * PanelRows <= Rows;
            var output = full ? y.Slice(panel * PanelRows, PanelRows) : tail;
            var (lowTotal, highTotal) = (Vector256<float>.Zero, Vector256<float>.Zero);
            for (var g = 0; g < groups; g++)
            {
                // Rows 0-7 and 8-15, each with the even and the odd columns in sums of their own.
                var (lowEven, lowOdd, highEven, highOdd) = (Vector256<int>.Zero, Vector256<int>.Zero, Vector256<int>.Zero, Vector256<int>.Zero);
                for (var w = _groupWords[g]; w < _groupWords[g + 1]; w++)
                {
                    ref var column = ref Unsafe.Add(ref word0, ((nint)panel * words + w) * PanelRows);
                    var low = Vector256.LoadUnsafe(ref column);
                    var high = Vector256.LoadUnsafe(ref Unsafe.Add(ref column, 8));
                    var even = Vector256.Create(Unsafe.Add(ref quad0, 2 * w)).AsByte();
                    var odd = Vector256.Create(Unsafe.Add(ref quad0, 2 * w + 1)).AsByte();
                    lowEven = AvxVnni.MultiplyWideningAndAdd(lowEven, even, (low & mask).AsSByte());
                    lowOdd = AvxVnni.MultiplyWideningAndAdd(lowOdd, odd, ((low >>> 4) & mask).AsSByte());
                    highEven = AvxVnni.MultiplyWideningAndAdd(highEven, even, (high & mask).AsSByte());
                    highOdd = AvxVnni.MultiplyWideningAndAdd(highOdd, odd, ((high >>> 4) & mask).AsSByte());
                }

                var at = (panel * groups + g) * PanelRows;
                var inputSum = Vector256.Create((float)sums[g]);
                lowTotal += Vector256.ConvertToSingle(lowEven + lowOdd - Vector256.LoadUnsafe(ref _levelSums[at]) * shift) * Vector256.LoadUnsafe(ref _scales[at])
                    - Vector256.LoadUnsafe(ref _scaledZeros[at]) * inputSum;
                highTotal += Vector256.ConvertToSingle(highEven + highOdd - Vector256.LoadUnsafe(ref _levelSums[at + 8]) * shift) * Vector256.LoadUnsafe(ref _scales[at + 8])
                    - Vector256.LoadUnsafe(ref _scaledZeros[at + 8]) * inputSum;
            }

            lowTotal *= xScale;
            highTotal *= xScale;
            StorePanel(lowTotal, highTotal, output, accumulate && full);
            if (!full)
            {
                WritePartialPanel(tail, y[(panel * PanelRows)..], accumulate);
            }
        }
    }

    /// <summary>
    /// An input's levels as the quantized kernels read them: per word, its even columns' bytes, then its odd columns',
    /// each plus <paramref name="offset"/> (128 for unsigned bytes, or 0). Groups are whole words (their sizes are
    /// multiples of 8), so column k is in word k / 8 wherever its group starts.
    /// </summary>
    private static void Interleave(ReadOnlySpan<int> levels, Span<byte> row, byte offset)
    {
        var evenThenOdd = Vector128.Create((byte)0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
        var k = 0;
        for (; k + 16 <= levels.Length; k += 16)
        {
            var bytes = Vector128.Narrow(
                Vector128.Narrow(Vector128.Create(levels.Slice(k, 4)), Vector128.Create(levels.Slice(k + 4, 4))),
                Vector128.Narrow(Vector128.Create(levels.Slice(k + 8, 4)), Vector128.Create(levels.Slice(k + 12, 4)))).AsByte();
            (Vector128.Shuffle(bytes, evenThenOdd) + Vector128.Create(offset)).CopyTo(row[k..]);
        }

        for (; k < levels.Length; k++)
        {
            row[8 * (k / ColumnsPerWord) + (k % 2) * 4 + k % ColumnsPerWord / 2] = (byte)(levels[k] + offset);
        }
    }

    /// <summary>
    /// Rows [i0, i0 + <typeparamref name="TCount"/>) of the product on AVX-512BW (see <see cref="MultiplyQuantized"/>):
    /// <paramref name="x"/> their signed levels laid out as for <see cref="ProductQuantized"/>, one row every
    /// <paramref name="stride"/> 32-bit quads; <paramref name="sums"/> their groups' sums, one row after another.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ProductPairwise<TCount>(ReadOnlySpan<byte> x, int stride, ReadOnlySpan<int> sums, ReadOnlySpan<float> xScales, Span<float> y, bool accumulate, Span<float> tail)
        where TCount : struct, IInputCount
    {
        const int WordsPerWidening = 4;
        var groups = _groupWords.Length - 1;
        var words = _groupWords[groups];
        ref var word0 = ref MemoryMarshal.GetArrayDataReference(_words);
        ref var quad0 = ref Unsafe.As<byte, uint>(ref MemoryMarshal.GetReference(x));
        var mask = Vector512.Create(0x0F0F0F0Fu);
        var panels = (Rows + PanelRows - 1) / PanelRows;
        for (var panel = 0; panel < panels; panel++)
        {
            ref var panelWords = ref Unsafe.Add(ref word0, (nint)panel * words * PanelRows);
            var (total0, total1, total2, total3) = (Vector512<float>.Zero, Vector512<float>.Zero, Vector512<float>.Zero, Vector512<float>.Zero);
            for (var g = 0; g < groups; g++)
            {
                var (sum0, sum1, sum2, sum3) = (Vector512<int>.Zero, Vector512<int>.Zero, Vector512<int>.Zero, Vector512<int>.Zero);
                for (var w = _groupWords[g]; w < _groupWords[g + 1];)
                {
                    var (pairs0, pairs1, pairs2, pairs3) = (Vector512<short>.Zero, Vector512<short>.Zero, Vector512<short>.Zero, Vector512<short>.Zero);
                    for (var end = Math.Min(w + WordsPerWidening, _groupWords[g + 1]); w < end; w++)
                    {
                        var levels = Vector512.LoadUnsafe(ref Unsafe.Add(ref panelWords, w * PanelRows));
                        var (even, odd) = ((levels & mask).AsByte(), ((levels >>> 4) & mask).AsByte());
                        ref var inputs = ref Unsafe.Add(ref quad0, 2 * w);
                        pairs0 += Pairs(even, odd, ref inputs);
                        if (TCount.Count == 4)
                        {
                            pairs1 += Pairs(even, odd, ref Unsafe.Add(ref inputs, stride));
                            pairs2 += Pairs(even, odd, ref Unsafe.Add(ref inputs, 2 * stride));
                            pairs3 += Pairs(even, odd, ref Unsafe.Add(ref inputs, 3 * stride));
                        }
                    }

                    sum0 += Avx512BW.MultiplyAddAdjacent(pairs0, Vector512<short>.One);
                    if (TCount.Count == 4)
                    {
                        sum1 += Avx512BW.MultiplyAddAdjacent(pairs1, Vector512<short>.One);
                        sum2 += Avx512BW.MultiplyAddAdjacent(pairs2, Vector512<short>.One);
                        sum3 += Avx512BW.MultiplyAddAdjacent(pairs3, Vector512<short>.One);
                    }
                }

                var at = (panel * groups + g) * PanelRows;
                var (scales, zeros) = (Vector512.LoadUnsafe(ref _scales[at]), Vector512.LoadUnsafe(ref _scaledZeros[at]));
                total0 += Vector512.ConvertToSingle(sum0) * scales - zeros * sums[g];
                if (TCount.Count == 4)
                {
                    total1 += Vector512.ConvertToSingle(sum1) * scales - zeros * sums[groups + g];
                    total2 += Vector512.ConvertToSingle(sum2) * scales - zeros * sums[2 * groups + g];
                    total3 += Vector512.ConvertToSingle(sum3) * scales - zeros * sums[3 * groups + g];
                }
            }

            var full = (panel + 1) * PanelRows <= Rows;
            for (var i = 0; i < TCount.Count; i++)
            {
                var total = xScales[i] * i switch { 0 => total0, 1 => total1, 2 => total2, _ => total3 };
                var output = full ? y.Slice(i * Rows + panel * PanelRows, PanelRows) : tail.Slice(i * PanelRows, PanelRows);
                StorePanel(total.GetLower(), total.GetUpper(), output, accumulate && full);
                if (!full)
                {
                    WritePartialPanel(output, y[(i * Rows + panel * PanelRows)..(i * Rows + Rows)], accumulate);
                }
            }
        }
    }

    /// <summary>One word's even and odd nibbles (unsigned bytes) times the input's matching signed bytes, added by pairs into 16 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Pairs(Vector512<byte> even, Vector512<byte> odd, ref uint inputs) =>
        Avx512BW.MultiplyAddAdjacent(even, Vector512.Create(inputs).AsSByte()) + Avx512BW.MultiplyAddAdjacent(odd, Vector512.Create(Unsafe.Add(ref inputs, 1)).AsSByte());

    /// <summary>A panel's rows 0-7 and 8-15 written to <paramref name="output"/>, or added to what it holds.</summary>
    internal static void StorePanel(Vector256<float> low, Vector256<float> high, Span<float> output, bool add)
    {
        (add ? low + Vector256.Create<float>(output) : low).CopyTo(output);
        (add ? high + Vector256.Create<float>(output[8..]) : high).CopyTo(output[8..]);
    }

    /// <summary>The rows of a partial last panel, computed into <paramref name="panel"/>, written (or added) to <paramref name="rows"/>.</summary>
    internal static void WritePartialPanel(ReadOnlySpan<float> panel, Span<float> rows, bool accumulate)
    {
        if (accumulate)
        {
            TensorPrimitives.Add(rows, panel[..rows.Length], rows);
        }
        else
        {
            panel[..rows.Length].CopyTo(rows);
        }
    }
}
