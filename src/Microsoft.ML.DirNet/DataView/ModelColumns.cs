using Microsoft.ML.Data;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.DataView;

/// <summary>
/// How a model's ONNX inputs and outputs map to ML.NET columns: which column feeds which input and with what type and
/// shape, which column each output becomes. Checks schemas with ML.NET's own exception types and messages, and turns
/// a row's input values into tensors.
/// </summary>
internal sealed class ModelColumns
{
    /// <summary>An ONNX input fed by a column; <paramref name="Dimensions"/> holds null where the size is not fixed.</summary>
    public sealed record Input(string Column, OnnxValueInfo Value, TensorElementType ElementType, PrimitiveDataViewType ItemType, int?[] Dimensions)
    {
        /// <summary>The number of values a row holds when every dimension is fixed.</summary>
        public long? FixedLength => Dimensions.All(d => d.HasValue) ? Dimensions.Aggregate(1L, (a, d) => a * d!.Value) : null;

        /// <summary>The shape as the column is read: fixed sizes, and the model's symbols where they are open.</summary>
        public string ShapeText => "[" + string.Join(", ", Dimensions.Select((d, i) => d?.ToString() ?? Value.Dimensions?[i].ToString() ?? "?")) + "]";

        /// <summary>What the column must be, in words, for error messages.</summary>
        public string Expected => (FixedLength is { } n ? $"vector of {ItemType} with {n} values" : $"vector of {ItemType}") +
            $" (ONNX input '{Value.Name}', shape {ShapeText})";
    }

    /// <summary>An ONNX output written to a column of <paramref name="Type"/>.</summary>
    public sealed record Output(string Column, OnnxValueInfo Value, TensorElementType ElementType, VectorDataViewType Type);

    public ModelColumns(OnnxModel model, string[]? inputColumns, string[]? outputColumns, IDictionary<string, int[]>? shapes)
    {
        var inputs = model.Graph.Inputs;
        var outputs = model.Graph.Outputs;
        inputColumns ??= inputs.Select(i => i.Name).ToArray();
        outputColumns ??= outputs.Select(o => o.Name).ToArray();
        if (inputColumns.Length != inputs.Count)
        {
            throw new ArgumentException($"'{model.SourceName}' has {inputs.Count} inputs ({string.Join(", ", inputs.Select(i => i.Name))}); {inputColumns.Length} input column names were given.", nameof(inputColumns));
        }

        if (outputColumns.Length != outputs.Count)
        {
            throw new ArgumentException($"'{model.SourceName}' has {outputs.Count} outputs ({string.Join(", ", outputs.Select(o => o.Name))}); {outputColumns.Length} output column names were given.", nameof(outputColumns));
        }

        var unknownShapes = (shapes?.Keys ?? []).Where(name => inputs.All(i => i.Name != name)).ToArray();
        if (unknownShapes.Length > 0)
        {
            throw new ArgumentException($"The shape dictionary names '{string.Join("', '", unknownShapes)}', which '{model.SourceName}' has no input called; its inputs are {string.Join(", ", inputs.Select(i => i.Name))}.", nameof(shapes));
        }

        Inputs = inputs.Select((value, i) => new Input(inputColumns[i], value, ElementTypeOf(model, value), ItemTypeOf(model, value), DimensionsOf(value, shapes))).ToArray();
        Outputs = outputs.Select((value, i) => new Output(outputColumns[i], value, ElementTypeOf(model, value), OutputType(model, value))).ToArray();
    }

    public IReadOnlyList<Input> Inputs { get; }

    public IReadOnlyList<Output> Outputs { get; }

    /// <summary>Checks the input columns' presence, kind and item type (all a <see cref="SchemaShape"/> tells).</summary>
    public void Check(SchemaShape schema) => Check(name => schema.FirstOrDefault(c => c.Name == name) is { Name: not null } column
        ? new ColumnFacts(column.Kind == SchemaShape.Column.VectorKind.Scalar, column.ItemType, null)
        : null);

    /// <summary>Checks the input columns against <paramref name="schema"/>, sizes included where both are known.</summary>
    public void Check(DataViewSchema schema) => Check(name => schema.GetColumnOrNull(name) is { } column
        ? column.Type is VectorDataViewType vector
            ? new ColumnFacts(false, vector.ItemType, vector.IsKnownSize ? vector.Size : null)
            : new ColumnFacts(true, column.Type, null)
        : null);

