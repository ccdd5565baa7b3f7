using System.Text.Json;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The shipped language model (samples/LanguageModel/model.onnx): on the first 2,000 test tokens both engines give the
/// perplexity the training script computed with PyTorch (data/test_slice_reference.json) to 4 significant digits.
/// The whole test split is evaluated by `dirnet eval` (see the sample's README), not here, to keep CI fast.
/// </summary>
public sealed class LanguageModelSampleTests
{
    private static readonly string Sample = Path.Combine(TestPaths.RepositoryRoot, "samples", "LanguageModel");

    [Fact]
    public void SlicePerplexityMatchesPyTorchOnBothEngines()
    {
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(Sample, "data", "test_slice_reference.json")));
        var tokens = reference.RootElement.GetProperty("tokens").GetInt32();
        var expected = reference.RootElement.GetProperty("perplexity").GetDouble();

        var model = OnnxModel.Load(Path.Combine(Sample, "model.onnx"));
        var ids = LanguageModelCorpus.ReadIds(Path.Combine(Sample, "data"))[..tokens];
        var native = PerplexityEvaluator.Evaluate(new NativeModel(model), model, ids);
        using var ort = new OnnxRuntimeModel(model);
        var onnxRuntime = PerplexityEvaluator.Evaluate(ort, model, ids);

        Assert.Equal(tokens - 1, native.Predictions);
        Assert.Equal(expected, native.Perplexity, 5e-5 * expected);
        Assert.Equal(expected, onnxRuntime.Perplexity, 5e-5 * expected);
    }
}
