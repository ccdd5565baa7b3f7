using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Operators;

/// <summary>
/// Matrices over consecutive [rows, columns] blocks of a weight that reached a node as a tensor (a recurrent W or R
/// per direction, a Conv's filters per group), kept for the next run when the weight is a constant: it arrives as the
/// same tensor every run, and its matrices keep their packed forms and int8 row scales, which would otherwise be made
/// again per run. Replaced whole, so concurrent runs see one or the other.
/// </summary>
internal sealed class WeightViews
{
    private View? _last;

    /// <summary>
    /// The <paramref name="count"/> matrices over <paramref name="tensor"/>, block i at i · rows · columns; kept for the
    /// next run only when the tensor is a model's constant (<see cref="Numerics.ConstantArrays"/>): a caller's tensor
    /// may be the same object with other values next time.
    /// </summary>
    public CompressedMatrix[] For(Tensor<float> tensor, int count, int rows, int columns)
    {
        if (_last is { } view && ReferenceEquals(view.Source, tensor))
        {
            return view.Matrices;
        }

        var matrices = Enumerable.Range(0, count).Select(i => (CompressedMatrix)new DenseMatrix(tensor.Data, i * rows * columns, rows, columns)).ToArray();
        if (Numerics.ConstantArrays.Contains(tensor.Data))
        {
            _last = new View(tensor, matrices);
        }

        return matrices;
    }

    private sealed record View(Tensor<float> Source, CompressedMatrix[] Matrices);
}
