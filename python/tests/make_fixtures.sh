#!/usr/bin/env bash
# Makes tests/Microsoft.ML.DirNet.Tests/Fixtures/fine_tuning: two PyTorch fixtures (the LSTM language model and the
# bidirectional-GRU CTC model) compressed by `dirnet compress` with every method (DirNet also with float16 and int8
# factors, HMD with int8; and the per-group low-bit precisions: the quant method at int4, low-rank at int3, DirNet at
# ternary, HMD at int2; and auto at 8x, which mixes precisions per matrix), each also written with --dense (the same weights as plain initializers), and each fine-tuned
# by dirnet_torch (fine_tune_fixtures.py: distillation towards the original's outputs). Needs Debian's python3-torch
# and python3-onnx.
#   bash python/tests/make_fixtures.sh                       # remakes the whole folder
#   bash python/tests/make_fixtures.sh quant-int4 hmd-int2   # (re)makes these variants only, leaving the others as they are
# The compressor's fits change between versions (DirNet's did after the low-bit precisions came), so remaking the whole
# folder rewrites files the tests already pass on; add new variants by name instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
fixtures=tests/Microsoft.ML.DirNet.Tests/Fixtures
out=$fixtures/fine_tuning
all=(dirnet hmd lowrank prune dirnet-fp16 dirnet-int8 hmd-int8 quant-int4 lowrank-int3 dirnet-ternary hmd-int2 auto)
variants=("${@:-${all[@]}}")
[[ $# -eq 0 ]] && rm -rf "$out"
mkdir -p "$out"
dotnet build src/Microsoft.ML.DirNet.Cli -c Release --nologo -v quiet
dirnet() { dotnet src/Microsoft.ML.DirNet.Cli/bin/Release/net10.0/dirnet.dll "$@"; }
for fixture in lm_embedding_lstm_linear asr_bigru_ctc; do
  for variant in "${variants[@]}"; do
    method=${variant%-*}
    precision=fp32; [[ $variant == *-* ]] && precision=${variant#*-}
    # auto chooses each matrix's precision itself; at 8x it mixes low-bit precisions and groups in one file
    shape=(--ratio 3 --precision "$precision"); [[ $method == auto ]] && shape=(--ratio 8)
    for form in "" --dense; do
      name=$out/${fixture}.${variant}${form:+.dense}.onnx
      dirnet compress "$fixtures/$fixture/model.onnx" -o "$name" --method "$method" "${shape[@]}" --scope recurrent \
        --seed 0 $form > /dev/null
    done
  done
done
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 python/tests/fine_tune_fixtures.py "$out" "${variants[@]}"
