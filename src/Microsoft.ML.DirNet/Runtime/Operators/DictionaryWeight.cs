using System.Runtime.Intrinsics;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// DirNet's W = C·P applied as p = P·x (one dense product with the small dictionary, packed like any dense weight) and
/// then y = C·p over the codes. Operators built on the same dictionary array share its packed form.
/// </summary>
/// <remarks>
/// Where at least one in <see cref="DenseCodesDensity"/> codes is non-zero, the codes are expanded once at load into a
/// dense [rows × atoms] matrix in the packed panel layout: one SIMD multiply-add then covers as many codes as one
/// sparse multiply-add (an index load, a gathered load and a scalar multiply-add) covers one, and the register-blocked
/// kernels beat the sparse loops.
/// Sparser codes stay sparse: a batch of at least <see cref="BatchRows"/> inputs (a sequence's input projection) runs
/// them vectorised over the batch, a single input (a recurrent step) row by row. All give the same products up to
/// rounding order.
/// </remarks>
internal sealed class DictionaryWeight : WeightOperator
{
    private readonly DenseWeight _projection;
    private readonly float[] _dictionary;
    private readonly SparseProduct _codes;
    private readonly DenseWeight? _denseCodes;
    private readonly float[]? _codeScales;

    public DictionaryWeight(DictionaryMatrix matrix)
        : this(new DenseWeight(matrix.DictionaryArray, 0, matrix.Atoms, matrix.Columns, matrix.Int8ScalesOf(matrix.DictionaryArray)),
            matrix.DictionaryArray, new SparseProduct(matrix.Codes), matrix.Int8ScalesOf(matrix.Codes.Values))
    {
    }

    /// <summary>
    /// The operator over a dictionary's <paramref name="projection"/> (its <paramref name="dictionary"/> array, for
    /// rows) and <paramref name="codes"/>; <paramref name="codeScales"/>, for int8 codes, holds each code row's scale
    /// (dense codes then run through the int8 kernel).
    /// </summary>
    private DictionaryWeight(DenseWeight projection, float[] dictionary, SparseProduct codes, float[]? codeScales)
    {
        _projection = projection;
        _dictionary = dictionary;
        _codes = codes;
        _codeScales = codeScales;
        if (codes.Source.NonZeros * (long)DenseCodesDensity >= (long)codes.Rows * codes.Columns)
        {
            _denseCodes = new DenseWeight(codes.Source.ToDense(), 0, codes.Rows, codes.Columns, codeScales);
        }
    }

    /// <summary>Inputs from which a product runs the sparse codes vectorised over the batch (<see cref="SparseProduct.MultiplyBatch"/>).</summary>
    internal const int BatchRows = 8;

    /// <summary>Codes per SIMD multiply-add: the vector width in floats (8 with AVX2, 16 with AVX-512).</summary>
    public static int DenseCodesDensity => Vector512.IsHardwareAccelerated ? Vector512<float>.Count : Vector256<float>.Count;

    /// <summary>Whether the codes run as a dense matrix (see the remarks).</summary>
    internal bool UsesDenseCodes => _denseCodes is not null;

    public override int Rows => _codes.Rows;

    public override int Columns => _projection.Columns;

    public override string Form => "dictionary";

    /// <summary>The projection runs int8, and so do the codes when they run dense (sparse codes stay float32).</summary>
    internal override bool RunsInt8 => _projection.RunsInt8 && (_denseCodes?.RunsInt8 ?? true);

    public override void Multiply(ReadOnlySpan<float> a, int m, Span<float> c, bool accumulate)
    {
        CheckSpans(a, m, c);
        var atoms = _projection.Rows;
        using var projected = new ScratchBuffer((long)m * atoms);
        _projection.Multiply(a, m, projected.Span, accumulate: false);
        if (_denseCodes is not null)
        {
            _denseCodes.Multiply(projected.Span, m, c, accumulate);
            return;
        }

        if (m >= BatchRows)
        {
            _codes.MultiplyBatch(projected.Span, m, c, accumulate);
            return;
        }

        for (var i = 0; i < m; i++)
        {
            _codes.Multiply(projected.Span.Slice(i * atoms, atoms), c.Slice(i * Rows, Rows), accumulate);
        }
    }

    public override void ReadRow(int row, Span<float> destination) => _codes.CombineRows(row, _dictionary, Columns, destination);

    protected override WeightOperator CreateRowRange(int start, int count) =>
        new DictionaryWeight(_projection, _dictionary, new SparseProduct(_codes.Source.RowRange(start, count)), _codeScales?[start..(start + count)]);
}
