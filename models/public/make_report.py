#!/usr/bin/python3
"""Rebuild docs/results/public-models.md: for every committed public model (models/public/*/*.onnx), what `dirnet`
finds and does with it, measured by the tool itself: operators the native engine lacks, recurrent layers and
compressible matrices found, the file after quant int4 and after DirNet at 2x over the recurrent weights (over every
matrix where the model has no recurrent node), and one streaming call's time in both engines (`bench --data` on the
inputs of make_bench_inputs.py; batch 1, one thread, median of --runs, ratios taken within one run).

  dotnet publish src/Microsoft.ML.DirNet.Cli -c Release -o artifacts/cli
  /usr/bin/python3 models/public/make_bench_inputs.py --out artifacts/public-inputs
  /usr/bin/python3 models/public/make_report.py --dirnet "dotnet artifacts/cli/dirnet.dll" --inputs artifacts/public-inputs

Needs only the Python standard library.
"""
import argparse
import glob
import json
import os
import shlex
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def run(dirnet, *args):
    """The tool's JSON (the last line that parses: ONNX Runtime may log warnings first)."""
    done = subprocess.run(shlex.split(dirnet) + list(args) + ["--json"], capture_output=True, text=True)
    start = done.stdout.find("\n{") + 1 if not done.stdout.startswith("{") else 0
    try:
        return (json.loads(done.stdout[start:]), None) if done.returncode == 0 else (None, None)
    except json.JSONDecodeError:
        pass
    return None, (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["exit code %d" % done.returncode])[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dirnet", required=True, help='how to call the tool, e.g. "dotnet artifacts/cli/dirnet.dll"')
    ap.add_argument("--inputs", required=True, help="the folder make_bench_inputs.py wrote")
    ap.add_argument("--runs", type=int, default=31)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "results", "public-models.md"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for path in sorted(glob.glob(os.path.join(HERE, "*", "*.onnx"))):
            relative = os.path.relpath(path, ROOT)
            name = os.path.splitext(os.path.basename(path))[0]
            data = os.path.join(args.inputs, name if "dtln" not in path else f"dtln_{name}")
            inspect, problem = run(args.dirnet, "inspect", path)
            if inspect is None:
                rows.append(f"| `{relative}` | inspect failed: {problem} | | | | | | | |")
                continue
            recurrent = len(inspect["recurrent_layers"])
            scope = "recurrent" if any(w["role"].startswith("Recurrent") for w in inspect["weights"]) else "model"
            sizes = []
            for method, area, extra in (("quant", scope, ["--precision", "int4"]), ("dirnet", scope, ["--ratio", "2" if scope == "recurrent" else "1.3"]),
                                        ("quant", "model", ["--precision", "int4"])):
                output = os.path.join(scratch, f"{name}-{method}-{area}.onnx")
                compressed, problem = run(args.dirnet, "compress", path, "-o", output, "--method", method, "--scope", area, *extra)
                sizes.append(f"{compressed['output_bytes']:,} ({compressed['matrix_ratio']:.2f}x)" if compressed else f"failed: {problem}")
            bench, problem = run(args.dirnet, "bench", path, "--data", data, "--runs", str(args.runs))
            speed = (f"{bench['native_ms']:.3f} / {bench['ort_ms']:.3f} ms ({bench['speedup']:.2f}x)" if bench else f"failed: {problem}")
            lacking = ", ".join(inspect["unsupported_operators"]) or "none"
            rows.append(f"| `{relative}` | {inspect['opset']} | {lacking} | {recurrent} | {len(inspect['weights'])} ({scope}) "
                        f"| {inspect['file_bytes']:,} | {sizes[0]} | {sizes[1]} | {sizes[2]} | {speed} |")
            print(rows[-1], flush=True)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "unknown CPU") \
        if os.path.exists("/proc/cpuinfo") else "unknown CPU"
    command = "/usr/bin/python3 models/public/make_report.py --dirnet DIRNET --inputs INPUTS --runs %d" % args.runs
    text = f"""# Public recurrent models: what works (issue 21)

The publicly distributed models committed in models/public (their sources and licences there), as a user meets them.
Per file: the operators the native engine lacks; the recurrent layers and compressible matrices `dirnet inspect`
finds (inside If branches and Constant nodes included; the scope the compressions use: the recurrent weights, or
every matrix where the model has no recurrent node); the file after `dirnet compress --method quant --precision int4`
and after `--method dirnet` at 2x over the recurrent weights (1.3x over the matrices otherwise), with the ratio over
those matrices, and after quant int4 over every matrix of the model (Conv filter banks included); and one streaming call (one chunk, zero state) in the native engine and in ONNX Runtime, batch 1, one
thread, median of {args.runs} runs after at least 1 s of warm-up, and their ratio (above 1: the native engine is faster). Machine: {cpu},
{os.cpu_count()} cores (times from a shared machine are noisy; the ratio is taken within one run).

| file | opset | operators lacking | recurrent layers | matrices | bytes | quant int4 | DirNet 2x | quant int4, every matrix | one call: native / ONNX Runtime |
|---|---:|---|---:|---|---:|---:|---:|---:|---|
""" + "\n".join(rows) + f"""

Made by: `{command}` (DIRNET: how to call a built `dirnet`; INPUTS: the folder of `models/public/make_bench_inputs.py`).
"""
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
