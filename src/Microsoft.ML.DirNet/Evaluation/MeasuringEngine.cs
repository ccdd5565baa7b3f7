using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>
/// The engine the comparisons measure a model with: the native engine, or ONNX Runtime where the native engine lacks
/// one of the model's operators (so a model the native engine cannot run is still compared, every row alike).
/// Disposing it releases an ONNX Runtime session.
/// </summary>
internal sealed class MeasuringEngine : IDisposable
{
    private MeasuringEngine(ITensorModel model) => Model = model;

    /// <summary>The model, ready to run.</summary>
    public ITensorModel Model { get; }

    /// <summary>Opens <paramref name="model"/> in the native engine, or in ONNX Runtime where <see cref="Lacks"/> is not empty.</summary>
    public static MeasuringEngine Open(OnnxModel model) =>
        new(Lacks(model).Count == 0 ? new NativeModel(model) : new OnnxRuntimeModel(model));

    /// <summary>The operators of <paramref name="model"/> the native engine lacks (empty when it runs them all).</summary>
    public static IReadOnlyCollection<string> Lacks(OnnxModel model) => NativeModel.FindUnsupportedOperators(model).Keys.ToArray();

    public void Dispose() => (Model as IDisposable)?.Dispose();
}
