using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels.ControlFlow;

/// <summary>
/// ONNX Scan: the body runs once per position along the scan axis of its <c>num_scan_inputs</c> scan inputs, taking the
/// N state values and one slice of each scan input, giving the next states and K scan output slices; the node's outputs
/// are the final states and the scan outputs stacked. From opset 9 the scan inputs and outputs have per-tensor axes and
/// directions; opset 8's Scan has a leading batch axis, an optional sequence_lens input (shorter sequences leave their
/// scan outputs zero past their end) and one direction per scan input.
/// </summary>
internal sealed class ScanKernel : IKernel
{
    private readonly GraphPlan _body;
    private readonly int _explicitCount;
    private readonly int _scanInputs;
    private readonly bool _batched;
    private readonly long[]? _inputAxes;
    private readonly long[]? _inputDirections;
    private readonly long[]? _outputAxes;
    private readonly long[]? _outputDirections;

    public ScanKernel(OnnxNode node, long opset)
    {
        _body = GraphPlan.ForSubgraph(node, "body", opset);
        _explicitCount = node.Inputs.Count;
        _scanInputs = (int)node.GetInt("num_scan_inputs", -1);
        _batched = opset < 9;
        _inputAxes = node.GetInts("scan_input_axes");
        _inputDirections = _batched ? node.GetInts("directions") : node.GetInts("scan_input_directions");
        _outputAxes = node.GetInts("scan_output_axes");
        _outputDirections = node.GetInts("scan_output_directions");
        if (_scanInputs < 1)
        {
            throw new ArgumentException("attribute 'num_scan_inputs' must be at least 1.");
        }

        if (_batched && (_inputAxes is not null || _outputAxes is not null || _outputDirections is not null))
        {
            throw new ArgumentException("opset 8's Scan has no scan_input_axes, scan_output_axes or scan_output_directions.");
        }
    }

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var first = _batched ? 1 : 0;
        var given = new Tensor[_explicitCount - first];
        for (var k = 0; k < given.Length; k++)
        {
            given[k] = KernelInputs.Required(inputs, first + k, $"input {first + k}");
        }

        var stateCount = given.Length - _scanInputs;
        var scanOutputs = outputs.Length - stateCount;
        if (stateCount < 0 || scanOutputs < 0 || _body.FormalInputCount != given.Length || _body.OutputInfos.Count != outputs.Length)
        {
            throw new ArgumentException($"the body takes {_body.FormalInputCount} inputs and gives {_body.OutputInfos.Count} outputs, where the node has "
                + $"{given.Length} state and scan inputs ({_scanInputs} scanned) and {outputs.Length} outputs.");
        }

        var directions = Attribute(_inputDirections, _scanInputs, "scan input directions", 0);
        if (!_batched)
        {
            var results = Run(inputs, given[..stateCount], given[stateCount..], Attribute(_inputAxes, _scanInputs, "scan_input_axes", 0), directions, null);
            for (var k = 0; k < outputs.Length; k++)
            {
                outputs[k] = results[k];
            }

            return;
        }

        // Opset 8: every input has a leading batch axis; each batch entry is scanned on its own along axis 0 of its slice.
        var batch = given[0].Rank > 0 ? given[0].Shape[0] : throw new ArgumentException("opset 8's Scan needs a leading batch axis.");
        var lengths = KernelInputs.Optional(inputs, 0) is { } l ? KernelInputs.Integers(l, "sequence_lens") : null;
        var perBatch = new List<Tensor[]>();
        for (var b = 0; b < batch; b++)
        {
            var slices = given.Select(t => Slice(t, 0, b, "the batch")).ToArray();
            perBatch.Add(Run(inputs, slices[..stateCount], slices[stateCount..], new long[_scanInputs], directions, lengths?[b]));
        }

