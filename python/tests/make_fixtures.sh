#!/usr/bin/env bash
# Makes tests/Microsoft.ML.DirNet.Tests/Fixtures/fine_tuning: two PyTorch fixtures (the LSTM language model and the
# bidirectional-GRU CTC model) compressed by `dirnet compress` with every method (and DirNet with float16 factors),
# each also written with --dense (the same weights as plain initializers), and each fine-tuned by dirnet_torch
# (fine_tune_fixtures.py: distillation towards the original's outputs). Needs Debian's python3-torch and python3-onnx.
#   bash python/tests/make_fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
fixtures=tests/Microsoft.ML.DirNet.Tests/Fixtures
out=$fixtures/fine_tuning
rm -rf "$out" && mkdir -p "$out"
dotnet build src/Microsoft.ML.DirNet.Cli -c Release --nologo -v quiet
dirnet() { dotnet src/Microsoft.ML.DirNet.Cli/bin/Release/net10.0/dirnet.dll "$@"; }
for fixture in lm_embedding_lstm_linear asr_bigru_ctc; do
  for variant in dirnet hmd lowrank prune dirnet-fp16 dirnet-int8 hmd-int8; do
    method=${variant%-*}
    precision=fp32; [[ $variant == *-* ]] && precision=${variant#*-}
    for form in "" --dense; do
      name=$out/${fixture}.${variant}${form:+.dense}.onnx
      dirnet compress "$fixtures/$fixture/model.onnx" -o "$name" --method "$method" --ratio 3 --scope recurrent \
        --precision "$precision" --seed 0 $form > /dev/null
    done
  done
done
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 python/tests/fine_tune_fixtures.py "$out"
