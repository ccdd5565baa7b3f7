using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime;

/// <summary>The native engine (<see cref="NativeModel"/>) as the <see cref="IOnnxEngine"/> the layers beneath it are given.</summary>
internal sealed class NativeEngine : IOnnxEngine
{
    /// <summary>The one instance: the engine keeps no state.</summary>
    public static NativeEngine Instance { get; } = new();

    private NativeEngine()
    {
    }

    public ITensorModel Load(OnnxModel model) => new NativeModel(model);

    public ITensorModel Load(OnnxModel model, INodeObserver observer) => new NativeModel(model) { Observer = observer };

    public void CheckGraph(OnnxModel model)
    {
        try
        {
            _ = new NativeModel(model);
        }
        catch (UnsupportedOperatorException)
        {
        }
    }
}