        for (var k = 0; k < outputs.Length; k++)
        {
            var values = perBatch.Select(r => r[k]).ToList();
            if (k >= stateCount && lengths is not null)
            {
                // Shorter sequences' scan outputs are zero past their end, so every entry has the longest length.
                var longest = values.Max(v => v.Shape[0]);
                values = values.Select(v => PadFirstAxis(v, longest)).ToList();
            }

            outputs[k] = Stacking.Stack(values, 0, _body.OutputInfos[k], $"output {k}");
        }
    }

    /// <summary>One scan: the final states, then the scan outputs stacked.</summary>
    private Tensor[] Run(ReadOnlySpan<Tensor?> nodeInputs, Tensor[] states, Tensor[] scanned, long[] axes, long[] directions, long? length)
    {
        var steps = -1;
        var scanAxes = new int[scanned.Length];
        for (var j = 0; j < scanned.Length; j++)
        {
            scanAxes[j] = TensorShape.NormalizeAxis(axes[j], scanned[j].Rank, "scan_input_axes");
            var n = scanned[j].Shape[scanAxes[j]];
            if (steps >= 0 && n != steps)
            {
                throw new ArgumentException($"the scan inputs differ in length along their scan axes ({steps} and {n}).");
            }

            steps = n;
        }

        if (length is { } given)
        {
            steps = given >= 0 && given <= steps ? (int)given : throw new ArgumentException($"sequence length {given} is outside 0..{steps}.");
        }

        var scanCount = _body.OutputInfos.Count - states.Length;
        var outputsPerStep = Enumerable.Range(0, scanCount).Select(_ => new List<Tensor>()).ToArray();
        for (var t = 0; t < steps; t++)
        {
            var formal = new Tensor[states.Length + scanned.Length];
            states.CopyTo(formal, 0);
            for (var j = 0; j < scanned.Length; j++)
            {
                formal[states.Length + j] = Slice(scanned[j], scanAxes[j], directions[j] == 1 ? steps - 1 - t : t, $"scan input {j}");
            }

            var results = SubgraphRun.Run(_body, "body", nodeInputs, formal);
            results.AsSpan(0, states.Length).CopyTo(states);
            for (var k = 0; k < scanCount; k++)
            {
                outputsPerStep[k].Add(results[states.Length + k]);
            }
        }

        var outputAxes = Attribute(_outputAxes, scanCount, "scan_output_axes", 0);
        var outputDirections = Attribute(_outputDirections, scanCount, "scan_output_directions", 0);
        return states.Concat(outputsPerStep.Select((values, k) =>
        {
            if (outputDirections[k] == 1) values.Reverse();
            return Stacking.Stack(values, (int)outputAxes[k], _body.OutputInfos[states.Length + k], $"scan output {k}");
        })).ToArray();
    }

    /// <summary>Position <paramref name="index"/> of <paramref name="axis"/> of a tensor, that axis removed.</summary>
    private static Tensor Slice(Tensor t, int axis, int index, string what)
    {
        if (t.Rank <= axis || index >= t.Shape[axis])
        {
            throw new ArgumentException($"{what} {t} has no position {index} on axis {axis}.");
        }

        var strides = TensorShape.Strides(t.Shape);
        return StridedCopy.Copy(t, index * strides[axis], strides.Where((_, d) => d != axis).ToArray(), t.Shape.Where((_, d) => d != axis).ToArray());
    }

    private static Tensor PadFirstAxis(Tensor t, int length)
    {
        if (t.Shape[0] == length) return t;
        var padded = Tensor.Zeros(t.ElementType, [length, .. t.Shape[1..]]);
        t.AsBytes().CopyTo(padded.AsBytes());
        return padded;
    }

    private static long[] Attribute(long[]? given, int count, string name, long fallback) =>
        given is null ? Enumerable.Repeat(fallback, count).ToArray()
        : given.Length == count ? given
        : throw new ArgumentException($"attribute '{name}' holds {given.Length} values where {count} are needed.");
}
