using Microsoft.ML.Data;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.DataView;

/// <summary>
/// Runs the native model on the current row of an input row or cursor, once per row position however many output
/// getters ask, and serves the outputs as column getters. One per row or cursor: not shared between threads.
/// </summary>
internal sealed class RowScorer
{
    private readonly NativeModel _model;
    private readonly ModelColumns _columns;
    private readonly DataViewRow _input;
    private Func<Tensor>[]? _readers;
    private long _scoredPosition = -1;
    private Tensor[] _outputs = [];

    public RowScorer(NativeModel model, ModelColumns columns, DataViewRow input)
    {
        _model = model;
        _columns = columns;
        _input = input;
    }

    /// <summary>A getter of output <paramref name="index"/> as <typeparamref name="TValue"/> (a VBuffer of the output's item type).</summary>
    public ValueGetter<TValue> Getter<TValue>(int index)
    {
        var output = _columns.Outputs[index];
        Delegate getter = output.ElementType switch
        {
            TensorElementType.Float => VectorGetter<float>(index),
            TensorElementType.Double => VectorGetter<double>(index),
            TensorElementType.Int64 => VectorGetter<long>(index),
            _ => VectorGetter<int>(index),
        };
        return getter as ValueGetter<TValue>
            ?? throw new InvalidOperationException($"Invalid TValue in GetGetter: column '{output.Column}' is {output.Type}, asked for {typeof(TValue)}.");
    }

    private ValueGetter<VBuffer<T>> VectorGetter<T>(int index) where T : unmanaged => (ref VBuffer<T> destination) =>
    {
        var values = Output(index).As<T>().Data;
        var editor = VBufferEditor.Create(ref destination, values.Length);
        values.CopyTo(editor.Values);
        destination = editor.Commit();
    };

    private Tensor Output(int index)
    {
        if (_scoredPosition != _input.Position)
        {
            _readers ??= _columns.Readers(_input);
            _outputs = _model.Run(_readers.Select(read => read()).ToArray());
            _scoredPosition = _input.Position;
        }

        return _outputs[index];
    }
}
