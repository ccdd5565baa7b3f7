using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Export;

namespace Microsoft.ML.DirNet;

/// <summary>
/// What a compressed model holds: the method and options it was compressed with, and every compressed matrix's form and
/// bytes before and after. Read from the compressed model itself, so a transformer loaded from a file reports the same
/// (less the fitting errors, which only the compression that made the file measured).
/// </summary>
public sealed class CompressionReport
{
    internal CompressionReport(FactoredModel factored, long fileBytes, CompressionResult? result)
    {
        var metadata = factored.Metadata;
        Method = metadata.Method;
        TargetRatio = metadata.TargetRatio;
        Scope = metadata.Scope;
        Calibrated = metadata.Calibrated;
        Seed = metadata.Seed;
        FileBytes = fileBytes;
        Matrices = factored.Initializers
            .SelectMany(initializer => initializer.Matrices.Select((matrix, direction) => new MatrixCompressionReport(
                initializer.Entry.Name, direction, matrix.Rows, matrix.Columns, matrix.Method, matrix.Structure,
                StoredMatrix.PrecisionOf(matrix), (long)matrix.Rows * matrix.Columns * sizeof(float), matrix.StorageBytes,
                result?.Weights.FirstOrDefault(w => w.Weight.Initializer == initializer.Entry.Name && w.Weight.Direction == direction)?.RelativeError,
                matrix.GroupSize)))
            .ToArray();
    }

    /// <summary>The method: <c>dirnet</c>, <c>hmd</c>, <c>lowrank</c>, <c>prune</c> or <c>odl</c>.</summary>
    public string Method { get; }

    /// <summary>The target ratio the compression was asked for.</summary>
    public double TargetRatio { get; }

    /// <summary>What the target applied to: <c>model</c> or <c>recurrent</c>.</summary>
    public string Scope { get; }

    /// <summary>Whether the matrices were fitted to calibration inputs.</summary>
    public bool Calibrated { get; }

    /// <summary>The seed of the compression.</summary>
    public int Seed { get; }

    /// <summary>Size of the compressed ONNX model in bytes.</summary>
    public long FileBytes { get; }

    /// <summary>One row per compressed matrix (per direction of a recurrent weight).</summary>
    public IReadOnlyList<MatrixCompressionReport> Matrices { get; }

    /// <summary>Bytes of the compressed matrices before compression (float32).</summary>
    public long BytesBefore => Matrices.Sum(m => m.BytesBefore);

    /// <summary>Bytes their stored forms take.</summary>
    public long BytesAfter => Matrices.Sum(m => m.BytesAfter);

    /// <summary><see cref="BytesBefore"/> / <see cref="BytesAfter"/>.</summary>
    public double Ratio => (double)BytesBefore / BytesAfter;
}

/// <summary>One compressed matrix of a <see cref="CompressionReport"/>.</summary>
/// <param name="Initializer">The ONNX initializer the matrix belongs to.</param>
/// <param name="Direction">Its direction (0, or 1 for the backward direction of a bidirectional layer).</param>
/// <param name="Rows">Rows of W.</param>
/// <param name="Columns">Columns of W.</param>
/// <param name="Method">Its stored form (<c>dirnet</c>, <c>hmd</c>, <c>lowrank</c>, <c>prune</c>, <c>odl</c> or <c>dense</c>).</param>
/// <param name="Structure">The structure in words (atoms and codes per row, blocks, rank, density).</param>
/// <param name="Precision">How its values are stored: <c>fp32</c>, <c>fp16</c>, <c>int8</c> (with a float scale per row), or
/// per group <c>int4</c>, <c>int3</c>, <c>int2</c> or <c>ternary</c>.</param>
/// <param name="BytesBefore">Its bytes as a float32 matrix.</param>
/// <param name="BytesAfter">Bytes of its stored form.</param>
/// <param name="RelativeError">‖W − Ŵ‖ / ‖W‖ as measured when it was compressed; null for a model loaded from a file.</param>
/// <param name="GroupSize">Values per group for the per-group precisions; 0 otherwise.</param>
public sealed record MatrixCompressionReport(
    string Initializer, int Direction, int Rows, int Columns, string Method, string Structure, string Precision,
    long BytesBefore, long BytesAfter, double? RelativeError, int GroupSize = 0)
{
    /// <summary><see cref="BytesBefore"/> / <see cref="BytesAfter"/>.</summary>
    public double Ratio => (double)BytesBefore / BytesAfter;
}
