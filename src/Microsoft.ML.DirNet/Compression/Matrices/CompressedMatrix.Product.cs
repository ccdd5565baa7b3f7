using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Compression;

// The product contract the native engine runs: every stored form multiplies directly from its factors (C = A·Wᵀ for
// a batch of input rows, written or accumulated), reads single rows (embedding lookups) and gives row ranges (GRU's
// gate blocks). The recurrent cells, MatMul, Gemm and Gather take any form as their weight. Packed state is built on
// first use and idempotent, so one instance serves many threads; scratch memory is per call.
public abstract partial class CompressedMatrix
{
    private System.Collections.Concurrent.ConcurrentDictionary<(int Start, int Count), CompressedMatrix>? _rowRanges;

    /// <summary>
    /// Creates the base of a matrix the engine makes over an ONNX tensor, which may have a zero dimension (the public
    /// constructor refuses those: no compressed form is empty).
    /// </summary>
    private protected CompressedMatrix(int rows, int columns, bool allowEmpty)
    {
        if (rows < 0 || columns < 0 || (!allowEmpty && (rows == 0 || columns == 0)))
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"A matrix needs {(allowEmpty ? "non-negative" : "positive")} dimensions, got [{rows} × {columns}].");
        }

        Rows = rows;
        Columns = columns;
    }

    /// <summary>y = W·x for one vector (<paramref name="x"/> of <see cref="Columns"/>, <paramref name="y"/> of <see cref="Rows"/>).</summary>
    /// <remarks>Runs the same product as the native engine; <see cref="ToDense"/> is the reference it is checked against.</remarks>
    public void Multiply(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckVector(x, y);
        Multiply(x[..Columns], 1, y[..Rows], accumulate: false);
    }

    /// <summary>C[m × Rows] = A[m × Columns]·Wᵀ: every row of A multiplied.</summary>
    /// <remarks>Runs the same product as the native engine; <see cref="ToDense"/> is the reference it is checked against.</remarks>
    public void Multiply(ReadOnlySpan<float> a, int m, Span<float> c)
    {
        CheckBatch(a, m, c);
        Multiply(a, m, c, accumulate: false);
    }

    /// <summary>The stored form the products run on, as the engine reports it: <c>dense</c>, <c>dictionary</c>, <c>hybrid</c>, <c>lowrank</c> or <c>sparse</c>.</summary>
    internal abstract string Form { get; }

    /// <summary>Whether single inputs run through int8 kernels (values stored as int8, on a machine that has them).</summary>
    internal virtual bool RunsInt8 => false;

    /// <summary>Whether single inputs run from low-bit levels (<see cref="PackedLowBitMatrix"/>) rather than from the dequantized values.</summary>
    internal virtual bool RunsLowBit => false;

    /// <summary>C[m×Rows] = A[m×Columns]·Wᵀ, or C += when <paramref name="accumulate"/>: the form's fast product.</summary>
    internal abstract void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate);

    /// <summary>Row <paramref name="row"/> of W (an embedding lookup).</summary>
    internal abstract void ReadRow(int row, Span<float> destination);

    /// <summary>
    /// The matrix made of rows [<paramref name="start"/>, start + <paramref name="count"/>), made once per range (a
    /// compressed range may rebuild and pack its own arrays, which must not happen at every run).
    /// </summary>
    internal CompressedMatrix RowRange(int start, int count) =>
        LazyInitializer.EnsureInitialized(ref _rowRanges).GetOrAdd((start, count), key => CreateRowRange(key.Start, key.Count));

    /// <summary>Makes <see cref="RowRange"/>. The default computes every row and keeps the range; forms that can do better override it.</summary>
    private protected virtual CompressedMatrix CreateRowRange(int start, int count) => new RowRangeView(this, start, count);

    /// <summary>
    /// Copies (or adds) <paramref name="m"/> runs of <paramref name="width"/> floats, one per input row, from
    /// <paramref name="source"/> (runs <paramref name="sourceStride"/> apart) to <paramref name="target"/> (runs
    /// <paramref name="targetStride"/> apart): a part of a product moved to where it belongs in the whole.
    /// </summary>
    private protected static void CopyRows(ReadOnlySpan<float> source, int sourceStride, Span<float> target, int targetStride, int m, int width, bool accumulate)
    {
        for (var i = 0; i < m; i++)
        {
            var from = source.Slice(i * sourceStride, width);
            var to = target.Slice(i * targetStride, width);
            if (accumulate)
            {
                TensorPrimitives.Add(to, from, to);
            }
            else
            {
                from.CopyTo(to);
            }
        }
    }

    /// <summary>
    /// Rows of another matrix, computed in full and copied out: what the engine multiplies by where a form cannot
    /// split itself (a hybrid's rows cut across its dense rows and blocks). It is a view, never stored or transformed.
    /// </summary>
    private sealed class RowRangeView : CompressedMatrix
    {
        private readonly CompressedMatrix _whole;
        private readonly int _start;

        public RowRangeView(CompressedMatrix whole, int start, int count)
            : base(count, whole.Columns)
        {
            _whole = whole;
            _start = start;
        }

        public override string Method => _whole.Method;

        public override long Parameters => throw NotStored();

        public override string Structure => $"rows [{_start}, {_start + Rows}) of {_whole.Structure}";

        protected override IReadOnlyList<MatrixFactor> FloatFactors => throw NotStored();

        internal override string Form => _whole.Form;

        public override float[] ToDense() => _whole.ToDense().AsSpan(_start * Columns, Rows * Columns).ToArray();

        internal override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
        {
            CheckBatch(a, m, c);
            using var full = new ScratchBuffer((long)m * _whole.Rows);
            _whole.Multiply(a, m, full.Span, accumulate: false);
            CopyRows(full.Span[_start..], _whole.Rows, c, Rows, m, Rows, accumulate);
        }

        internal override void ReadRow(int row, Span<float> destination) => _whole.ReadRow(_start + row, destination);

        internal override CompressedMatrix MapValues(Func<float[], float[]> map) => throw NotStored();

        internal override string Rebuild(FactorGraph factors) => throw NotStored();

        internal override CompressedMatrix UndoInputTransform(InputTransform transform, Dictionary<float[], float[]> shared) => throw NotStored();

        public override string ToString() => $"{Method} rows [{_start}, {_start + Rows}) of [{_whole.Rows} × {_whole.Columns}]";

        private NotSupportedException NotStored() =>
            new($"Rows [{_start}, {_start + Rows}) of a {Method} matrix are a view the engine multiplies by; they are not stored.");
    }
}
