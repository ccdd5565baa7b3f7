#!/usr/bin/env bash
# A long run of the mutation fuzzers (tests/Microsoft.ML.DirNet.Tests/ModelFuzzingTests.cs): ITERATIONS mutants of the
# committed fixtures' models, and as many of their input tensor files, per seed, for each seed given (default: seeds
# 1-5, 200,000 mutants each). The test suite itself runs 600 of each with one seed. Every mutant must fail with a clear error or run; a
# mutant that escapes with another exception is saved under the temporary folder the failure message names.
#   bash build/fuzz.sh [ITERATIONS] [SEED ...]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-200000}
shift || true
seeds=("${@:-1 2 3 4 5}")
dotnet build tests/Microsoft.ML.DirNet.Tests -c Release --nologo -v quiet
for seed in ${seeds[@]}; do
  DIRNET_FUZZ_SEED=$seed DIRNET_FUZZ_ITERATIONS=$iterations dotnet test tests/Microsoft.ML.DirNet.Tests -c Release --no-build \
    --filter "FullyQualifiedName~ModelFuzzingTests.Mutated" --logger "console;verbosity=detailed" | grep -E "mutated|escaped|iteration|Passed!|Failed!"
done
