#!/usr/bin/env bash
# Runs the README's install steps as written, on a copy of this clone (its tracked and untracked, not ignored, files:
# what a fresh clone with the working tree's changes holds), then checks what they made:
#   - the blocks marked "install" and "app" in README.md run with bash in the copy's root;
#   - every tool package is at most 30 MB, and the installed ./tools/dirnet inspects the LM sample;
#   - the block marked "snippet" (the ML.NET example) is ../MyApp/Program.cs (an app beside the clone, outside its
#     build settings), and builds and runs on the LM sample's model.
# Not part of build/test.sh: packing restores each platform's runtime pack (several hundred MB on a fresh machine).
# Usage: bash build/check-install.sh [--keep]   (--keep leaves the copy and prints where it is)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
if [[ "${1:-}" == "--keep" ]]; then echo "copy kept in $work"; else trap 'rm -rf "$work"' EXIT; fi

# The fenced block that follows the HTML comment starting "<!-- NAME:" in README.md.
block() {
    awk -v name="<!-- $1:" '
        index($0, name) == 1 { found = 1; next }
        found && /^```/ { if (inside) exit; inside = 1; next }
        inside { print }' "$repo/README.md"
}
for name in install app snippet; do
    if [[ -z "$(block "$name")" ]]; then echo "check-install: README.md has no block marked '$name'" >&2; exit 1; fi
done

mkdir "$work/clone"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [[ -e "$f" ]] && printf '%s\0' "$f"; done | tar --null -T - -cf -) | tar -xf - -C "$work/clone"
cd "$work/clone"

echo "== install block"
block install | bash -euxo pipefail
echo "== tool packages"
for package in packages/Microsoft.ML.DirNet.Cli*.nupkg; do
    bytes=$(stat -c %s "$package")
    printf '%12d  %s\n' "$bytes" "$(basename "$package")"
    if (( bytes > 30 * 1024 * 1024 )); then echo "check-install: $package is over 30 MB" >&2; exit 1; fi
done
ls packages/Microsoft.ML.DirNet.0.*.nupkg > /dev/null
./tools/dirnet inspect samples/LanguageModel/model.onnx --json > inspect.json
grep -q '"inputs"' inspect.json

echo "== app block and the ML.NET snippet"
block app | bash -euxo pipefail
block snippet > ../MyApp/Program.cs
cp samples/LanguageModel/model.onnx ../MyApp/
(cd ../MyApp && dotnet run -c Release) | tee run.txt
grep -q "x, .* bytes" run.txt
[[ -s ../MyApp/model.dirnet.onnx ]]
echo "check-install: the README's install steps and ML.NET snippet work"
