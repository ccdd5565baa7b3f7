namespace Microsoft.ML.DirNet.Tensors;

/// <summary>
/// A model that maps input tensors (in the model's input order) to output tensors: the native engine or ONNX Runtime.
/// Evaluations and benchmarks take this, so one procedure runs on either engine; it sits with the tensors, beneath the
/// engines, so that calibration can run a model without naming one.
/// </summary>
public interface ITensorModel
{
    /// <summary>Runs the model on inputs in the model's order; returns the outputs in the model's order.</summary>
    Tensor[] Run(params Tensor[] inputs);
}
