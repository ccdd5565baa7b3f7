using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// A weight matrix W [<see cref="Rows"/> × <see cref="Columns"/>] as the kernels apply it, C = A·Wᵀ for a batch of
/// input rows, in whatever form it is stored: dense (packed panels) or one of the compressed forms, each multiplying
/// directly from its factors. The recurrent cells, MatMul, Gemm and Gather take any operator as their weight.
/// </summary>
/// <remarks>Immutable after construction; scratch memory is per call, so one instance serves many threads.</remarks>
internal abstract class WeightOperator
{
    /// <summary>Outputs.</summary>
    public abstract int Rows { get; }

    /// <summary>Inputs.</summary>
    public abstract int Columns { get; }

    /// <summary>The stored form the products run on, e.g. <c>dense</c>, <c>dictionary</c>, <c>hybrid</c>.</summary>
    public abstract string Form { get; }

    /// <summary>Whether single inputs run through int8 kernels (values stored as int8, on a machine that has them).</summary>
    internal virtual bool RunsInt8 => false;

    /// <summary>C[m×Rows] = A[m×Columns]·Wᵀ, or C += when <paramref name="accumulate"/>.</summary>
    public abstract void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate);

    /// <summary>Row <paramref name="row"/> of W (an embedding lookup).</summary>
    public abstract void ReadRow(int row, Span<float> destination);

    private System.Collections.Concurrent.ConcurrentDictionary<(int Start, int Count), WeightOperator>? _rowRanges;

    /// <summary>
    /// The matrix made of rows [<paramref name="start"/>, start + <paramref name="count"/>), made once per range (a
    /// compressed range may rebuild and pack its own arrays, which must not happen at every run).
    /// </summary>
    public WeightOperator RowRange(int start, int count) =>
        LazyInitializer.EnsureInitialized(ref _rowRanges).GetOrAdd((start, count), key => CreateRowRange(key.Start, key.Count));

    /// <summary>Makes <see cref="RowRange"/>. The default computes every row and keeps the range; forms that can do better override it.</summary>
    protected virtual WeightOperator CreateRowRange(int start, int count) => new RowRangeOperator(this, start, count);

    /// <summary>The operator that multiplies directly from <paramref name="matrix"/>'s stored factors.</summary>
    public static WeightOperator For(CompressedMatrix matrix) => matrix switch
    {
        DenseMatrix dense => DenseWeightOf(dense),
        LowRankMatrix lowRank => new LowRankWeight(lowRank),
        SparseMatrix sparse => new SparseWeight(sparse),
        DictionaryMatrix dictionary => new DictionaryWeight(dictionary),
        HybridMatrix hybrid => new HybridWeight(hybrid),
        _ => throw new NotSupportedException($"No native operator runs {matrix.GetType().Name}."),
    };

    private static DenseWeight DenseWeightOf(DenseMatrix dense)
    {
        var values = dense.FullPrecisionFactors[0].Tensor.As<float>().Data;
        return new DenseWeight(values, 0, dense.Rows, dense.Columns, dense.Int8ScalesOf(values));
    }

    /// <summary>Checks the spans of <see cref="Multiply"/> against the shape.</summary>
    protected void CheckSpans(ReadOnlySpan<float> a, int m, Span<float> c)
    {
        if (a.Length < (long)m * Columns || c.Length < (long)m * Rows)
        {
            throw new ArgumentException($"A batch of {m} rows for a [{Rows} × {Columns}] weight needs {(long)m * Columns} inputs and {(long)m * Rows} outputs, got {a.Length} and {c.Length}.");
        }
    }

    /// <summary>
    /// Copies (or adds) <paramref name="m"/> runs of <paramref name="width"/> floats, one per input row, from
    /// <paramref name="source"/> (runs <paramref name="sourceStride"/> apart) to <paramref name="target"/> (runs
    /// <paramref name="targetStride"/> apart): a part of a product moved to where it belongs in the whole.
    /// </summary>
    protected static void CopyRows(ReadOnlySpan<float> source, int sourceStride, Span<float> target, int targetStride, int m, int width, bool accumulate)
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

    /// <summary>Rows of another operator, computed in full and copied out.</summary>
    private sealed class RowRangeOperator(WeightOperator whole, int start, int count) : WeightOperator
    {
        public override int Rows => count;

        public override int Columns => whole.Columns;

        public override string Form => whole.Form;

        public override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
        {
            CheckSpans(a, m, c);
            using var full = new ScratchBuffer((long)m * whole.Rows);
            whole.Multiply(a, m, full.Span, accumulate: false);
            CopyRows(full.Span[start..], whole.Rows, c, count, m, count, accumulate);
        }

        public override void ReadRow(int row, Span<float> destination) => whole.ReadRow(start + row, destination);
    }
}
