using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Numerics.Simd;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Runtime.Kernels;

/// <summary>
/// ONNX Softmax and LogSoftmax on float32. From opset 13 they normalise along one axis (default -1); before, the input
/// is viewed as 2-D at <c>axis</c> (default 1) and each row of the flattened inner part is normalised.
/// </summary>
internal sealed class SoftmaxKernel : IKernel
{
    private readonly bool _log;
    private readonly long _axis;
    private readonly bool _coerceTo2D;

    public SoftmaxKernel(OnnxNode node, long opset, bool log)
    {
        _log = log;
        _coerceTo2D = opset < 13;
        _axis = node.GetInt("axis", _coerceTo2D ? 1 : -1);
    }

    public void Execute(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = KernelInputs.RequiredFloat(inputs, 0, "input");
        var y = new Tensor<float>(x.Shape);
        outputs[0] = y;
        if (x.Length == 0)
        {
            return;
        }

        var axis = TensorShape.NormalizeAxis(_axis, System.Math.Max(x.Rank, 1), "axis");
        int outer = 1, length = 1, inner = 1;
        for (var d = 0; d < x.Rank; d++)
        {
            if (d < axis) outer *= x.Shape[d];
            else if (d == axis || _coerceTo2D) length *= x.Shape[d];
            else inner *= x.Shape[d];
        }

        if (inner == 1)
        {
            // The usual case (last axis): each row is contiguous and is normalised straight into the output.
            for (var o = 0; o < outer; o++)
            {
                Normalize(x.Data.AsSpan(o * length, length), y.Data.AsSpan(o * length, length));
            }

            return;
        }

        var row = new float[length];
        for (var o = 0; o < outer; o++)
        {
            for (var i = 0; i < inner; i++)
            {
                var start = o * length * inner + i;
                for (var k = 0; k < length; k++) row[k] = x.Data[start + k * inner];
                Normalize(row, row);
                for (var k = 0; k < length; k++) y.Data[start + k * inner] = row[k];
            }
        }
    }

    /// <summary>Normalises <paramref name="row"/> into <paramref name="result"/> (which may be the same span).</summary>
    private void Normalize(ReadOnlySpan<float> row, Span<float> result)
    {
        // Subtracting the maximum keeps exp from overflowing on large logits.
        var max = TensorPrimitives.Max(row);
        if (_log)
        {
            // log softmax = (x − max) − log Σ e^(x − max), kept in the log domain so tiny probabilities keep precision
            // (and in that order: max + log Σ first would round away the small terms next to large logits); the
            // exponentials are only summed, never stored.
            var logSum = MathF.Log(FastExp.SumShifted(row, max));
            var subtraction = new TwoSubtractions(row, max, logSum, result);
            LaneKernel.Run(ref subtraction, LaneLadder.Widest);
        }
        else
        {
            TensorPrimitives.Multiply(result, 1f / FastExp.ExpShifted(row, max, result), result);
        }
    }

    /// <summary>y = (x − a) − b in one pass, rounding after each subtraction as two passes would.</summary>
    private readonly ref struct TwoSubtractions(ReadOnlySpan<float> x, float a, float b, Span<float> y) : ILaneKernel
    {
        private readonly ReadOnlySpan<float> _x = x;
        private readonly Span<float> _y = y;

        public int Run<TLanes, TFloat, TUInt>(int start)
            where TLanes : struct, ILanes<TFloat, TUInt>
        {
            // Locals, not fields, in the loop: the JIT reloads a field of this after every store.
            ref var source = ref MemoryMarshal.GetReference(_x);
            ref var target = ref MemoryMarshal.GetReference(_y);
            var last = _x.Length - TLanes.Count;
            var (first, second) = (TLanes.Broadcast(a), TLanes.Broadcast(b));
            var i = start;
            for (; i <= last; i += TLanes.Count)
            {
                TLanes.Store(TLanes.Subtract(TLanes.Subtract(TLanes.Load(ref Unsafe.Add(ref source, (nuint)i)), first), second), ref Unsafe.Add(ref target, (nuint)i));
            }

            return i;
        }
    }
}
