namespace Microsoft.ML.DirNet.Compression;

/// <summary>How DirNet's dictionary is initialised.</summary>
public enum DictionaryInitialization
{
    /// <summary>Atoms are distinct rows of the (unit-normalised) matrix, drawn at random with the seed.</summary>
    RandomRows,

    /// <summary>Atoms are the top right singular vectors.</summary>
    SingularVectors,
}

/// <summary>Settings of the DirNet (SCC) dictionary learner; the defaults follow docs' METHODS.md.</summary>
public sealed record DictionaryOptions
{
    /// <summary>Soft threshold used while learning and mining atoms, for unit-norm rows. Default 0.05.</summary>
    public float MiningLambda { get; init; } = 0.05f;

    /// <summary>SCC epochs before atom mining starts. Default 3.</summary>
    public int WarmupEpochs { get; init; } = 3;

    /// <summary>Fraction of atoms dropped per mining stage (plus any dead atoms). Default 0.05.</summary>
    public double DropFraction { get; init; } = 0.05;

    /// <summary>SCC epochs at the chosen threshold after the atom count is chosen. Default 3.</summary>
    public int FinalEpochs { get; init; } = 3;

    /// <summary>The fewest atoms mining goes down to. Default 8.</summary>
    public int MinimumAtoms { get; init; } = 8;

    /// <summary>Least-squares refit of every code's values on its support at the end. Default on.</summary>
    public bool Debias { get; init; } = true;

    /// <summary>Dictionary initialisation. Default random rows.</summary>
    public DictionaryInitialization Initialization { get; init; } = DictionaryInitialization.RandomRows;

    /// <summary>Share one dictionary between matrices that multiply the same vector (unidirectional stacks). Default on.</summary>
    public bool ShareProjection { get; init; } = true;
}
