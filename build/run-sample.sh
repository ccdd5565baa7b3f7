#!/usr/bin/env bash
# The project's main job on its embedded default, the shipped word language model (samples/LanguageModel/model.onnx,
# a 2-layer LSTM trained by the sample's own script): describe it, measure its perplexity on the first 5,000 test
# tokens in the native engine and in ONNX Runtime, and time both engines side by side; then check both engines against
# PyTorch's own outputs on a PyTorch-exported fixture (each `run` prints its largest difference from PyTorch).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Microsoft.ML.DirNet.Cli -c Release --nologo -v quiet
dirnet() { dotnet src/Microsoft.ML.DirNet.Cli/bin/Release/net10.0/dirnet.dll "$@"; }
lm=samples/LanguageModel
dirnet inspect "$lm/model.onnx"
dirnet eval "$lm/model.onnx" --task lm --data "$lm/data" --tokens 5000
dirnet eval "$lm/model.onnx" --task lm --data "$lm/data" --tokens 5000 --ort
dirnet bench "$lm/model.onnx" --steps 35
fixture=tests/Microsoft.ML.DirNet.Tests/Fixtures/lm_embedding_lstm_linear
dirnet run "$fixture/model.onnx" --data "$fixture/test_data_set_0"
dirnet run "$fixture/model.onnx" --data "$fixture/test_data_set_0" --ort
