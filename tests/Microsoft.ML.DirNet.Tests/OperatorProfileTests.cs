using Microsoft.ML.DirNet.Benchmarking;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>Reading ONNX Runtime's own profile: kernel times per node, the last runs only, as medians.</summary>
public sealed class OperatorProfileTests
{
    [Fact]
    public void KernelTimesAreMediansOfTheLastRunsPerNode()
    {
        const string profile = """
            [
              {"cat": "Session", "name": "model_run", "dur": 9000},
              {"cat": "Node", "name": "/lstm/LSTM_fence_before", "dur": 0, "args": {"op_name": "LSTM"}},
              {"cat": "Node", "name": "/lstm/LSTM_kernel_time", "dur": 1000, "args": {"op_name": "LSTM"}},
              {"cat": "Node", "name": "/decoder/Gemm_kernel_time", "dur": 400, "args": {"op_name": "Gemm"}},
              {"cat": "Node", "name": "/lstm/LSTM_kernel_time", "dur": 3000, "args": {"op_name": "LSTM"}},
              {"cat": "Node", "name": "/decoder/Gemm_kernel_time", "dur": 500, "args": {"op_name": "Gemm"}},
              {"cat": "Node", "name": "/lstm/LSTM_kernel_time", "dur": 2000, "args": {"op_name": "LSTM"}},
              {"cat": "Node", "name": "/decoder/Gemm_kernel_time", "dur": 700, "args": {"op_name": "Gemm"}}
            ]
            """;
        var times = OperatorProfile.ParseKernelTimes(profile, runs: 2);
        Assert.Equal(["/decoder/Gemm", "/lstm/LSTM"], times.Keys.Order());
        Assert.Equal(("LSTM", 2.5), times["/lstm/LSTM"]); // the first (warm-up) run's 1 ms is left out
        Assert.Equal(("Gemm", 0.6), times["/decoder/Gemm"]);
    }
}
