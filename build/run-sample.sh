#!/usr/bin/env bash
# The project's main job on its embedded default: the language-model sample (samples/LanguageModel), a Model Builder
# style console app that compresses the shipped 2-layer LSTM word language model in an ML.NET pipeline with
# .CompressRnn() (DirNet, HMD, low-rank and pruning at 4x and 8x on the LSTM weights, DirNet 8x with int8 factors, the
# int8 baseline, and int4 and int3 per group), exports each compressed ONNX, and prints one table of size, per-token latency (native engine and
# ONNX Runtime side by side) and perplexity on 5,000 test tokens before and after, with a plot
# (artifacts/samples/LanguageModel/lm-compression.png); then checks both engines against PyTorch's own outputs on a
# PyTorch-exported fixture. Takes about 3 minutes on 2 cores after the build. Outputs go to artifacts/ (not tracked).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build samples/LanguageModel -c Release --nologo -v quiet
dotnet build src/Microsoft.ML.DirNet.Cli -c Release --nologo -v quiet
dotnet run --project samples/LanguageModel -c Release --no-build
dirnet() { dotnet src/Microsoft.ML.DirNet.Cli/bin/Release/net10.0/dirnet.dll "$@"; }
fixture=tests/Microsoft.ML.DirNet.Tests/Fixtures/lm_embedding_lstm_linear
dirnet run "$fixture/model.onnx" --data "$fixture/test_data_set_0"
dirnet run "$fixture/model.onnx" --data "$fixture/test_data_set_0" --ort
