using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Numerics.Simd;

namespace Microsoft.ML.DirNet.Compression;

// HMD's product, run directly from the factors: the dense top rows as a packed dense product, then the rank-1 blocks
// in two vectorised passes rather than one short dot and one short add per block (the planner's blocks are often
// 8 × 8, where per-call overhead would dominate). Pass 1 forms every block's dot sᵢⱼ = vᵢⱼ·x_j, a vector of block
// rows at a time (eight, or four on 128-bit machines; the kernels are written once over the SIMD ladder): S[j, i] = Σ
// over the columns c of block column j of x[c]·Vᵀ[c, i]. Pass 2 gives each block row i its outputs, a vector of rows
// at a time: y[rows of i] = Σⱼ S[j, i]·u[j, rows of i]. The passes alternate over slabs of block
// rows so the dots stay in L1; both read their factor once per tile of four inputs, so a sequence's input projection
// reuses each loaded factor, and keep eight independent sums in flight (two FMA units of four cycles' latency need
// eight).
public sealed partial class HybridMatrix
{
    private IBlockProduct? _product;

    /// <inheritdoc/>
    internal override string Form => "hybrid";

    /// <summary>
    /// The factors repacked for the two passes, made on first use (a hybrid that is only stored or exported never packs
    /// them), and idempotent, so threads racing here build equal packings.
    /// </summary>
    private IBlockProduct Product => _product ?? Interlocked.CompareExchange(ref _product, CreateProduct(ProductRung), null) ?? _product;

    /// <summary>
    /// The rung the passes run on: vectors of at most eight floats (the planner's blocks are often eight rows, so
    /// sixteen-float vectors would mostly multiply padding), four where 256-bit vectors are not accelerated.
    /// </summary>
    private static LaneWidth ProductRung => LaneLadder.Widest >= LaneWidth.Vector256 ? LaneWidth.Vector256 : LaneLadder.Widest;

