using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>
/// DirNet's factorisation W ≈ C·P: a dictionary P [atoms × columns] (atoms of unit norm in the basis they were learned
/// in: the plain one, or the data-aware one mapped back) and sparse codes C [rows × atoms]
/// (compressed sparse rows; atom indices 8-bit up to 256 atoms, else 16-bit). y = C·(P·x): the projection is computed
/// once, then the codes. Matrices that multiply the same vector can share one dictionary; the first of them stores it
/// (<see cref="OwnsDictionary"/>) and the others count only their codes, so totals count it once.
/// </summary>
public sealed partial class DictionaryMatrix : CompressedMatrix
{
    private readonly float[] _dictionary;

    internal DictionaryMatrix(string method, float[] dictionary, int atoms, SparseRows codes, bool ownsDictionary)
        : base(codes.Rows, dictionary.Length / Math.Max(atoms, 1))
    {
        if (atoms <= 0 || dictionary.Length != (long)atoms * Columns || codes.Columns != atoms)
        {
            throw new ArgumentException($"A dictionary of {atoms} atoms needs codes over {atoms} atoms and {atoms} × columns values.");
        }

        Method = method;
        _dictionary = dictionary;
        Atoms = atoms;
        Codes = codes;
        OwnsDictionary = ownsDictionary;
    }

    /// <inheritdoc/>
    public override string Method { get; }

    /// <summary>Atoms (rows of P).</summary>
    public int Atoms { get; }

    /// <summary>Whether this matrix stores the dictionary (false when it shares one stored by another matrix).</summary>
    public bool OwnsDictionary { get; }

    /// <summary>P, row-major [atoms × columns].</summary>
    public ReadOnlySpan<float> Dictionary => _dictionary;

    /// <summary>Non-zero codes.</summary>
    public int NonZeros => Codes.NonZeros;

    internal SparseRows Codes { get; }

    /// <summary>P itself (shared, never written), for the exporter.</summary>
    internal float[] DictionaryArray => _dictionary;

    /// <inheritdoc/>
    public override long Parameters => (OwnsDictionary ? _dictionary.Length : 0) + (long)Codes.NonZeros;

    /// <inheritdoc/>
    public override string Structure =>
        $"{Atoms} atoms{(OwnsDictionary ? "" : " (shared)")}, {NonZeros:N0} codes ({(double)NonZeros / Rows:0.0} per row)";

    /// <inheritdoc/>
    protected override IReadOnlyList<MatrixFactor> FloatFactors
    {
        get
        {
            var factors = new List<MatrixFactor>();
            if (OwnsDictionary)
            {
                factors.Add(new MatrixFactor("dictionary", new Tensor<float>([Atoms, Columns], _dictionary)));
            }

            factors.AddRange(Codes.Factors("code_"));
            return factors;
        }
    }

    /// <inheritdoc/>
    private protected override IEnumerable<MatrixFactor> QuantizedFactors =>
        OwnsDictionary ? FloatFactors : FloatFactors.Prepend(new MatrixFactor("dictionary", new Tensor<float>([Atoms, Columns], _dictionary)));

    /// <inheritdoc/>
    /// <remarks>The atoms multiply x (the codes then combine D·x).</remarks>
    internal override double[]? InputMomentOf(string factor, double[] moment) => factor == "dictionary" ? moment : null;

    /// <summary>Whether this matrix and <paramref name="other"/> use the same dictionary object.</summary>
    public bool SharesDictionaryWith(DictionaryMatrix other) => ReferenceEquals(_dictionary, other._dictionary);

    /// <summary>p = P·x, the projection every code row reads.</summary>
    public void Project(ReadOnlySpan<float> x, Span<float> projection)
    {
        for (var a = 0; a < Atoms; a++)
        {
            projection[a] = TensorPrimitives.Dot(_dictionary.AsSpan(a * Columns, Columns), x[..Columns]);
        }
    }

    /// <inheritdoc/>
    public override float[] ToDense()
    {
        var dense = new float[(long)Rows * Columns];
        for (var r = 0; r < Rows; r++)
        {
            var row = dense.AsSpan(r * Columns, Columns);
            for (var i = Codes.RowStarts[r]; i < Codes.RowStarts[r + 1]; i++)
            {
                TensorPrimitives.MultiplyAdd(_dictionary.AsSpan(Codes.ColumnIndices[i] * Columns, Columns), Codes.Values[i], row, row);
            }
        }

        return dense;
    }

    /// <summary>
    /// Splits a matrix learned on stacked rows into consecutive row ranges sharing this dictionary; the first range
    /// stores it. Used for the shared projection of matrices that multiply the same vector.
    /// </summary>
    internal IReadOnlyList<DictionaryMatrix> SplitRows(IReadOnlyList<int> rowCounts)
    {
        if (rowCounts.Sum() != Rows)
        {
            throw new ArgumentException($"Row counts {string.Join("+", rowCounts)} do not add up to {Rows}.");
        }

        var parts = new List<DictionaryMatrix>();
        var start = 0;
        foreach (var count in rowCounts)
        {
            parts.Add(new DictionaryMatrix(Method, _dictionary, Atoms, Codes.RowRange(start, count), OwnsDictionary && start == 0));
            start += count;
        }

        return parts;
    }

    internal override CompressedMatrix MapValues(Func<float[], float[]> map) =>
        new DictionaryMatrix(Method, map(_dictionary), Atoms, new SparseRows(Rows, Atoms, Codes.RowStarts, Codes.ColumnIndices, map(Codes.Values)), OwnsDictionary);

    internal override CompressedMatrix UndoInputTransform(InputTransform transform, Dictionary<float[], float[]> shared)
    {
        if (!shared.TryGetValue(_dictionary, out var mapped))
        {
            mapped = transform.Undo(_dictionary, Atoms);
            shared[_dictionary] = mapped;
        }

        return new DictionaryMatrix(Method, mapped, Atoms, Codes, OwnsDictionary);
    }
}
