namespace Microsoft.ML.DirNet.Weights;

/// <summary>What a compressible weight matrix does in its node.</summary>
public enum WeightRole
{
    /// <summary>W of an LSTM/GRU/RNN direction: multiplies the layer's input.</summary>
    RecurrentInput,
    /// <summary>R of an LSTM/GRU/RNN direction: multiplies the previous hidden state.</summary>
    RecurrentHidden,
    /// <summary>The constant B of MatMul(X, B) (a linear layer).</summary>
    MatMul,
    /// <summary>The constant B of Gemm (a linear layer).</summary>
    Gemm,
    /// <summary>The table of Gather(table, ids) (an embedding).</summary>
    Embedding,
    /// <summary>The filters W [M, C / group, k…] of Conv, as the matrix [M × (C / group)·Πk] that multiplies each window.</summary>
    Conv,
}