    /// <inheritdoc/>
    internal override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        CheckBatch(a, m, c);
        Product.Multiply(a, m, c, accumulate);
    }

    /// <summary>As <see cref="Multiply(ReadOnlySpan{float}, int, Span{float}, bool)"/>, packed for and run on a given rung (the tests run each).</summary>
    internal void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate, LaneWidth rung)
    {
        CheckBatch(a, m, c);
        CreateProduct(rung).Multiply(a, m, c, accumulate);
    }

    private IBlockProduct CreateProduct(LaneWidth rung) => rung switch
    {
        LaneWidth.Vector512 => new BlockProduct<Lanes512, Vector512<float>, Vector512<uint>>(this),
        LaneWidth.Vector256 => new BlockProduct<Lanes256, Vector256<float>, Vector256<uint>>(this),
        LaneWidth.Vector128 => new BlockProduct<Lanes128, Vector128<float>, Vector128<uint>>(this),
        _ => new BlockProduct<LanesScalar, float, uint>(this),
    };

    /// <summary>The factors packed for one rung, and the passes over them.</summary>
    private interface IBlockProduct
    {
        void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate);

        void ReadRow(int row, Span<float> destination);
    }

    /// <inheritdoc/>
    internal override void ReadRow(int row, Span<float> destination) => Product.ReadRow(row, destination);

    /// <summary>The packed factors and the kernels of both passes (see the type's summary).</summary>
    private sealed class BlockProduct<TLanes, TFloat, TUInt> : IBlockProduct
        where TLanes : struct, ILanes<TFloat, TUInt>
    {
        private const int Tile = 4;

        /// <summary>Block rows per vector of pass 1 and rows per vector of pass 2.</summary>
        private static int Lanes => TLanes.Count;

        private readonly HybridMatrix _matrix;
        private readonly DenseMatrix? _top;

        /// <summary>Vᵀ [columns × padded block rows], zero beyond the last block row so every pass-1 vector is whole.</summary>
        private readonly float[] _vTransposed;
        private readonly int _paddedBlockRows;

        /// <summary>
        /// U per block row i, from <see cref="_groupOffsets"/>[i]: for each vector of its rows (zero-padded), the block
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
        private static int OneInputSlab => 2 * Tile * Lanes;

        /// <summary>Block rows per slab of a tile of four inputs: two vectors of dots each.</summary>
        private static int TileSlab => 2 * Lanes;

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
                        TFloat s0 = TLanes.Zero, s1 = TLanes.Zero, s2 = TLanes.Zero, s3 = TLanes.Zero;
                        TFloat s4 = TLanes.Zero, s5 = TLanes.Zero, s6 = TLanes.Zero, s7 = TLanes.Zero;
                        ref var vk = ref Unsafe.Add(ref vColumn, i);
                        ref var xk = ref x0;
                        for (var k = 0; k < width; k++)
                        {
                            var xv = TLanes.Broadcast(xk);
                            s0 = TLanes.MultiplyAdd(TLanes.Load(ref vk), xv, s0);
                            s1 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref vk, Lanes)), xv, s1);
                            s2 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref vk, 2 * Lanes)), xv, s2);
                            s3 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref vk, 3 * Lanes)), xv, s3);
                            s4 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref vk, 4 * Lanes)), xv, s4);
                            s5 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref vk, 5 * Lanes)), xv, s5);
                            s6 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref vk, 6 * Lanes)), xv, s6);
                            s7 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref vk, 7 * Lanes)), xv, s7);
                            vk = ref Unsafe.Add(ref vk, stride);
                            xk = ref Unsafe.Add(ref xk, 1);
                        }

                        ref var to = ref Unsafe.Add(ref target, i);
                        TLanes.Store(s0, ref to);
                        TLanes.Store(s1, ref Unsafe.Add(ref to, Lanes));
                        TLanes.Store(s2, ref Unsafe.Add(ref to, 2 * Lanes));
                        TLanes.Store(s3, ref Unsafe.Add(ref to, 3 * Lanes));
                        TLanes.Store(s4, ref Unsafe.Add(ref to, 4 * Lanes));
                        TLanes.Store(s5, ref Unsafe.Add(ref to, 5 * Lanes));
                        TLanes.Store(s6, ref Unsafe.Add(ref to, 6 * Lanes));
                        TLanes.Store(s7, ref Unsafe.Add(ref to, 7 * Lanes));
                    }

                    for (; i + Tile * Lanes <= i1; i += Tile * Lanes)
                    {
                        TFloat s0 = TLanes.Zero, s1 = TLanes.Zero, s2 = TLanes.Zero, s3 = TLanes.Zero;
                        ref var vk = ref Unsafe.Add(ref vColumn, i);
                        ref var xk = ref x0;
                        for (var k = 0; k < width; k++)
                        {
                            var xv = TLanes.Broadcast(xk);
                            s0 = TLanes.MultiplyAdd(TLanes.Load(ref vk), xv, s0);
                            s1 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref vk, Lanes)), xv, s1);
                            s2 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref vk, 2 * Lanes)), xv, s2);
                            s3 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref vk, 3 * Lanes)), xv, s3);
                            vk = ref Unsafe.Add(ref vk, stride);
                            xk = ref Unsafe.Add(ref xk, 1);
                        }

                        ref var to = ref Unsafe.Add(ref target, i);
                        TLanes.Store(s0, ref to);
                        TLanes.Store(s1, ref Unsafe.Add(ref to, Lanes));
                        TLanes.Store(s2, ref Unsafe.Add(ref to, 2 * Lanes));
                        TLanes.Store(s3, ref Unsafe.Add(ref to, 3 * Lanes));
                    }

                    for (; i < i1; i += Lanes)
                    {
                        var sum = TLanes.Zero;
                        ref var vk = ref Unsafe.Add(ref vColumn, i);
                        for (var k = 0; k < width; k++)
                        {
                            sum = TLanes.MultiplyAdd(TLanes.Load(ref vk), TLanes.Broadcast(Unsafe.Add(ref x0, k)), sum);
                            vk = ref Unsafe.Add(ref vk, stride);
                        }

                        TLanes.Store(sum, ref Unsafe.Add(ref target, i));
                    }

                    continue;
                }

                for (; i + 2 * Lanes <= i1; i += 2 * Lanes)
                {
                    // Two vectors of block rows for each of the four inputs: eight independent FMA chains.
                    TFloat s0 = TLanes.Zero, s1 = TLanes.Zero, s2 = TLanes.Zero, s3 = TLanes.Zero;
                    TFloat t0 = TLanes.Zero, t1 = TLanes.Zero, t2 = TLanes.Zero, t3 = TLanes.Zero;
                    ref var vk = ref Unsafe.Add(ref vColumn, i);
                    ref var xk = ref x0;
                    for (var k = 0; k < width; k++)
                    {
                        var v = TLanes.Load(ref vk);
                        var w = TLanes.Load(ref Unsafe.Add(ref vk, Lanes));
                        var b = TLanes.Broadcast(xk);
                        s0 = TLanes.MultiplyAdd(v, b, s0);
                        t0 = TLanes.MultiplyAdd(w, b, t0);
                        b = TLanes.Broadcast(Unsafe.Add(ref xk, columns));
                        s1 = TLanes.MultiplyAdd(v, b, s1);
                        t1 = TLanes.MultiplyAdd(w, b, t1);
                        b = TLanes.Broadcast(Unsafe.Add(ref xk, 2 * columns));
                        s2 = TLanes.MultiplyAdd(v, b, s2);
                        t2 = TLanes.MultiplyAdd(w, b, t2);
                        b = TLanes.Broadcast(Unsafe.Add(ref xk, 3 * columns));
                        s3 = TLanes.MultiplyAdd(v, b, s3);
                        t3 = TLanes.MultiplyAdd(w, b, t3);
                        vk = ref Unsafe.Add(ref vk, stride);
                        xk = ref Unsafe.Add(ref xk, 1);
                    }

                    ref var to = ref Unsafe.Add(ref target, i);
                    TLanes.Store(s0, ref to);
                    TLanes.Store(t0, ref Unsafe.Add(ref to, Lanes));
                    TLanes.Store(s1, ref Unsafe.Add(ref to, dotsLength));
                    TLanes.Store(t1, ref Unsafe.Add(ref to, dotsLength + Lanes));
                    TLanes.Store(s2, ref Unsafe.Add(ref to, 2 * dotsLength));
                    TLanes.Store(t2, ref Unsafe.Add(ref to, 2 * dotsLength + Lanes));
                    TLanes.Store(s3, ref Unsafe.Add(ref to, 3 * dotsLength));
                    TLanes.Store(t3, ref Unsafe.Add(ref to, 3 * dotsLength + Lanes));
                }

                for (; i < i1; i += Lanes)
                {
                    TFloat s0 = TLanes.Zero, s1 = TLanes.Zero, s2 = TLanes.Zero, s3 = TLanes.Zero;
                    ref var vk = ref Unsafe.Add(ref vColumn, i);
                    ref var xk0 = ref x0;
                    ref var xk1 = ref Unsafe.Add(ref x0, columns);
                    ref var xk2 = ref Unsafe.Add(ref x0, 2 * columns);
                    ref var xk3 = ref Unsafe.Add(ref x0, 3 * columns);
                    for (var k = 0; k < width; k++)
                    {
                        var v = TLanes.Load(ref vk);
                        s0 = TLanes.MultiplyAdd(v, TLanes.Broadcast(xk0), s0);
                        s1 = TLanes.MultiplyAdd(v, TLanes.Broadcast(xk1), s1);
                        s2 = TLanes.MultiplyAdd(v, TLanes.Broadcast(xk2), s2);
                        s3 = TLanes.MultiplyAdd(v, TLanes.Broadcast(xk3), s3);
                        vk = ref Unsafe.Add(ref vk, stride);
                        xk0 = ref Unsafe.Add(ref xk0, 1);
                        xk1 = ref Unsafe.Add(ref xk1, 1);
                        xk2 = ref Unsafe.Add(ref xk2, 1);
                        xk3 = ref Unsafe.Add(ref xk3, 1);
                    }

                    ref var to = ref Unsafe.Add(ref target, i);
                    TLanes.Store(s0, ref to);
                    TLanes.Store(s1, ref Unsafe.Add(ref to, dotsLength));
                    TLanes.Store(s2, ref Unsafe.Add(ref to, 2 * dotsLength));
                    TLanes.Store(s3, ref Unsafe.Add(ref to, 3 * dotsLength));
                }
            }
        }

        /// <summary>
        /// Pass 2 for <paramref name="inputs"/> (1 or 4) input rows and block rows [i0, i1): each block row's outputs, a vector of rows at a time, as
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
                    // Two block rows of at most one vector of rows each for four inputs: eight independent FMA chains (one block
                    // row's four chains of blockColumns FMAs ran at half the FMA rate).
                    LowerOutputsPair(ref s, dotsLength, i, c, accumulate);
                    i++;
                    continue;
                }

                for (var q = 0; q < height; q += Lanes)
                {
                    // U for these rows: blockColumns vectors, one after another.
                    ref var uj = ref _uPacked[_groupOffsets[i] + q * blockColumns];
                    TFloat y0 = TLanes.Zero, y1 = TLanes.Zero, y2 = TLanes.Zero, y3 = TLanes.Zero;
                    if (inputs == 1)
                    {
                        // The sum over j split eight ways (eight independent FMA chains); a slab of one input is a
                        // constant width, so the dots are at constant offsets.
                        ref var sj = ref Unsafe.Add(ref s, i);
                        TFloat y4 = TLanes.Zero, y5 = TLanes.Zero, y6 = TLanes.Zero, y7 = TLanes.Zero;
                        var j = 0;
                        for (; j + 2 * Tile <= blockColumns; j += 2 * Tile)
                        {
                            y0 = TLanes.MultiplyAdd(TLanes.Load(ref uj), TLanes.Broadcast(sj), y0);
                            y1 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref uj, Lanes)), TLanes.Broadcast(Unsafe.Add(ref sj, OneInputSlab)), y1);
                            y2 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref uj, 2 * Lanes)), TLanes.Broadcast(Unsafe.Add(ref sj, 2 * OneInputSlab)), y2);
                            y3 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref uj, 3 * Lanes)), TLanes.Broadcast(Unsafe.Add(ref sj, 3 * OneInputSlab)), y3);
                            y4 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref uj, 4 * Lanes)), TLanes.Broadcast(Unsafe.Add(ref sj, 4 * OneInputSlab)), y4);
                            y5 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref uj, 5 * Lanes)), TLanes.Broadcast(Unsafe.Add(ref sj, 5 * OneInputSlab)), y5);
                            y6 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref uj, 6 * Lanes)), TLanes.Broadcast(Unsafe.Add(ref sj, 6 * OneInputSlab)), y6);
                            y7 = TLanes.MultiplyAdd(TLanes.Load(ref Unsafe.Add(ref uj, 7 * Lanes)), TLanes.Broadcast(Unsafe.Add(ref sj, 7 * OneInputSlab)), y7);
                            uj = ref Unsafe.Add(ref uj, 2 * Tile * Lanes);
                            sj = ref Unsafe.Add(ref sj, 2 * Tile * OneInputSlab);
                        }

                        for (; j < blockColumns; j++)
                        {
                            y0 = TLanes.MultiplyAdd(TLanes.Load(ref uj), TLanes.Broadcast(sj), y0);
                            uj = ref Unsafe.Add(ref uj, Lanes);
                            sj = ref Unsafe.Add(ref sj, OneInputSlab);
                        }

                        var sum = TLanes.Add(TLanes.Add(TLanes.Add(y0, y4), TLanes.Add(y1, y5)), TLanes.Add(TLanes.Add(y2, y6), TLanes.Add(y3, y7)));
                        Store(sum, c.Slice(denseRows + r0 + q), height - q, accumulate);
                        continue;
                    }

                    ref var s0 = ref Unsafe.Add(ref s, i);
                    ref var s1 = ref Unsafe.Add(ref s0, dotsLength);
                    ref var s2 = ref Unsafe.Add(ref s0, 2 * dotsLength);
                    ref var s3 = ref Unsafe.Add(ref s0, 3 * dotsLength);
                    for (var j = 0; j < blockColumns; j++)
                    {
                        var u = TLanes.Load(ref uj);
                        y0 = TLanes.MultiplyAdd(u, TLanes.Broadcast(s0), y0);
                        y1 = TLanes.MultiplyAdd(u, TLanes.Broadcast(s1), y1);
                        y2 = TLanes.MultiplyAdd(u, TLanes.Broadcast(s2), y2);
                        y3 = TLanes.MultiplyAdd(u, TLanes.Broadcast(s3), y3);
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
        /// Pass 2 for four inputs and block rows <paramref name="i"/> and i + 1, each at most one vector of rows high; <paramref name="s"/>
        /// is the dots scratch offset by the slab's first block row, as in <see cref="LowerOutputs"/>.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void LowerOutputsPair(ref float s, int dotsLength, int i, Span<float> c, bool accumulate)
        {
            var stride = TileSlab;
            ref var u0 = ref _uPacked[_groupOffsets[i]];
            ref var u1 = ref _uPacked[_groupOffsets[i + 1]];
            ref var s0 = ref Unsafe.Add(ref s, i);
            TFloat y00 = TLanes.Zero, y01 = TLanes.Zero, y10 = TLanes.Zero, y11 = TLanes.Zero;
            TFloat y20 = TLanes.Zero, y21 = TLanes.Zero, y30 = TLanes.Zero, y31 = TLanes.Zero;
            for (var j = 0; j < _matrix.BlockColumns; j++)
            {
                var first = TLanes.Load(ref u0);
                var second = TLanes.Load(ref u1);
                y00 = TLanes.MultiplyAdd(first, TLanes.Broadcast(s0), y00);
                y01 = TLanes.MultiplyAdd(second, TLanes.Broadcast(Unsafe.Add(ref s0, 1)), y01);
                ref var s1 = ref Unsafe.Add(ref s0, dotsLength);
                y10 = TLanes.MultiplyAdd(first, TLanes.Broadcast(s1), y10);
                y11 = TLanes.MultiplyAdd(second, TLanes.Broadcast(Unsafe.Add(ref s1, 1)), y11);
                ref var s2 = ref Unsafe.Add(ref s1, dotsLength);
                y20 = TLanes.MultiplyAdd(first, TLanes.Broadcast(s2), y20);
                y21 = TLanes.MultiplyAdd(second, TLanes.Broadcast(Unsafe.Add(ref s2, 1)), y21);
                ref var s3 = ref Unsafe.Add(ref s2, dotsLength);
                y30 = TLanes.MultiplyAdd(first, TLanes.Broadcast(s3), y30);
                y31 = TLanes.MultiplyAdd(second, TLanes.Broadcast(Unsafe.Add(ref s3, 1)), y31);
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
        /// Writes (or adds) the first min(lanes, <paramref name="valid"/>) lanes of <paramref name="value"/>. No calls: a call
        /// in pass 2's loop makes the JIT keep its sums on the stack (every vector register is caller-saved).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(TFloat value, Span<float> target, int valid, bool accumulate)
        {
            ref var at = ref MemoryMarshal.GetReference(target);
            if (valid >= Lanes)
            {
                TLanes.Store(accumulate ? TLanes.Add(value, TLanes.Load(ref at)) : value, ref at);
                return;
            }

            for (var k = 0; k < valid; k++)
            {
                Unsafe.Add(ref at, k) = accumulate ? Unsafe.Add(ref at, k) + TLanes.Element(value, k) : TLanes.Element(value, k);
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
