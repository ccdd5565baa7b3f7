using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Numerics.Simd;

namespace Microsoft.ML.DirNet.Compression;

// DirNet's product W = C·P as p = P·x (one dense product with the small dictionary, packed like any dense weight) and
// then y = C·p over the codes.
//
// Where at least one in DenseCodesDensity codes is non-zero, the codes are expanded once into a dense
// [rows × atoms] matrix in the packed panel layout: one SIMD multiply-add then covers as many codes as one sparse
// multiply-add (an index load, a gathered load and a scalar multiply-add) covers one, and the register-blocked
// kernels beat the sparse loops.
// Sparser codes stay sparse: a batch of at least SparseRows.BatchRows inputs (a sequence's input
// projection) runs them vectorised over the batch, a single input (a recurrent step) row by row. All give the same
// products up to rounding order.
public sealed partial class DictionaryMatrix
{
    private CodeProduct? _product;

    /// <summary>Codes per SIMD multiply-add: the widest rung's floats (16 with AVX-512, 8 with AVX2, 4 with SSE or ARM64).</summary>
    internal static int DenseCodesDensity => (int)LaneLadder.Widest;

    /// <summary>Whether the codes run as a dense matrix (see the remarks).</summary>
    internal bool UsesDenseCodes => Product.DenseCodes is not null;

    /// <inheritdoc/>
    internal override string Form => "dictionary";

    /// <summary>The projection runs int8, and so do the codes when they run dense (sparse codes stay float32).</summary>
    internal override bool RunsInt8 => Product.Projection.RunsInt8 && (Product.DenseCodes?.RunsInt8 ?? true);

    /// <summary>
    /// The projection and the codes as the product runs them, with their int8 row scales (set with the precision,
    /// before any product runs); made on first use, and idempotent, so threads racing here build equal products.
    /// </summary>
    private CodeProduct Product => _product ?? Interlocked.CompareExchange(ref _product,
        new CodeProduct(new DenseMatrix(_dictionary, 0, Atoms, Columns, Int8ScalesOf(_dictionary)), Codes, Int8ScalesOf(Codes.Values)), null) ?? _product;

    /// <inheritdoc/>
    internal override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        CheckBatch(a, m, c);
        var product = Product;
        using var projected = new ScratchBuffer((long)m * Atoms);
        product.Projection.Multiply(a, m, projected.Span, accumulate: false);
        if (product.DenseCodes is { } denseCodes)
        {
            denseCodes.Multiply(projected.Span, m, c, accumulate);
            return;
        }

        if (m >= SparseRows.BatchRows)
        {
            Codes.MultiplyBatch(projected.Span, m, c, accumulate);
            return;
        }

        for (var i = 0; i < m; i++)
        {
            Codes.Multiply(projected.Span.Slice(i * Atoms, Atoms), c.Slice(i * Rows, Rows), accumulate);
        }
    }

    /// <inheritdoc/>
    internal override void ReadRow(int row, Span<float> destination) => Codes.CombineRows(row, _dictionary, Columns, destination);

    /// <summary>The code rows on their own, with the same projection (and its packed form); dense codes are expanded anew.</summary>
    private protected override CompressedMatrix CreateRowRange(int start, int count)
    {
        var product = Product;
        var codes = Codes.RowRange(start, count);
        return new DictionaryMatrix(Method, _dictionary, Atoms, codes, OwnsDictionary && start == 0)
        {
            _product = new CodeProduct(product.Projection, codes, product.CodeScales?[start..(start + count)]),
        };
    }

    /// <summary>
    /// The projection P·x and the codes; <see cref="CodeScales"/>, for int8 codes, holds each code row's scale (dense
    /// codes then run through the int8 kernel).
    /// </summary>
    private sealed class CodeProduct
    {
        public CodeProduct(DenseMatrix projection, SparseRows codes, float[]? codeScales)
        {
            Projection = projection;
            CodeScales = codeScales;
            if (codes.NonZeros * (long)DenseCodesDensity >= (long)codes.Rows * codes.Columns)
            {
                DenseCodes = new DenseMatrix(codes.ToDense(), 0, codes.Rows, codes.Columns, codeScales);
            }
        }

        public DenseMatrix Projection { get; }

        public float[]? CodeScales { get; }

        public DenseMatrix? DenseCodes { get; }
    }
}
