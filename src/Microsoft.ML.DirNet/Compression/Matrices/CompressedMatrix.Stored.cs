namespace Microsoft.ML.DirNet.Compression;

// How a form is written to and read from a compressed ONNX: its factors (CompressedMatrix.Factors), the standard ops
// that rebuild the dense W from them (Rebuild), and a static Read in each form that MethodRegistry.StoredForms names.
public abstract partial class CompressedMatrix
{
    /// <summary>The oldest default-domain opset the rebuild ops exist in (TopK with largest/sorted, ScatterElements, ScatterND, CumSum, Range).</summary>
    internal const long MinimumRebuildOpset = 11;

    /// <summary>
    /// Adds the standard ONNX ops (opset <see cref="MinimumRebuildOpset"/> or later) that compute the dense W [Rows ×
    /// Columns] from the stored factors; returns W's name. Every input is a constant, so ONNX Runtime computes them once
    /// when it loads the model (constant folding), and with graph optimisations off still computes the same W per run.
    /// </summary>
    internal abstract string Rebuild(FactorGraph factors);
}