    /// <summary>What a schema tells of a column: scalar or vector, item type, and the vector's size where known.</summary>
    private sealed record ColumnFacts(bool IsScalar, DataViewType ItemType, int? Size)
    {
        public override string ToString() => IsScalar ? $"{ItemType}" : Size is { } n ? $"vector of {ItemType} with {n} values" : $"vector of {ItemType}";
    }

    private void Check(Func<string, ColumnFacts?> find)
    {
        foreach (var input in Inputs)
        {
            var column = find(input.Column)
                ?? throw new ArgumentOutOfRangeException("inputSchema", $"Could not find input column '{input.Column}': expected {input.Expected}.");
            var fits = (!column.IsScalar || input.FixedLength == 1) && column.ItemType.Equals(input.ItemType)
                && (column.Size is null || input.FixedLength is null || column.Size == input.FixedLength);
            if (!fits)
            {
                throw new ArgumentOutOfRangeException("inputSchema", $"Schema mismatch for input column '{input.Column}': expected {input.Expected}, got {column}.");
            }
        }
    }

    /// <summary>The input schema followed by one column per output (hiding input columns of the same name).</summary>
    public DataViewSchema OutputSchema(DataViewSchema input)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        foreach (var output in Outputs)
        {
            builder.AddColumn(output.Column, output.Type);
        }

