using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>How one ONNX backend node-test case relates to the engine.</summary>
internal enum CaseStatus
{
    /// <summary>Every op in the case is declared by the engine: it must pass.</summary>
    Claimed,

    /// <summary>
    /// The case's ops are declared but it needs a feature the engine refuses by design (string tensors, random
    /// training-mode dropout, sequence or optional values): the engine must reject it with a clear <see cref="DirNetException"/>.
    /// </summary>
    Refused,

    /// <summary>The case uses an op the engine does not declare: not run.</summary>
    NotClaimed,
}

/// <summary>One case folder of ../shared/onnx-node-tests: classification and execution.</summary>
internal sealed record ConformanceCase(string Name, string Folder)
{
    /// <summary>Cases whose expected outputs come from numpy's random generator (training-mode dropout masks).</summary>
    private static readonly string[] RandomTrainingCases =
        ["test_training_dropout", "test_training_dropout_default", "test_training_dropout_default_mask", "test_training_dropout_mask"];

    public static IReadOnlyList<ConformanceCase> All()
    {
        var root = TestPaths.OnnxNodeTests;
        return Directory.Exists(root)
            ? Directory.GetDirectories(root).Order(StringComparer.Ordinal)
                .Select(d => new ConformanceCase(Path.GetFileName(d), d)).ToArray()
            : [];
    }

    /// <summary>The sorted op types of the case's graph, joined by '+' (one name for single-op cases).</summary>
    public string Operators => string.Join("+", Model.Graph.Nodes.Select(n => n.OpType).Distinct().Order(StringComparer.Ordinal));

    public OnnxModel Model => _model ??= OnnxModel.Load(Path.Combine(Folder, "model.onnx"));

    private OnnxModel? _model;

    public CaseStatus Status
    {
        get
        {
            if (NativeModel.FindUnsupportedOperators(Model).Count > 0)
            {
                return CaseStatus.NotClaimed;
            }

            var usesNonTensors = Model.Graph.Inputs.Concat(Model.Graph.Outputs).Any(v => !v.IsTensor);
            var usesStrings = Model.Graph.Inputs.Concat(Model.Graph.Outputs).Any(v => v.ElementTypeCode == 8)
                || Model.Graph.Nodes.Any(n => n.OpType == "Cast" && n.GetInt("to", 0) == 8);
            return usesNonTensors || usesStrings || RandomTrainingCases.Contains(Name) || DataContradictsModel()
                ? CaseStatus.Refused
                : CaseStatus.Claimed;
        }
    }

    /// <summary>
    /// True when an input file's shape contradicts a fixed dimension the model declares (two castlike cases of ONNX
    /// 1.12 do); the engine rejects such an input, as ONNX Runtime does.
    /// </summary>
    private bool DataContradictsModel()
    {
        var inputs = TensorFile.ReadSeries(Path.Combine(Folder, "test_data_set_0"), "input");
        return inputs.Zip(Model.Graph.Inputs).Any(pair => pair.Second.Dimensions is { } dims &&
            (dims.Count != pair.First.Rank || dims.Where((d, i) => d.Value is { } v && v != pair.First.Shape[i]).Any()));
    }

    /// <summary>Runs the case natively; returns null when every output matches, else a description of the mismatch.</summary>
    public string? RunAndCompare()
    {
        var dataFolder = Path.Combine(Folder, "test_data_set_0");
        var inputs = AsDeclared(TensorFile.ReadSeries(dataFolder, "input"), Model.Graph.Inputs);
        var expected = AsDeclared(TensorFile.ReadSeries(dataFolder, "output"), Model.Graph.Outputs);
        var actual = new NativeModel(Model).Run(inputs);
        if (actual.Length < expected.Length)
        {
            return $"produced {actual.Length} outputs, expected {expected.Length}";
        }

        for (var k = 0; k < expected.Length; k++)
        {
            if (!TensorComparer.AreClose(actual[k], expected[k]))
            {
                return $"output {k}: got {actual[k]}, expected {expected[k]}, max |diff| {TensorComparer.MaxAbsoluteDifference(actual[k], expected[k]):G4}";
            }
        }

        return null;
    }

    /// <summary>
    /// ONNX 1.12 writes bfloat16 test data as UINT16 tensors of the same bits (numpy has no bfloat16); read them as
    /// the bfloat16 values the model declares.
    /// </summary>
    private static Tensor[] AsDeclared(Tensor[] tensors, IReadOnlyList<OnnxValueInfo> declared) =>
        tensors.Select((t, k) => t is Tensor<ushort> bits && k < declared.Count && declared[k].ElementType == TensorElementType.BFloat16
            ? new Tensor<BFloat16>(bits.Shape, bits.Data.Select(b => new BFloat16(b)).ToArray())
            : t).ToArray();
}
