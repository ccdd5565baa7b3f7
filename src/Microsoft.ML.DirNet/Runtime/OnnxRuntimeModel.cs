using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.OnnxRuntime;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Microsoft.ML.DirNet.Runtime;

/// <summary>
/// Runs a model through ONNX Runtime with the engine's <see cref="Tensor"/> types, on one thread, sequential execution:
/// the reference the native engine is checked and timed against.
/// </summary>
/// <remarks>Owns an <see cref="InferenceSession"/>; dispose it. <see cref="Run(Tensor[])"/> may be called from many threads.</remarks>
public sealed class OnnxRuntimeModel : ITensorModel, IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    /// <summary>Creates a session for the serialized model.</summary>
    /// <param name="model">The model.</param>
    /// <param name="optimize">Use ONNX Runtime's default graph optimisations (true) or none (false).</param>
    public OnnxRuntimeModel(OnnxModel model, bool optimize = true)
        : this(model, optimize, profilePrefix: null)
    {
    }

    /// <summary>
    /// A session that also records ONNX Runtime's own per-node profile to a JSON file whose path starts with
    /// <paramref name="profilePrefix"/> (see <see cref="EndProfiling"/>).
    /// </summary>
    internal OnnxRuntimeModel(OnnxModel model, bool optimize, string? profilePrefix)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = optimize ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL,
        };
        if (profilePrefix is not null)
        {
            options.EnableProfiling = true;
            options.ProfileOutputPathPrefix = profilePrefix;
        }

        try
        {
            _session = new InferenceSession(model.ToBytes(), options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new DirNetException($"ONNX Runtime could not load '{model.SourceName}': {e.Message}", e);
        }

        _inputNames = _session.InputNames.ToArray();
        _outputNames = _session.OutputNames.ToArray();
    }

    /// <summary>The input names in the model's order.</summary>
    public IReadOnlyList<string> InputNames => _inputNames;

    /// <summary>The output names in the model's order.</summary>
    public IReadOnlyList<string> OutputNames => _outputNames;

    /// <summary>Runs the model on inputs in the model's order and returns the outputs in order.</summary>
    public Tensor[] Run(params Tensor[] inputs)
    {
        var values = Bind(inputs);
        try
        {
            return Run(values);
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>
    /// Wraps the inputs as ONNX Runtime values once (pinned, no copy), so repeated runs such as a benchmark time only
    /// the inference. Dispose the returned values after use.
    /// </summary>
    public OrtValue[] Bind(Tensor[] inputs)
    {
        if (inputs.Length != _inputNames.Length)
        {
            throw new ModelInputException("(all)", $"ONNX Runtime expects {_inputNames.Length} inputs but {inputs.Length} were given.");
        }

        return inputs.Select(ToOrtValue).ToArray();
    }

    /// <summary>Runs on values made by <see cref="Bind"/>.</summary>
    public Tensor[] Run(OrtValue[] inputs)
    {
        try
        {
            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, _inputNames, inputs, _outputNames);
            return results.Select(FromOrtValue).ToArray();
        }
        catch (OnnxRuntimeException e)
        {
            throw new DirNetException($"ONNX Runtime failed to run the model: {e.Message}", e);
        }
    }

    /// <summary>Stops a profiling session's recording and returns the path of its JSON file (Chrome trace events).</summary>
    internal string EndProfiling() => _session.EndProfiling();

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();

    private static OrtValue ToOrtValue(Tensor tensor)
    {
        var shape = tensor.Shape.Select(d => (long)d).ToArray();
        return tensor switch
        {
            Tensor<float> t => OrtValue.CreateTensorValueFromMemory(t.Data, shape),
            Tensor<long> t => OrtValue.CreateTensorValueFromMemory(t.Data, shape),
            Tensor<int> t => OrtValue.CreateTensorValueFromMemory(t.Data, shape),
            Tensor<bool> t => OrtValue.CreateTensorValueFromMemory(t.Data, shape),
            Tensor<double> t => OrtValue.CreateTensorValueFromMemory(t.Data, shape),
            Tensor<byte> t => OrtValue.CreateTensorValueFromMemory(t.Data, shape),
            _ => throw new NotSupportedException($"Passing {tensor.ElementType} tensors to ONNX Runtime is not supported."),
        };
    }

    private static Tensor FromOrtValue(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var shape = info.Shape.Select(d => checked((int)d)).ToArray();
        return info.ElementDataType switch
        {
            OrtElementType.Float => new Tensor<float>(shape, value.GetTensorDataAsSpan<float>().ToArray()),
            OrtElementType.Int64 => new Tensor<long>(shape, value.GetTensorDataAsSpan<long>().ToArray()),
            OrtElementType.Int32 => new Tensor<int>(shape, value.GetTensorDataAsSpan<int>().ToArray()),
            OrtElementType.Bool => new Tensor<bool>(shape, value.GetTensorDataAsSpan<bool>().ToArray()),
            OrtElementType.Double => new Tensor<double>(shape, value.GetTensorDataAsSpan<double>().ToArray()),
            OrtElementType.UInt8 => new Tensor<byte>(shape, value.GetTensorDataAsSpan<byte>().ToArray()),
            var other => throw new NotSupportedException($"Reading {other} outputs from ONNX Runtime is not supported."),
        };
    }
}
