using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Cli;

/// <summary>
/// The engine a verb runs a model in: the native engine, or ONNX Runtime when the user passes <c>--ort</c> or when
/// the native engine lacks one of the model's operators (then <see cref="Fallback"/> says which, and the verb tells
/// the user on stderr rather than failing).
/// </summary>
internal sealed class EngineChoice : IDisposable
{
    private readonly OnnxRuntimeModel? _session;

    public EngineChoice(OnnxModel model, bool useOnnxRuntime, bool quantizeInt8Activations = false)
    {
        if (!useOnnxRuntime)
        {
            try
            {
                Model = new NativeModel(model) { QuantizeInt8Activations = quantizeInt8Activations };
                QuantizesInt8Activations = quantizeInt8Activations;
                return;
            }
            catch (UnsupportedOperatorException e)
            {
                Fallback = $"the native engine lacks {string.Join(", ", e.Operators.Keys)}; running in ONNX Runtime instead.";
            }
        }

        _session = new OnnxRuntimeModel(model);
        Model = _session;
        if (Fallback is not null)
        {
            // Said only once ONNX Runtime has taken the model: where it cannot either, its error is the one line.
            Console.Error.WriteLine($"note: {TerminalText.Plain(Fallback)}");
        }
    }

    /// <summary>The model, ready to run.</summary>
    public ITensorModel Model { get; }

    /// <summary>Why ONNX Runtime runs the model although <c>--ort</c> was not given; null otherwise.</summary>
    public string? Fallback { get; }

    /// <summary>Whether the native engine runs the model with <see cref="NativeModel.QuantizeInt8Activations"/>.</summary>
    public bool QuantizesInt8Activations { get; }

    /// <summary>The engine's name for people.</summary>
    public string DisplayName => _session is null ? "native engine" : "ONNX Runtime";

    /// <summary>The engine's name in <c>--json</c> output.</summary>
    public string JsonName => _session is null ? "native" : "onnxruntime";

    public void Dispose() => _session?.Dispose();
}
