using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Export;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// A matrix too small to pay for the graph that rebuilds it is kept dense, so a compressed file is never larger than
/// its model: the rebuild nodes, constants and metadata of one int4 matrix take about 2 KB, more than a 64 × 8 LSTM W
/// (2 KB dense) saves; a model whose matrices are all that small is refused, and the command line writes nothing.
/// </summary>
public sealed class FilePayoffTests
{
    private static OnnxModel Load(string fixture) => OnnxModel.Load(Path.Combine(TestPaths.Fixtures, fixture, "model.onnx"));

    private static CompressionOptions Int4 => new() { Method = CompressionMethod.Quant, Precision = FactorPrecision.Int4, GroupSize = 32, Scope = CompressionScope.Recurrent };

    [Fact]
    public void ASmallMatrixIsKeptDenseAndTheFileIsSmallerForIt()
    {
        var model = Load("lstm_1layer");
        var guarded = RnnCompressor.Compress(model, Int4);
        var unguarded = RnnCompressor.Compress(model, Int4 with { KeepDenseWhereItDoesNotPay = false });

        // The 64 × 8 W is kept dense, as it was (error 0); the 64 × 16 R is compressed.
        var w = guarded.Weights.Single(x => x.Weight.Role == WeightRole.RecurrentInput);
        Assert.Equal([w.Weight.Initializer], guarded.KeptDenseForSize);
        Assert.True(w.Matrix is DenseMatrix { Precision: FactorPrecision.Float32 } && w.RelativeError == 0);
        Assert.Equal(FactorPrecision.Int4, guarded.Weights.Single(x => x.Weight.Role == WeightRole.RecurrentHidden).Matrix.Precision);

        // Compressed anyway, W costs the file more than it saved.
        var (costs, _, _) = CompressedOnnxWriter.FileBytes(unguarded.Source, unguarded);
        Assert.True(costs[w.Weight.Initializer].Compressed >= costs[w.Weight.Initializer].Dense, $"W: {costs[w.Weight.Initializer]}");
        var sizes = new[] { model, guarded.ToCompressedModel(), unguarded.ToCompressedModel() }.Select(m => m.ToBytes().Length).ToArray();
        Assert.True(sizes[1] < sizes[2] && sizes[2] < sizes[0], $"model {sizes[0]:N0}, kept dense {sizes[1]:N0}, every matrix compressed {sizes[2]:N0} bytes");
    }

    [Fact]
    public void MatricesThatPayAreCompressedAsPlanned()
    {
        var model = Load("asr_bigru_ctc");
        var guarded = RnnCompressor.Compress(model, Int4);
        Assert.Empty(guarded.KeptDenseForSize);
        Assert.Equal(RnnCompressor.Compress(model, Int4 with { KeepDenseWhereItDoesNotPay = false }).ToCompressedModel().ToBytes(), guarded.ToCompressedModel().ToBytes());
    }

    [Fact]
    public void AModelWhoseMatricesAreAllTooSmallIsRefusedAndNothingIsWritten()
    {
        var input = Path.Combine(TestPaths.Fixtures, "rnn_tanh", "model.onnx");
        var error = Assert.Throws<DirNetException>(() => RnnCompressor.Compress(Load("rnn_tanh"), Int4));
        Assert.Contains("would not make it smaller", error.Message);

        var output = Path.Combine(Path.GetTempPath(), $"dirnet-payoff-{Guid.NewGuid():N}.onnx");
        var (code, stdout, stderr) = CliTests.Dirnet("compress", input, "-o", output, "--method", "quant", "--precision", "int4", "--group", "32", "--scope", "recurrent");
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("rnn_tanh", stderr);
        Assert.False(File.Exists(output));

        // Asked to compress every matrix anyway, it writes a file larger than the model.
        (code, _, stderr) = CliTests.Dirnet("compress", input, "-o", output, "--method", "quant", "--precision", "int4", "--group", "32", "--scope", "recurrent", "--compress-small");
        try
        {
            Assert.True(code == 0, stderr);
            Assert.True(new FileInfo(output).Length > new FileInfo(input).Length);
        }
        finally
        {
            File.Delete(output);
        }
    }
}
