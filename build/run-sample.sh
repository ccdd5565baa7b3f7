#!/usr/bin/env bash
# The project's main job on its embedded default: inspect a shipped PyTorch-exported language model (Embedding ->
# 2-layer LSTM -> Linear -> log_softmax), run it natively and through ONNX Runtime on inputs whose PyTorch outputs are
# stored beside it (each run prints the largest difference from PyTorch), then time both engines side by side.
# Pass another model folder (model.onnx + test_data_set_0/) as $1 to do the same on it.
set -euo pipefail
cd "$(dirname "$0")/.."
folder="${1:-tests/Microsoft.ML.DirNet.Tests/Fixtures/lm_embedding_lstm_linear}"
dotnet build src/Microsoft.ML.DirNet.Cli -c Release --nologo -v quiet
dirnet() { dotnet src/Microsoft.ML.DirNet.Cli/bin/Release/net10.0/dirnet.dll "$@"; }
dirnet inspect "$folder/model.onnx"
dirnet run "$folder/model.onnx" --data "$folder/test_data_set_0"
dirnet run "$folder/model.onnx" --data "$folder/test_data_set_0" --ort
dirnet bench "$folder/model.onnx" --data "$folder/test_data_set_0"