        return builder.ToSchema();
    }

    /// <summary>The schema shape <see cref="OutputSchema"/> will have.</summary>
    /// <remarks>
    /// ML.NET keeps SchemaShape's column constructor internal, so each output column comes from a custom-mapping
    /// estimator's <c>GetOutputSchema</c>, used only for the shape: it maps no input column to one column whose name and
    /// type are set through a schema definition.
    /// </remarks>
    public SchemaShape OutputShape(SchemaShape input)
    {
        var mlContext = new MLContext();
        var shape = input;
        foreach (var output in Outputs)
        {
            shape = output.ElementType switch
            {
                TensorElementType.Float => AddColumn<float>(mlContext, shape, output),
                TensorElementType.Double => AddColumn<double>(mlContext, shape, output),
                TensorElementType.Int64 => AddColumn<long>(mlContext, shape, output),
                _ => AddColumn<int>(mlContext, shape, output),
            };
        }

        return shape;
    }

    private static SchemaShape AddColumn<T>(MLContext mlContext, SchemaShape shape, Output output)
    {
        var definition = SchemaDefinition.Create(typeof(ShapeOnlyColumn<T>));
        definition[0].ColumnName = output.Column;
        definition[0].ColumnType = output.Type;
        return mlContext.Transforms.CustomMapping<NoColumns, ShapeOnlyColumn<T>>((_, _) => { }, contractName: null,
            inputSchemaDefinition: SchemaDefinition.Create(typeof(NoColumns)), outputSchemaDefinition: definition).GetOutputSchema(shape);
    }

    /// <summary>The input side of the shape-only mapping: no columns.</summary>
    private sealed class NoColumns;

    /// <summary>The output side of the shape-only mapping: one vector column, named and typed by its schema definition.</summary>
    private sealed class ShapeOnlyColumn<T>
    {
        public T[] Values { get; set; } = [];
    }

    /// <summary>One function per model input that reads the current value of <paramref name="row"/> as a tensor.</summary>
    public Func<Tensor>[] Readers(DataViewRow row) => Inputs.Select(input =>
    {
        var column = row.Schema[input.Column];
        return input.ElementType switch
        {
            TensorElementType.Float => Reader<float>(row, column, input),
            TensorElementType.Double => Reader<double>(row, column, input),
            TensorElementType.Int64 => Reader<long>(row, column, input),
            _ => Reader<int>(row, column, input),
        };
    }).ToArray();

    /// <summary>Every row of <paramref name="data"/> (up to <paramref name="limit"/>) as model inputs.</summary>
    public List<Tensor[]> ReadRows(IDataView data, int limit)
    {
        var rows = new List<Tensor[]>();
        using var cursor = data.GetRowCursor(Inputs.Select(i => data.Schema[i.Column]));
        var readers = Readers(cursor);
        while (rows.Count < limit && cursor.MoveNext())
        {
            rows.Add(readers.Select(read => read()).ToArray());
        }

        return rows;
    }

    private static Func<Tensor> Reader<T>(DataViewRow row, DataViewSchema.Column column, Input input) where T : unmanaged
    {
        if (column.Type is VectorDataViewType)
        {
            var getter = row.GetGetter<VBuffer<T>>(column);
            VBuffer<T> buffer = default;
            return () =>
            {
                getter(ref buffer);
                var values = buffer.DenseValues().ToArray();
                return new Tensor<T>(Shape(input, values.Length), values);
            };
        }

        var scalar = row.GetGetter<T>(column);
        return () =>
        {
            T value = default;
            scalar(ref value);
            return new Tensor<T>(Shape(input, 1), [value]);
        };
    }

    /// <summary>The tensor shape of a row of <paramref name="length"/> values: the fixed dimensions, and the one unknown one inferred.</summary>
    private static int[] Shape(Input input, int length)
    {
        var unknown = input.Dimensions.Count(d => d is null);
        var known = input.Dimensions.Aggregate(1L, (a, d) => a * (d ?? 1));
        if (unknown > 1)
        {
            throw new ModelInputException(input.Value.Name,
                $"ONNX input '{input.Value.Name}' (column '{input.Column}') has shape {input.ShapeText} with {unknown} dimensions that are not fixed; give its shape in the shape dictionary, e.g. {{ [\"{input.Value.Name}\"] = [...] }}.");
        }

        if (unknown == 0 ? known != length : known == 0 || length % known != 0 || length == 0)
        {
            throw new ModelInputException(input.Value.Name,
                $"Column '{input.Column}' holds {length} values; ONNX input '{input.Value.Name}' of shape {input.ShapeText} needs " +
                (unknown == 0 ? $"{known}." : $"a positive multiple of {known}."));
        }

        return input.Dimensions.Select(d => d ?? (int)(length / known)).ToArray();
    }

    /// <summary>
    /// The input's dimensions: the shape dictionary's entry where there is one (−1 leaves a symbolic dimension open, to
    /// follow from each row's length), else the declared ones, null where not fixed.
    /// </summary>
    private static int?[] DimensionsOf(OnnxValueInfo value, IDictionary<string, int[]>? shapes)
    {
        if (shapes is not null && shapes.TryGetValue(value.Name, out var shape))
        {
            var declared = value.Dimensions;
            var fits = (declared is null || declared.Count == shape.Length)
                && shape.Select((d, i) => d > 0 ? declared?[i].Value is not { } size || size == d : d == -1 && declared?[i].Value is null).All(ok => ok);
            if (!fits)
            {
                throw new ArgumentException($"The shape dictionary gives ONNX input '{value.Name}' the shape [{string.Join(", ", shape)}], which does not fit its declared shape {value.ShapeText} (sizes must be positive, or -1 for a dimension the model leaves open).", nameof(shapes));
            }

            return shape.Select(d => d > 0 ? (int?)d : null).ToArray();
        }

        return value.Dimensions?.Select(d => d.Value is { } size ? (int?)size : null).ToArray() ?? [null];
    }

    private static TensorElementType ElementTypeOf(OnnxModel model, OnnxValueInfo value) =>
        value.ElementType is TensorElementType.Float or TensorElementType.Double or TensorElementType.Int64 or TensorElementType.Int32
            ? value.ElementType.Value
            : throw new DirNetException($"'{model.SourceName}': '{value.Name}' is {value.ElementType?.ToString() ?? "not a tensor"}; ML.NET columns here can be float, double, int64 or int32 tensors.");

    private static PrimitiveDataViewType ItemTypeOf(OnnxModel model, OnnxValueInfo value) => ElementTypeOf(model, value) switch
    {
        TensorElementType.Float => NumberDataViewType.Single,
        TensorElementType.Double => NumberDataViewType.Double,
        TensorElementType.Int64 => NumberDataViewType.Int64,
        _ => NumberDataViewType.Int32,
    };

    /// <summary>A vector of fixed dimensions where the model fixes them all; otherwise of variable size.</summary>
    private static VectorDataViewType OutputType(OnnxModel model, OnnxValueInfo value)
    {
        var itemType = ItemTypeOf(model, value);
        return value.Dimensions is { Count: > 0 } dims && dims.All(d => d.Value is > 0)
            ? new VectorDataViewType(itemType, dims.Select(d => (int)d.Value!.Value).ToArray())
            : new VectorDataViewType(itemType);
    }
}
