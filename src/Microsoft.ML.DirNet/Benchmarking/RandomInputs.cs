using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Benchmarking;

/// <summary>Seeded random inputs for a model, with its dynamic dimensions fixed to a batch and a sequence length.</summary>
public static class RandomInputs
{
    /// <summary>
    /// Makes one tensor per model input. A symbolic dimension named like a batch ("batch", "N", ...) gets
    /// <paramref name="batch"/>; any other unknown dimension gets <paramref name="steps"/>. Float inputs are
    /// standard-normal-ish; integer inputs (token ids) are drawn below the row count of the Gather table they index,
    /// or below 10 when none is found.
    /// </summary>
    public static Tensor[] Create(OnnxModel model, int batch = 1, int steps = 32, int seed = 0)
    {
        var random = new Random(seed);
        return model.Graph.Inputs.Select(input =>
        {
            if (input.Dimensions is null)
            {
                throw new DirNetException($"Input '{input.Name}' declares no shape; give real inputs with --data.");
            }

            var shape = input.Dimensions.Select(d => d.Value is { } v ? (int)v : IsBatch(d.Symbol) ? batch : steps).ToArray();
            return input.ElementType switch
            {
                TensorElementType.Float => (Tensor)new Tensor<float>(shape,
                    Enumerable.Range(0, TensorShape.ElementCount(shape)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()),
                TensorElementType.Int64 => new Tensor<long>(shape,
                    Enumerable.Range(0, TensorShape.ElementCount(shape)).Select(_ => (long)random.Next(VocabularySize(model, input.Name))).ToArray()),
                var other => throw new DirNetException($"Input '{input.Name}' is {other}; random inputs are made for float and int64 only. Give real inputs with --data."),
            };
        }).ToArray();
    }

    /// <summary>
    /// The shape <see cref="Create"/> gives an input that declares one, as longs (a declared dimension may be any
    /// value), so a caller can check the size before anything is allocated.
    /// </summary>
    internal static long[] Shape(OnnxValueInfo input, int batch, int steps) =>
        input.Dimensions?.Select(d => d.Value ?? (IsBatch(d.Symbol) ? batch : steps)).ToArray() ?? [];

    private static bool IsBatch(string? symbol) =>
        symbol is not null && (symbol.Contains("batch", StringComparison.OrdinalIgnoreCase) || symbol is "N" or "n" or "B");

    private static int VocabularySize(OnnxModel model, string input)
    {
        var gather = model.Graph.Nodes.FirstOrDefault(n => n.OpType == "Gather" && n.Inputs.Count > 1 && n.Inputs[1] == input
            && model.Graph.HasInitializer(n.Inputs[0]));
        return gather is null ? 10 : model.Graph.GetInitializerInfo(gather.Inputs[0]).Shape[0];
    }
}
