using Microsoft.ML.DirNet.Benchmarking;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>Data-aware fitting: captured input moments, the change of basis, and its payoff in the norm it targets.</summary>
public sealed class CalibrationTests
{
    private static readonly OnnxModel Lstm = SyntheticRecurrentModel.Create(RecurrentCellType.Lstm, layers: 2, inputSize: 12, hiddenSize: 20, seed: 5);

    private static IReadOnlyList<Tensor[]> Inputs(int sets) =>
        Enumerable.Range(0, sets).Select(s => RandomInputs.Create(Lstm, batch: 2, steps: 7, seed: 100 + s)).ToArray();

    [Fact]
    public void CapturedMomentsAreTheAverageOuterProductOfWhatEachMatrixMultiplies()
    {
        var inputs = Inputs(3);
        var statistics = CalibrationStatistics.Capture(Lstm, inputs);
        var weights = WeightFinder.FindWeights(Lstm);
        var w0 = weights.First(w => w.Role == WeightRole.RecurrentInput);
        var r0 = weights.First(w => w.Role == WeightRole.RecurrentHidden);

        // Layer 0's W multiplies the model input X [steps, batch, 12]; its R the layer's outputs h_t (Y).
        Assert.Equal(3 * 7 * 2, statistics.VectorCount(w0));
        Assert.Equal(3 * 7 * 2, statistics.VectorCount(r0));
        var expected = new double[12 * 12];
        foreach (var set in inputs)
        {
            var x = set[0].As<float>().Data;
            for (var v = 0; v < x.Length / 12; v++)
            {
                for (var i = 0; i < 12; i++)
                {
                    for (var j = 0; j < 12; j++)
                    {
                        expected[i * 12 + j] += (double)x[v * 12 + i] * x[v * 12 + j] / (3 * 7 * 2);
                    }
                }
            }
        }

        var moment = statistics.Moment(w0)!;
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], moment[i], 1e-9);
        }
    }

    /// <summary>
    /// A matrix read inside an If branch is calibrated by what it multiplies there, each time the branch runs: a
    /// weight in a Constant node of the else branch under the name hoisting gives it, and the main-graph initializer
    /// the then branch and a main-graph node both read, once per reader.
    /// </summary>
    [Fact]
    public void MatricesReadInsideIfBranchesAreCalibratedWhereTheyAreRead()
    {
        var model = BranchModel.MatMulsInsideAndOutsideAnIf(
            new Tensor<float>([4, 3], Enumerable.Range(0, 12).Select(i => i / 10f).ToArray()),
            new Tensor<float>([4, 3], Enumerable.Range(0, 12).Select(i => 1 - i / 7f).ToArray()));
        var x = new Tensor<float>([2, 4], [1, -2, 3, 0.5f, -1, 0, 2, 1]);
        var weights = WeightFinder.FindWeights(WeightHoisting.Hoist(model, NativeEngine.Instance));
        var direct = weights.First(w => w.Initializer == "w");
        var constant = weights.Single(w => w.Initializer == "else_matmul.B");

        var elseTaken = CalibrationStatistics.Capture(model, [[x, Tensor<bool>.Scalar(false)]]);
        Assert.Equal(2, elseTaken.VectorCount(direct));
        Assert.Equal(2, elseTaken.VectorCount(constant));
        var moment = elseTaken.Moment(constant)!;
        for (var i = 0; i < 4; i++)
        {
            for (var j = 0; j < 4; j++)
            {
                Assert.Equal(((double)x.Data[i] * x.Data[j] + (double)x.Data[4 + i] * x.Data[4 + j]) / 2, moment[i * 4 + j], 1e-12);
            }
        }

        var thenTaken = CalibrationStatistics.Capture(model, [[x, Tensor<bool>.Scalar(true)], [x, Tensor<bool>.Scalar(true)]]);
        Assert.Equal(8, thenTaken.VectorCount(direct));
        Assert.Equal(0, thenTaken.VectorCount(constant));
        Assert.Null(thenTaken.Moment(constant));
    }

    [Fact]
    public void FullRankAndSingleElementBlocksStayExactThroughTheChangeOfBasis()
    {
        var statistics = CalibrationStatistics.Capture(Lstm, Inputs(2));
        var weight = WeightFinder.FindWeights(Lstm).First(w => w.Role == WeightRole.RecurrentHidden);
        var values = WeightLayout.Read(weight, Lstm.Graph.GetInitializer(weight.Initializer).As<float>().Data);
        foreach (var diagonal in new[] { false, true })
        {
            var group = new MatrixGroup([(weight, values)], InputTransform.Create(statistics.Moment(weight)!, weight.Columns, diagonal));
            var matrix = diagonal
                ? group.MapBack([HybridFit.Fit(group.Values, group.Rows, group.Columns, denseRows: 10, b: 1)])[0]
                : group.MapBack(new LowRankFit(group).Build(long.MaxValue))[0];
            Assert.True(RnnCompressor.RelativeError(values, matrix.ToDense()) < 1e-4, $"diagonal = {diagonal}");
        }
    }

    [Fact]
    public void LowRankWithCalibrationHasTheSmallerDataAwareError()
    {
        var statistics = CalibrationStatistics.Capture(Lstm, Inputs(4));
        var options = new CompressionOptions { Method = CompressionMethod.LowRank, Ratio = 3, Scope = CompressionScope.Recurrent, Allocation = BudgetAllocation.Uniform };
        var plain = RnnCompressor.Compress(Lstm, options);
        var aware = RnnCompressor.Compress(Lstm, options with { Calibration = statistics });
        foreach (var (p, a) in plain.Weights.Zip(aware.Weights))
        {
            Assert.Equal(p.Matrix.StorageBytes, a.Matrix.StorageBytes);
            var values = WeightLayout.Read(p.Weight, Lstm.Graph.GetInitializer(p.Weight.Initializer).As<float>().Data);
            var moment = statistics.Moment(p.Weight)!;
            var ridge = InputTransform.Ridge * Enumerable.Range(0, p.Weight.Columns).Average(i => moment[i * p.Weight.Columns + i]);
            double DataError(CompressedMatrix m) => DataAwareError(values, m.ToDense(), moment, p.Weight.Rows, p.Weight.Columns, ridge);
            Assert.True(DataError(a.Matrix) <= DataError(p.Matrix) * (1 + 1e-4), $"{p.Weight.DisplayName}: {DataError(a.Matrix)} > {DataError(p.Matrix)}");
        }
    }

    /// <summary>tr(E·(C + δI)·Eᵀ) with E = W − Ŵ.</summary>
    private static double DataAwareError(float[] w, float[] approximation, double[] moment, int rows, int columns, double ridge)
    {
        double total = 0;
        for (var r = 0; r < rows; r++)
        {
            var e = Enumerable.Range(0, columns).Select(c => (double)w[r * columns + c] - approximation[r * columns + c]).ToArray();
            for (var i = 0; i < columns; i++)
            {
                for (var j = 0; j < columns; j++)
                {
                    total += e[i] * (moment[i * columns + j] + (i == j ? ridge : 0)) * e[j];
                }
            }
        }

        return total;
    }

    [Fact]
    public void CalibrationFolderOfTensorFilesIsRead()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var inputs = Inputs(2);
        for (var s = 0; s < inputs.Count; s++)
        {
            Directory.CreateDirectory(Path.Combine(folder, $"set_{s}"));
            for (var k = 0; k < inputs[s].Length; k++)
            {
                TensorFile.Write(Path.Combine(folder, $"set_{s}", $"input_{k}.pb"), inputs[s][k]);
            }
        }

        var read = Evaluation.CalibrationInputs.FromFolder(folder);
        Assert.Equal(2, read.Count);
        Assert.Equal(inputs[1][0].As<float>().Data, read[1][0].As<float>().Data);
        Assert.Throws<DirNetException>(() => Evaluation.CalibrationInputs.FromFolder(Path.Combine(folder, "missing")));
        Assert.Throws<DirNetException>(() => Evaluation.CalibrationInputs.FromFolder(TestPaths.NewTemporaryFolder()));
    }

    [Fact]
    public void CalibrationInputsOfTheWrongShapeAreNamed()
    {
        var wrong = new Tensor[] { new Tensor<float>([7, 2, 5]) };
        var error = Assert.ThrowsAny<DirNetException>(() => CalibrationStatistics.Capture(Lstm, [wrong]));
        Assert.Contains("[7, 2, 5]", error.Message);
    }
}
