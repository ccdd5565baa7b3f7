using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Compression;

// HMD's product, run directly from the factors: the dense top rows as a packed dense product, then the rank-1 blocks
// in two vectorised passes rather than one short dot and one short add per block (the planner's blocks are often
// 8 × 8, where per-call overhead would dominate). Pass 1 forms every block's dot sᵢⱼ = vᵢⱼ·x_j, eight block rows per
// vector: S[j, i] = Σ over the columns c of block column j of x[c]·Vᵀ[c, i]. Pass 2 gives each block row i its
// outputs, eight rows per vector: y[rows of i] = Σⱼ S[j, i]·u[j, rows of i]. The passes alternate over slabs of block
// rows so the dots stay in L1; both read their factor once per tile of four inputs, so a sequence's input projection
// reuses each loaded factor, and keep eight independent sums in flight (two FMA units of four cycles' latency need
// eight).
public sealed partial class HybridMatrix
{
    private BlockProduct? _product;

    /// <inheritdoc/>
    internal override string Form => "hybrid";

    /// <summary>
    /// The factors repacked for the two passes, made on first use (a hybrid that is only stored or exported never packs
    /// them), and idempotent, so threads racing here build equal packings.
    /// </summary>
    private BlockProduct Product => _product ?? Interlocked.CompareExchange(ref _product, new BlockProduct(this), null) ?? _product;

