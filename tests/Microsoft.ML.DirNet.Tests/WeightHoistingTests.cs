using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Weights;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Weights in Constant nodes inside a branch become main-graph initializers; a branch that reads a main-graph
/// initializer directly keeps reading it under its own name (no copy); the hoisted model computes what the original does.
/// </summary>
public sealed class WeightHoistingTests
{
    [Fact]
    public void ABranchConstantIsHoistedAndAMainInitializerReadInABranchIsNotCopied()
    {
        var w = new Tensor<float>([4, 3], Enumerable.Range(0, 12).Select(i => i / 10f).ToArray());
        var other = new Tensor<float>([4, 3], Enumerable.Range(0, 12).Select(i => 1 - i / 7f).ToArray());
        var model = BranchModel.MatMulsInsideAndOutsideAnIf(w, other);

        var hoisted = WeightHoisting.Hoist(model, NativeEngine.Instance);
        Assert.Equal(["w", "else_matmul.B"], hoisted.Graph.InitializerNames.Order(StringComparer.Ordinal).Reverse().ToArray());
        var weights = WeightFinder.FindWeights(hoisted);
        Assert.Equal(3, weights.Count);
        Assert.Equal(2, weights.Count(x => x.Initializer == "w"));
        Assert.Equal("choose.else_branch", weights.Single(x => x.Initializer == "else_matmul.B").GraphPath);

        var x = new Tensor<float>([2, 4], [1, -2, 3, 0.5f, -1, 0, 2, 1]);
        foreach (var condition in new[] { true, false })
        {
            var before = new NativeModel(model).Run(x, Tensor<bool>.Scalar(condition));
            var after = new NativeModel(hoisted).Run(x, Tensor<bool>.Scalar(condition));
            Assert.All(before.Zip(after), p => Assert.True(TensorComparer.AreClose(p.Second, p.First)));
        }
    }
}
