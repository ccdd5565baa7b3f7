#!/usr/bin/python3
"""Write calibration inputs for `dirnet compress --calibration DIR`: the same sets `dirnet compare --calibrate` makes
from the language model's data (the first --tokens of valid.txt in chunks of --chunk steps at batch 1, each from zero
states), one subfolder per set holding input_0.pb (ids [chunk, 1], int64), input_1.pb and input_2.pb (h0 and c0 of
zeros, shaped as the model's state inputs).

  /usr/bin/python3 samples/LanguageModel/scripts/make_calibration.py --out artifacts/lm-calibration
  dotnet run --project src/Microsoft.ML.DirNet.Cli -c Release -- compress samples/LanguageModel/model.onnx \\
      -o artifacts/lm-auto-32x.onnx --method auto --ratio 32 --scope recurrent \\
      --calibration artifacts/lm-calibration --auto-score kl

Needs numpy and Debian's python3-onnx (no torch).
"""
import argparse
import os

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))


def read_ids(data, split):
    """Every line's tokens followed by <eos>, unknown words as <unk> (train_lm.load_stream without torch)."""
    with open(os.path.join(data, "vocab.txt"), encoding="utf-8") as f:
        w2i = {w: i for i, w in enumerate(line.rstrip("\n") for line in f)}
    unk, eos = w2i["<unk>"], w2i["<eos>"]
    ids = []
    with open(os.path.join(data, split), encoding="utf-8") as f:
        for line in f:
            ids.extend(w2i.get(t, unk) for t in line.split())
            ids.append(eos)
    return np.asarray(ids, dtype=np.int64)


def state_shapes(model_path):
    """[layers, 1, hidden] of every graph input after the ids (h0, c0)."""
    graph = onnx.load(model_path, load_external_data=False).graph
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    return [[d.dim_value if d.dim_value > 0 else 1 for d in i.type.tensor_type.shape.dim] for i in inputs[1:]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="the folder to write (one subfolder per set)")
    ap.add_argument("--model", default=os.path.join(ROOT, "model.onnx"), help="the model whose state shapes to use")
    ap.add_argument("--data", default=os.path.join(ROOT, "data"))
    ap.add_argument("--split", default="valid.txt")
    ap.add_argument("--tokens", type=int, default=4000)
    ap.add_argument("--chunk", type=int, default=100)
    args = ap.parse_args()

    ids = read_ids(args.data, args.split)[: args.tokens]
    shapes = state_shapes(args.model)
    sets = range(0, len(ids), args.chunk)
    for k, start in enumerate(sets):
        folder = os.path.join(args.out, f"set_{k:03d}")
        os.makedirs(folder, exist_ok=True)
        chunk = ids[start:start + args.chunk].reshape(-1, 1)
        tensors = [chunk] + [np.zeros(s, dtype=np.float32) for s in shapes]
        for i, t in enumerate(tensors):
            with open(os.path.join(folder, f"input_{i}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(t).SerializeToString())
    print(f"{args.out}: {len(sets)} sets of up to {args.chunk} tokens from {args.split}, states {shapes}")


if __name__ == "__main__":
    main()