    /// <inheritdoc/>
    internal override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        CheckBatch(a, m, c);
        Product.Multiply(a, m, c, accumulate);
    }

    /// <inheritdoc/>
    internal override void ReadRow(int row, Span<float> destination) => Product.ReadRow(row, destination);

    /// <summary>The packed factors and the kernels of both passes (see the type's summary).</summary>
    private sealed class BlockProduct
    {
        private const int Lanes = 8;
        private const int Tile = 4;

        private readonly HybridMatrix _matrix;
        private readonly DenseMatrix? _top;

        /// <summary>Vᵀ [columns × padded block rows], zero beyond the last block row so every pass-1 vector is whole.</summary>
        private readonly float[] _vTransposed;
        private readonly int _paddedBlockRows;

        /// <summary>
        /// U per block row i, from <see cref="_groupOffsets"/>[i]: for each eight of its rows (zero-padded), the block
        /// columns' u over those rows one after another, so pass 2 reads it strictly in order.
        /// </summary>
        private readonly float[] _uPacked;
        private readonly int[] _groupOffsets;
        private readonly int[] _rowStarts;
        private readonly int[] _columnStarts;
        private readonly int[] _blockRowOf;

        public BlockProduct(HybridMatrix matrix)
        {
            _matrix = matrix;
            int columns = matrix.Columns, lower = matrix.Rows - matrix.DenseRows, blockRows = matrix.BlockRows, blockColumns = matrix.BlockColumns;
            var top = matrix._top;
            _top = matrix.DenseRows > 0 ? new DenseMatrix(top, 0, matrix.DenseRows, columns, matrix.Int8ScalesOf(top)) : null;
            var u = matrix._u;
            var v = matrix._v;
            _rowStarts = Enumerable.Range(0, blockRows + 1).Select(i => HybridMatrix.BlockStart(i, lower, blockRows)).ToArray();
            _columnStarts = Enumerable.Range(0, blockColumns + 1).Select(j => HybridMatrix.BlockStart(j, columns, blockColumns)).ToArray();

            _paddedBlockRows = RoundUp(blockRows);
            _vTransposed = new float[(long)columns * _paddedBlockRows];
            for (var i = 0; i < blockRows; i++)
            {
                for (var c = 0; c < columns; c++)
                {
                    _vTransposed[c * _paddedBlockRows + i] = v[i * columns + c];
                }
            }

            _groupOffsets = new int[blockRows + 1];
            for (var i = 0; i < blockRows; i++)
            {
                _groupOffsets[i + 1] = _groupOffsets[i] + blockColumns * RoundUp(_rowStarts[i + 1] - _rowStarts[i]);
            }

            _uPacked = new float[_groupOffsets[blockRows]];
            _blockRowOf = new int[lower];
            for (var i = 0; i < blockRows; i++)
            {
                int r0 = _rowStarts[i], height = _rowStarts[i + 1] - r0;
                _blockRowOf.AsSpan(r0, height).Fill(i);
                for (var q = 0; q < height; q += Lanes)
                {
                    for (var j = 0; j < blockColumns; j++)
                    {
                        u.AsSpan(j * lower + r0 + q, System.Math.Min(Lanes, height - q)).CopyTo(_uPacked.AsSpan(_groupOffsets[i] + q * blockColumns + j * Lanes));
                    }
                }
            }
        }

        public int Rows => _matrix.Rows;

        public int Columns => _matrix.Columns;

        private static int RoundUp(int count) => (count + Lanes - 1) / Lanes * Lanes;

        public void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
        {
            if (_top is not null)
            {
                MultiplyTop(a, m, c, accumulate);
            }

            if (_matrix.BlockRows == 0)
            {
                return;
            }

            // One slab of block rows at a time: pass 1 forms their dots, pass 2 uses them at once while they are in L1.
            // (Forming every dot first sent them through L2 and L3 between the passes, which cost more than the products.)
            using var dotsBuffer = new ScratchBuffer((long)Tile * DotsLength(Tile));
            var dots = dotsBuffer.Span;
            var row = 0;
            for (; row + Tile <= m; row += Tile)
            {
                MultiplyLower(a.Slice(row * Columns), Tile, dots, c.Slice(row * Rows), accumulate);
            }

            for (; row < m; row++)
            {
                MultiplyLower(a.Slice(row * Columns), 1, dots, c.Slice(row * Rows), accumulate);
            }
        }

        /// <summary>Block rows per slab of one input: eight vectors of dots in flight.</summary>
        private const int OneInputSlab = 2 * Tile * Lanes;

        /// <summary>Block rows per slab of a tile of four inputs: two vectors of dots each.</summary>
        private const int TileSlab = 2 * Lanes;

        /// <summary>Block rows per slab: <see cref="OneInputSlab"/> for one input, <see cref="TileSlab"/> for a tile of four.</summary>
        private static int SlabRows(int inputs) => inputs == 1 ? OneInputSlab : TileSlab;

        /// <summary>Floats per input in the dots scratch, with one cache line between inputs so they fall in different L1 sets.</summary>
        private int DotsLength(int inputs) => _matrix.BlockColumns * SlabRows(inputs) + 16;

        private void MultiplyLower(ReadOnlySpan<float> a, int inputs, Span<float> dots, Span<float> c, bool accumulate)
        {
            var slab = SlabRows(inputs);
            for (var i0 = 0; i0 < _matrix.BlockRows; i0 += slab)
            {
                var i1 = System.Math.Min(i0 + slab, _paddedBlockRows);
                BlockDots(a, inputs, i0, i1, dots);
                LowerOutputs(dots, inputs, i0, System.Math.Min(i1, _matrix.BlockRows), c, accumulate);
            }
        }

        /// <summary>
        /// Pass 1 for <paramref name="inputs"/> (1 or 4) consecutive input rows and block rows [i0, i1):
        /// dots[t][j·slab + i − i0] = vᵢⱼ·x_t over block column j. One input keeps four vectors of block rows in flight, four inputs one vector each. The
        /// loops walk references forward rather than index, which keeps the address arithmetic out of the inner loops.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void BlockDots(ReadOnlySpan<float> a, int inputs, int i0, int i1, Span<float> dots)
        {
            ref var x = ref MemoryMarshal.GetReference(a);
            ref var s = ref Unsafe.Subtract(ref MemoryMarshal.GetReference(dots), i0);
            int stride = _paddedBlockRows, columns = Columns, slab = SlabRows(inputs), dotsLength = DotsLength(inputs);
            for (var j = 0; j < _matrix.BlockColumns; j++)
            {
                int c0 = _columnStarts[j], width = _columnStarts[j + 1] - c0;
                ref var vColumn = ref _vTransposed[c0 * stride];
                ref var target = ref Unsafe.Add(ref s, j * slab);
                ref var x0 = ref Unsafe.Add(ref x, c0);
                var i = i0;
                if (inputs == 1)
                {
                    for (; i + 2 * Tile * Lanes <= i1; i += 2 * Tile * Lanes)
                    {
                        // Eight independent sums: with two FMA units of four cycles' latency, four chains of `width`
                        // FMAs ran at half the FMA rate.
                        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                        Vector256<float> s4 = default, s5 = default, s6 = default, s7 = default;
                        ref var vk = ref Unsafe.Add(ref vColumn, i);
                        ref var xk = ref x0;
                        for (var k = 0; k < width; k++)
                        {
                            var xv = Vector256.Create(xk);
                            s0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk), xv, s0);
                            s1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk, Lanes), xv, s1);
                            s2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk, 2 * Lanes), xv, s2);
                            s3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk, 3 * Lanes), xv, s3);
                            s4 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk, 4 * Lanes), xv, s4);
                            s5 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk, 5 * Lanes), xv, s5);
                            s6 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk, 6 * Lanes), xv, s6);
                            s7 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk, 7 * Lanes), xv, s7);
                            vk = ref Unsafe.Add(ref vk, stride);
                            xk = ref Unsafe.Add(ref xk, 1);
                        }

                        ref var to = ref Unsafe.Add(ref target, i);
                        s0.StoreUnsafe(ref to);
                        s1.StoreUnsafe(ref to, Lanes);
                        s2.StoreUnsafe(ref to, 2 * Lanes);
                        s3.StoreUnsafe(ref to, 3 * Lanes);
                        s4.StoreUnsafe(ref to, 4 * Lanes);
                        s5.StoreUnsafe(ref to, 5 * Lanes);
                        s6.StoreUnsafe(ref to, 6 * Lanes);
                        s7.StoreUnsafe(ref to, 7 * Lanes);
                    }

                    for (; i + Tile * Lanes <= i1; i += Tile * Lanes)
                    {
                        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                        ref var vk = ref Unsafe.Add(ref vColumn, i);
                        ref var xk = ref x0;
                        for (var k = 0; k < width; k++)
                        {
                            var xv = Vector256.Create(xk);
                            s0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk), xv, s0);
                            s1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk, Lanes), xv, s1);
                            s2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk, 2 * Lanes), xv, s2);
                            s3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk, 3 * Lanes), xv, s3);
                            vk = ref Unsafe.Add(ref vk, stride);
                            xk = ref Unsafe.Add(ref xk, 1);
                        }

                        ref var to = ref Unsafe.Add(ref target, i);
                        s0.StoreUnsafe(ref to);
                        s1.StoreUnsafe(ref to, Lanes);
                        s2.StoreUnsafe(ref to, 2 * Lanes);
                        s3.StoreUnsafe(ref to, 3 * Lanes);
                    }

                    for (; i < i1; i += Lanes)
                    {
                        var sum = Vector256<float>.Zero;
                        ref var vk = ref Unsafe.Add(ref vColumn, i);
                        for (var k = 0; k < width; k++)
                        {
                            sum = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref vk), Vector256.Create(Unsafe.Add(ref x0, k)), sum);
                            vk = ref Unsafe.Add(ref vk, stride);
                        }

                        sum.StoreUnsafe(ref Unsafe.Add(ref target, i));
                    }

                    continue;
                }

                for (; i + 2 * Lanes <= i1; i += 2 * Lanes)
                {
                    // Two vectors of block rows for each of the four inputs: eight independent FMA chains.
                    Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                    Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
                    ref var vk = ref Unsafe.Add(ref vColumn, i);
                    ref var xk = ref x0;
                    for (var k = 0; k < width; k++)
                    {
                        var v = Vector256.LoadUnsafe(ref vk);
                        var w = Vector256.LoadUnsafe(ref vk, Lanes);
                        var b = Vector256.Create(xk);
                        s0 = Vector256.FusedMultiplyAdd(v, b, s0);
                        t0 = Vector256.FusedMultiplyAdd(w, b, t0);
                        b = Vector256.Create(Unsafe.Add(ref xk, columns));
                        s1 = Vector256.FusedMultiplyAdd(v, b, s1);
                        t1 = Vector256.FusedMultiplyAdd(w, b, t1);
                        b = Vector256.Create(Unsafe.Add(ref xk, 2 * columns));
                        s2 = Vector256.FusedMultiplyAdd(v, b, s2);
                        t2 = Vector256.FusedMultiplyAdd(w, b, t2);
                        b = Vector256.Create(Unsafe.Add(ref xk, 3 * columns));
                        s3 = Vector256.FusedMultiplyAdd(v, b, s3);
                        t3 = Vector256.FusedMultiplyAdd(w, b, t3);
                        vk = ref Unsafe.Add(ref vk, stride);
                        xk = ref Unsafe.Add(ref xk, 1);
                    }

                    ref var to = ref Unsafe.Add(ref target, i);
                    s0.StoreUnsafe(ref to);
                    t0.StoreUnsafe(ref to, Lanes);
                    s1.StoreUnsafe(ref Unsafe.Add(ref to, dotsLength));
                    t1.StoreUnsafe(ref Unsafe.Add(ref to, dotsLength), Lanes);
                    s2.StoreUnsafe(ref Unsafe.Add(ref to, 2 * dotsLength));
                    t2.StoreUnsafe(ref Unsafe.Add(ref to, 2 * dotsLength), Lanes);
                    s3.StoreUnsafe(ref Unsafe.Add(ref to, 3 * dotsLength));
                    t3.StoreUnsafe(ref Unsafe.Add(ref to, 3 * dotsLength), Lanes);
                }

                for (; i < i1; i += Lanes)
                {
                    Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                    ref var vk = ref Unsafe.Add(ref vColumn, i);
                    ref var xk0 = ref x0;
                    ref var xk1 = ref Unsafe.Add(ref x0, columns);
                    ref var xk2 = ref Unsafe.Add(ref x0, 2 * columns);
                    ref var xk3 = ref Unsafe.Add(ref x0, 3 * columns);
                    for (var k = 0; k < width; k++)
                    {
                        var v = Vector256.LoadUnsafe(ref vk);
                        s0 = Vector256.FusedMultiplyAdd(v, Vector256.Create(xk0), s0);
                        s1 = Vector256.FusedMultiplyAdd(v, Vector256.Create(xk1), s1);
                        s2 = Vector256.FusedMultiplyAdd(v, Vector256.Create(xk2), s2);
                        s3 = Vector256.FusedMultiplyAdd(v, Vector256.Create(xk3), s3);
                        vk = ref Unsafe.Add(ref vk, stride);
                        xk0 = ref Unsafe.Add(ref xk0, 1);
                        xk1 = ref Unsafe.Add(ref xk1, 1);
                        xk2 = ref Unsafe.Add(ref xk2, 1);
                        xk3 = ref Unsafe.Add(ref xk3, 1);
                    }

                    ref var to = ref Unsafe.Add(ref target, i);
                    s0.StoreUnsafe(ref to);
                    s1.StoreUnsafe(ref Unsafe.Add(ref to, dotsLength));
                    s2.StoreUnsafe(ref Unsafe.Add(ref to, 2 * dotsLength));
                    s3.StoreUnsafe(ref Unsafe.Add(ref to, 3 * dotsLength));
                }
            }
        }

        /// <summary>
        /// Pass 2 for <paramref name="inputs"/> (1 or 4) input rows and block rows [i0, i1): each block row's outputs, eight rows per vector, as
        /// Σⱼ dots[t][j, i]·u[j, rows]. One input splits the sum over j four ways to keep four multiply-adds in flight.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void LowerOutputs(ReadOnlySpan<float> dots, int inputs, int i0, int i1, Span<float> c, bool accumulate)
        {
            ref var s = ref Unsafe.Subtract(ref MemoryMarshal.GetReference(dots), i0);
            int stride = SlabRows(inputs), dotsLength = DotsLength(inputs), blockColumns = _matrix.BlockColumns, denseRows = _matrix.DenseRows;
            for (var i = i0; i < i1; i++)
            {
                int r0 = _rowStarts[i], height = _rowStarts[i + 1] - r0;
                if (inputs == Tile && i + 1 < i1 && height <= Lanes && _rowStarts[i + 2] - _rowStarts[i + 1] <= Lanes)
                {
                    // Two block rows of at most eight rows each for four inputs: eight independent FMA chains (one block
                    // row's four chains of blockColumns FMAs ran at half the FMA rate).
                    LowerOutputsPair(ref s, dotsLength, i, c, accumulate);
                    i++;
                    continue;
                }

                for (var q = 0; q < height; q += Lanes)
                {
                    // U for these eight rows: blockColumns vectors, one after another.
                    ref var uj = ref _uPacked[_groupOffsets[i] + q * blockColumns];
                    Vector256<float> y0 = default, y1 = default, y2 = default, y3 = default;
                    if (inputs == 1)
                    {
                        // The sum over j split eight ways (eight independent FMA chains); a slab of one input is a
                        // constant width, so the eight dots are at constant offsets.
                        ref var sj = ref Unsafe.Add(ref s, i);
                        Vector256<float> y4 = default, y5 = default, y6 = default, y7 = default;
                        var j = 0;
                        for (; j + 2 * Tile <= blockColumns; j += 2 * Tile)
                        {
                            y0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref uj), Vector256.Create(sj), y0);
                            y1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref uj, Lanes), Vector256.Create(Unsafe.Add(ref sj, OneInputSlab)), y1);
                            y2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref uj, 2 * Lanes), Vector256.Create(Unsafe.Add(ref sj, 2 * OneInputSlab)), y2);
                            y3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref uj, 3 * Lanes), Vector256.Create(Unsafe.Add(ref sj, 3 * OneInputSlab)), y3);
                            y4 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref uj, 4 * Lanes), Vector256.Create(Unsafe.Add(ref sj, 4 * OneInputSlab)), y4);
                            y5 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref uj, 5 * Lanes), Vector256.Create(Unsafe.Add(ref sj, 5 * OneInputSlab)), y5);
                            y6 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref uj, 6 * Lanes), Vector256.Create(Unsafe.Add(ref sj, 6 * OneInputSlab)), y6);
                            y7 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref uj, 7 * Lanes), Vector256.Create(Unsafe.Add(ref sj, 7 * OneInputSlab)), y7);
                            uj = ref Unsafe.Add(ref uj, 2 * Tile * Lanes);
                            sj = ref Unsafe.Add(ref sj, 2 * Tile * OneInputSlab);
                        }

                        for (; j < blockColumns; j++)
                        {
                            y0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref uj), Vector256.Create(sj), y0);
                            uj = ref Unsafe.Add(ref uj, Lanes);
                            sj = ref Unsafe.Add(ref sj, OneInputSlab);
                        }

                        y0 += y4;
                        y1 += y5;
                        y2 += y6;
                        y3 += y7;
                        Store((y0 + y1) + (y2 + y3), c.Slice(denseRows + r0 + q), height - q, accumulate);
                        continue;
                    }

                    ref var s0 = ref Unsafe.Add(ref s, i);
                    ref var s1 = ref Unsafe.Add(ref s0, dotsLength);
                    ref var s2 = ref Unsafe.Add(ref s0, 2 * dotsLength);
                    ref var s3 = ref Unsafe.Add(ref s0, 3 * dotsLength);
                    for (var j = 0; j < blockColumns; j++)
                    {
                        var u = Vector256.LoadUnsafe(ref uj);
                        y0 = Vector256.FusedMultiplyAdd(u, Vector256.Create(s0), y0);
                        y1 = Vector256.FusedMultiplyAdd(u, Vector256.Create(s1), y1);
                        y2 = Vector256.FusedMultiplyAdd(u, Vector256.Create(s2), y2);
                        y3 = Vector256.FusedMultiplyAdd(u, Vector256.Create(s3), y3);
                        uj = ref Unsafe.Add(ref uj, Lanes);
                        s0 = ref Unsafe.Add(ref s0, stride);
                        s1 = ref Unsafe.Add(ref s1, stride);
                        s2 = ref Unsafe.Add(ref s2, stride);
                        s3 = ref Unsafe.Add(ref s3, stride);
                    }

                    var first = denseRows + r0 + q;
                    Store(y0, c.Slice(first), height - q, accumulate);
                    Store(y1, c.Slice(Rows + first), height - q, accumulate);
                    Store(y2, c.Slice(2 * Rows + first), height - q, accumulate);
                    Store(y3, c.Slice(3 * Rows + first), height - q, accumulate);
                }
            }
        }

        /// <summary>
        /// Pass 2 for four inputs and block rows <paramref name="i"/> and i + 1, each at most eight rows high; <paramref name="s"/>
        /// is the dots scratch offset by the slab's first block row, as in <see cref="LowerOutputs"/>.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void LowerOutputsPair(ref float s, int dotsLength, int i, Span<float> c, bool accumulate)
        {
            const int stride = TileSlab;
            ref var u0 = ref _uPacked[_groupOffsets[i]];
            ref var u1 = ref _uPacked[_groupOffsets[i + 1]];
            ref var s0 = ref Unsafe.Add(ref s, i);
            Vector256<float> y00 = default, y01 = default, y10 = default, y11 = default;
            Vector256<float> y20 = default, y21 = default, y30 = default, y31 = default;
            for (var j = 0; j < _matrix.BlockColumns; j++)
            {
                var first = Vector256.LoadUnsafe(ref u0);
                var second = Vector256.LoadUnsafe(ref u1);
                y00 = Vector256.FusedMultiplyAdd(first, Vector256.Create(s0), y00);
                y01 = Vector256.FusedMultiplyAdd(second, Vector256.Create(Unsafe.Add(ref s0, 1)), y01);
                ref var s1 = ref Unsafe.Add(ref s0, dotsLength);
                y10 = Vector256.FusedMultiplyAdd(first, Vector256.Create(s1), y10);
                y11 = Vector256.FusedMultiplyAdd(second, Vector256.Create(Unsafe.Add(ref s1, 1)), y11);
                ref var s2 = ref Unsafe.Add(ref s1, dotsLength);
                y20 = Vector256.FusedMultiplyAdd(first, Vector256.Create(s2), y20);
                y21 = Vector256.FusedMultiplyAdd(second, Vector256.Create(Unsafe.Add(ref s2, 1)), y21);
                ref var s3 = ref Unsafe.Add(ref s2, dotsLength);
                y30 = Vector256.FusedMultiplyAdd(first, Vector256.Create(s3), y30);
                y31 = Vector256.FusedMultiplyAdd(second, Vector256.Create(Unsafe.Add(ref s3, 1)), y31);
                u0 = ref Unsafe.Add(ref u0, Lanes);
                u1 = ref Unsafe.Add(ref u1, Lanes);
                s0 = ref Unsafe.Add(ref s0, stride);
            }

            int firstRow = _matrix.DenseRows + _rowStarts[i], firstHeight = _rowStarts[i + 1] - _rowStarts[i];
            int secondRow = _matrix.DenseRows + _rowStarts[i + 1], secondHeight = _rowStarts[i + 2] - _rowStarts[i + 1];
            Store(y00, c.Slice(firstRow), firstHeight, accumulate);
            Store(y01, c.Slice(secondRow), secondHeight, accumulate);
            Store(y10, c.Slice(Rows + firstRow), firstHeight, accumulate);
            Store(y11, c.Slice(Rows + secondRow), secondHeight, accumulate);
            Store(y20, c.Slice(2 * Rows + firstRow), firstHeight, accumulate);
            Store(y21, c.Slice(2 * Rows + secondRow), secondHeight, accumulate);
            Store(y30, c.Slice(3 * Rows + firstRow), firstHeight, accumulate);
            Store(y31, c.Slice(3 * Rows + secondRow), secondHeight, accumulate);
        }

        /// <summary>
        /// Writes (or adds) the first min(8, <paramref name="valid"/>) lanes of <paramref name="value"/>. No calls: a call
        /// in pass 2's loop makes the JIT keep its sums on the stack (every vector register is caller-saved).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(Vector256<float> value, Span<float> target, int valid, bool accumulate)
        {
            ref var at = ref MemoryMarshal.GetReference(target);
            if (valid >= Lanes)
            {
                (accumulate ? value + Vector256.LoadUnsafe(ref at) : value).StoreUnsafe(ref at);
                return;
            }

            for (var k = 0; k < valid; k++)
            {
                Unsafe.Add(ref at, k) = accumulate ? Unsafe.Add(ref at, k) + value.GetElement(k) : value.GetElement(k);
            }
        }

        private void MultiplyTop(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
        {
            var denseRows = _matrix.DenseRows;
            if (m == 1)
            {
                _top!.Multiply(a, 1, c, accumulate);
                return;
            }

            using var top = new ScratchBuffer((long)m * denseRows);
            _top!.Multiply(a, m, top.Span, accumulate: false);
            CopyRows(top.Span, denseRows, c, Rows, m, denseRows, accumulate);
        }

        public void ReadRow(int row, Span<float> destination)
        {
            var target = destination[..Columns];
            if (row < _matrix.DenseRows)
            {
                _top!.ReadRow(row, target);
                return;
            }

            // Row r of the lower part: for each block column j, u[j, r] times block row i's v over that block's columns.
            var r = row - _matrix.DenseRows;
            var i = _blockRowOf[r];
            var q = r - _rowStarts[i];
            for (var j = 0; j < _matrix.BlockColumns; j++)
            {
                var uj = _uPacked[_groupOffsets[i] + (q / Lanes * _matrix.BlockColumns + j) * Lanes + q % Lanes];
                for (var k = _columnStarts[j]; k < _columnStarts[j + 1]; k++)
                {
                    target[k] = uj * _vTransposed[k * _paddedBlockRows + i];
                }
            }
        }
    }
}
