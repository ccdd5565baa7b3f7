#!/usr/bin/env bash
# The project's main job on its embedded default, the shipped word language model (samples/LanguageModel/model.onnx,
# a 2-layer LSTM trained by the sample's own script): describe it; measure its perplexity on the first 5,000 test
# tokens in the native engine and in ONNX Runtime, and time both engines side by side; compress its recurrent weights
# 8x with DirNet into a compressed ONNX, measure its perplexity (the native engine runs its factors) and time it
# against the original in both engines; compare with the low-rank and LSTM-ODL baselines at
# the same size; then check both engines against PyTorch's own outputs on a PyTorch-exported fixture.
# Takes about 1.5 minutes on 2 cores after the build. Outputs go to artifacts/ (not tracked).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Microsoft.ML.DirNet.Cli -c Release --nologo -v quiet
dirnet() { dotnet src/Microsoft.ML.DirNet.Cli/bin/Release/net10.0/dirnet.dll "$@"; }
lm=samples/LanguageModel
mkdir -p artifacts
dirnet inspect "$lm/model.onnx"
dirnet eval "$lm/model.onnx" --task lm --data "$lm/data" --tokens 5000
dirnet eval "$lm/model.onnx" --task lm --data "$lm/data" --tokens 5000 --ort
dirnet bench "$lm/model.onnx" --steps 35
dirnet compress "$lm/model.onnx" -o artifacts/lm-dirnet-8x.onnx --method dirnet --ratio 8 --scope recurrent
dirnet eval artifacts/lm-dirnet-8x.onnx --task lm --data "$lm/data" --tokens 5000
dirnet bench "$lm/model.onnx" --compressed artifacts/lm-dirnet-8x.onnx --steps 35
dirnet compare "$lm/model.onnx" --task lm --data "$lm/data" --tokens 5000 --methods lowrank,odl --ratios 8
fixture=tests/Microsoft.ML.DirNet.Tests/Fixtures/lm_embedding_lstm_linear
dirnet run "$fixture/model.onnx" --data "$fixture/test_data_set_0"
dirnet run "$fixture/model.onnx" --data "$fixture/test_data_set_0" --ort
