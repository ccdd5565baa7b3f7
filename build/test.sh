#!/usr/bin/env bash
# The project's test command (README and .ci/run both call exactly this): builds every project in Release, runs the
# test suite, then prints the ONNX conformance summary (cases run and passed per operator).
# Needs ../shared/onnx-node-tests beside the clone (or DIRNET_ONNX_NODE_TESTS pointing at it).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build DirNet.sln -c Release
dotnet test tests/Microsoft.ML.DirNet.Tests -c Release --no-build
# The kernels have AVX-512, AVX2 and portable paths; whatever this CPU has, run the suite again with the wider
# instruction sets switched off so every path is checked. The checks of the samples' README numbers (a minute of
# compressing and evaluating, the same arithmetic on every path within their tolerance) run in the first pass only.
# That pass also sends every float array of every run through the native engine's arena (not only those of 64 KB
# and up), so that reuse across runs is checked on every model and operator of the suite.
echo "== again without AVX-512, every array through the arena =="
DIRNET_ARENA_MINIMUM_FLOATS=0 DOTNET_EnableAVX512F=0 dotnet test tests/Microsoft.ML.DirNet.Tests -c Release --no-build --filter "Category!=SampleReadme"
echo "== again without AVX =="
DOTNET_EnableAVX=0 dotnet test tests/Microsoft.ML.DirNet.Tests -c Release --no-build --filter "Category!=SampleReadme"
cat tests/Microsoft.ML.DirNet.Tests/bin/Release/net10.0/conformance-summary.txt
