using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Compression;

/// <summary>One matrix of a model after compression.</summary>
/// <param name="Weight">Where it is in the model.</param>
/// <param name="Matrix">Its stored form (a <see cref="DenseMatrix"/> where the plan kept it dense).</param>
/// <param name="RelativeError">‖W − Ŵ‖_F / ‖W‖_F (0 for a zero matrix kept exactly).</param>
/// <param name="SquaredNorm">‖W‖²_F of the original matrix.</param>
public sealed record CompressedWeight(CompressibleWeight Weight, CompressedMatrix Matrix, double RelativeError, double SquaredNorm)
{
    /// <summary>Dense bytes before / stored bytes after.</summary>
    public double Ratio => Matrix.StorageBytes == 0 ? double.PositiveInfinity : (double)Weight.Bytes / Matrix.StorageBytes;
}
