namespace Microsoft.ML.DirNet.Weights;

/// <summary>One LSTM, GRU or RNN node of a model.</summary>
/// <param name="NodeName">The node.</param>
/// <param name="OpType">LSTM, GRU or RNN.</param>
/// <param name="Index">Its position among the model's recurrent nodes (0 = first).</param>
/// <param name="HiddenSize">Hidden units per direction.</param>
/// <param name="InputSize">Features of its input.</param>
/// <param name="Directions">1, or 2 when bidirectional.</param>
/// <param name="Direction">The <c>direction</c> attribute.</param>
/// <param name="HasBias">Whether it has a B input.</param>
public sealed record RecurrentLayer(
    string NodeName, string OpType, int Index, int HiddenSize, int InputSize, int Directions, string Direction, bool HasBias);
