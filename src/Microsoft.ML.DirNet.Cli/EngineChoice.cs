using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Cli;

/// <summary>The engine a verb runs a model in: the native engine, or ONNX Runtime when the user passes <c>--ort</c>.</summary>
internal sealed class EngineChoice : IDisposable
{
    private readonly OnnxRuntimeModel? _session;

    public EngineChoice(OnnxModel model, bool useOnnxRuntime)
    {
        _session = useOnnxRuntime ? new OnnxRuntimeModel(model) : null;
        Model = _session ?? (ITensorModel)new NativeModel(model);
    }

    /// <summary>The model, ready to run.</summary>
    public ITensorModel Model { get; }

    /// <summary>The engine's name for people.</summary>
    public string DisplayName => _session is null ? "native engine" : "ONNX Runtime";

    /// <summary>The engine's name in <c>--json</c> output.</summary>
    public string JsonName => _session is null ? "native" : "onnxruntime";

    public void Dispose() => _session?.Dispose();
}
