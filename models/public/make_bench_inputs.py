#!/usr/bin/python3
"""Write one streaming call's inputs for each public model, for `dirnet bench --data` and `dirnet run --data`:
OUT/<model>/input_K.pb in the model's input order (seeded noise for the audio chunk, zero state, sr 16000).

  /usr/bin/python3 models/public/make_bench_inputs.py --out artifacts/public-inputs
  dotnet run --project src/Microsoft.ML.DirNet.Cli -c Release -- bench models/public/silero-vad/silero_vad.onnx \\
      --data artifacts/public-inputs/silero_vad --runs 31

Needs numpy and Debian's python3-onnx.
"""
import argparse
import glob
import os

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def dims(value, fallback):
    return [d.dim_value if d.dim_value > 0 else fallback(k) for k, d in enumerate(value.type.tensor_type.shape.dim)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    for path in sorted(glob.glob(os.path.join(HERE, "*", "*.onnx"))):
        model = onnx.load(path)
        initializers = {t.name for t in model.graph.initializer}
        name = os.path.splitext(os.path.basename(path))[0]
        folder = os.path.join(args.out, name if "dtln" not in path else f"dtln_{name}")
        os.makedirs(folder, exist_ok=True)
        inputs = [i for i in model.graph.input if i.name not in initializers]
        for k, value in enumerate(inputs):
            if value.name == "sr":
                array = np.array(16000, dtype=np.int64)
            elif value.name in ("input", "input_2", "input_4"):
                shape = dims(value, lambda axis: 1 if axis == 0 else 512)
                array = (0.5 * rng.uniform(-1, 1, size=shape)).astype(np.float32)
                if value.name == "input_2":
                    array = np.abs(array)  # DTLN's first stage takes a magnitude spectrum
            else:
                array = np.zeros(dims(value, lambda axis: 1), dtype=np.float32)
            onnx.save_tensor(numpy_helper.from_array(array, value.name), os.path.join(folder, f"input_{k}.pb"))
        print(f"{folder}: {len(inputs)} inputs")


if __name__ == "__main__":
    main()
