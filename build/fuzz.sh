#!/usr/bin/env bash
# A long run of the mutation fuzzers, for each seed given (default: seeds 1-5):
#  - the byte-level fuzzers (tests/Microsoft.ML.DirNet.Tests/ModelFuzzingTests.cs): ITERATIONS mutants of the committed
#    fixtures' models, and as many of their input tensor files, per seed (default 200,000 each);
#  - the protobuf-field-aware fuzzer (tests/Microsoft.ML.DirNet.Tests/StructuredFuzzingTests.cs, mutations in
#    OnnxFieldMutator.cs): STRUCTURED_ITERATIONS mutants per seed (default 20,000, about 10 minutes a seed on 2 cores;
#    each mutant is also compressed twice, so it costs far more than a byte-level one). It runs under a 4 GiB GC heap
#    limit (DOTNET_GCHeapHardLimit), so a runaway allocation is an OutOfMemoryException finding rather than the OOM
#    killer, with a 10 s limit per mutant (DIRNET_FUZZ_TIMEOUT_SECONDS). Its findings are grouped by exception type and
#    top library frame, one mutant per group saved under $DIRNET_FUZZ_FINDINGS/seed-S (default: a new temporary
#    folder, printed below).
# The test suite itself runs 600 of each byte-level kind and 1,000 structured mutants, with one seed each. Every mutant
# must fail with a clear error (a DirNetException) or run; a mutant that escapes with another exception is saved under
# the folder the failure message names. Every seed runs even after a failing one; the exit code is 1 if any failed.
#   bash build/fuzz.sh [ITERATIONS] [SEED ...]
#   STRUCTURED_ITERATIONS=N bash build/fuzz.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-200000}
shift || true
seeds=("${@:-1 2 3 4 5}")
structured=${STRUCTURED_ITERATIONS:-20000}
failed=0
findings=${DIRNET_FUZZ_FINDINGS:-$(mktemp -d -t dirnet-structured-fuzz.XXXXXX)}
echo "structured fuzzer findings: $findings"
dotnet build tests/Microsoft.ML.DirNet.Tests -c Release --nologo -v quiet
for seed in ${seeds[@]}; do
  DIRNET_FUZZ_SEED=$seed DIRNET_FUZZ_ITERATIONS=$iterations dotnet test tests/Microsoft.ML.DirNet.Tests -c Release --no-build \
    --filter "FullyQualifiedName~ModelFuzzingTests.Mutated" --logger "console;verbosity=detailed" | grep -E "mutated|escaped|iteration|Passed!|Failed!" || failed=1
  DIRNET_FUZZ_SEED=$seed DIRNET_FUZZ_ITERATIONS=$structured DIRNET_FUZZ_FINDINGS=$findings DOTNET_GCHeapHardLimit=0x100000000 \
    dotnet test tests/Microsoft.ML.DirNet.Tests -c Release --no-build --filter "FullyQualifiedName~StructuredFuzzingTests" \
    --logger "console;verbosity=detailed" | grep -E "structurally|per mutant|rejected at|smallest:|saved:|^ +[0-9]+  |Passed!|Failed!" || failed=1
done
exit $failed
