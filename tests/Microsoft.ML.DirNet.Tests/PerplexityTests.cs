using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>The language-model perplexity procedure on the 50-word fixture LM, on both engines.</summary>
public sealed class PerplexityTests
{
    private static readonly OnnxModel Model = OnnxModel.Load(Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear", "model.onnx"));

    [Fact]
    public void CorpusReaderAppendsEndOfSentenceAndMapsUnknownWords()
    {
        var folder = WriteCorpus(["the cat sat", "a dog"]);
        var ids = LanguageModelCorpus.ReadIds(folder);
        // vocab: <unk>=0, <eos>=1, w2.. ; "the"=2, "cat"=3, "sat"=4, "a"=5; "dog" is unknown.
        Assert.Equal([2L, 3, 4, 1, 5, 0, 1], ids);
        Assert.Throws<DirNetException>(() => LanguageModelCorpus.ReadIds(folder, "missing.txt"));
    }

    [Fact]
    public void ChunkedWithCarriedStateEqualsOnePassAndEnginesAgree()
    {
        var random = new Random(3);
        var ids = Enumerable.Range(0, 300).Select(_ => (long)random.Next(50)).ToArray();
        var native = new NativeModel(Model);
        var chunked = PerplexityEvaluator.Evaluate(native, Model, ids, chunk: 35);
        var onePass = PerplexityEvaluator.Evaluate(native, Model, ids, chunk: ids.Length);
        using var ort = new OnnxRuntimeModel(Model);
        var reference = PerplexityEvaluator.Evaluate(ort, Model, ids, chunk: 35);

        Assert.Equal(299, chunked.Predictions);
        Assert.Equal(onePass.Perplexity, chunked.Perplexity, 1e-4 * onePass.Perplexity);
        Assert.Equal(reference.Perplexity, chunked.Perplexity, 1e-4 * reference.Perplexity);
        // An untrained 50-word model is close to uniform: perplexity near 50, far from a degenerate value.
        Assert.InRange(chunked.Perplexity, 30, 80);
    }

    [Fact]
    public void ModelsThatAreNotWordLanguageModelsAreRefused()
    {
        var acoustic = OnnxModel.Load(Path.Combine(TestPaths.Fixtures, "asr_bigru_ctc", "model.onnx"));
        var error = Assert.Throws<DirNetException>(() => PerplexityEvaluator.Evaluate(new NativeModel(acoustic), acoustic, [1, 2, 3]));
        Assert.Contains("int64 token ids", error.Message);
    }

    private static string WriteCorpus(string[] lines)
    {
        var folder = TestPaths.NewTemporaryFolder();
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), ["<unk>", "<eos>", "the", "cat", "sat", "a"]);
        File.WriteAllLines(Path.Combine(folder, "test.txt"), lines);
        return folder;
    }
}
