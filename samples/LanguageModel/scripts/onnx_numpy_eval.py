#!/usr/bin/python3
"""Independent check of model.onnx without onnxruntime, with the numpy interpreter of
samples/common/onnx_numpy.py (written from the ONNX operator specs). It evaluates a split with
the reference procedure (batch 1, chunks of 35, state carried from zeros) and
prints the perplexity, which must match metrics.json / test_slice_reference.json.

  /usr/bin/python3 scripts/onnx_numpy_eval.py [--model model.onnx] [--split test] [--tokens 2000]
"""
import argparse
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "common"))
from onnx_numpy import load, run  # noqa: E402  (samples/common: the interpreter both samples share)


def evaluate_ids(graph, inits, ids, chunk=35):
    """Reference procedure on int64 ids [N]: returns the sum of NLL over the N-1 predictions."""
    shape = [d.dim_value for d in graph.input[1].type.tensor_type.shape.dim]
    h = np.zeros((shape[0], 1, shape[2]), dtype=np.float32)
    c = np.zeros_like(h)
    nll, n = 0.0, len(ids)
    for i in range(0, n - 1, chunk):
        L = min(chunk, n - 1 - i)
        logp, h, c = run(graph, inits, {"input": ids[i:i + L].reshape(L, 1), "h0": h, "c0": c})
        tgt = ids[i + 1:i + 1 + L]
        nll -= float(logp[np.arange(L), 0, tgt].astype(np.float64).sum())
    return nll


def evaluate_file(model_path, ids, chunk=35):
    graph, inits = load(model_path)
    return evaluate_ids(graph, inits, np.asarray(ids, dtype=np.int64), chunk)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "model.onnx"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--tokens", type=int, default=2000, help="first N tokens of the split (0: all)")
    ap.add_argument("--chunk", type=int, default=35)
    args = ap.parse_args()

    with open(os.path.join(args.data, "vocab.txt"), encoding="utf-8") as f:
        w2i = {w.rstrip("\n"): i for i, w in enumerate(f)}
    ids = []
    with open(os.path.join(args.data, args.split + ".txt"), encoding="utf-8") as f:
        for line in f:
            ids.extend(w2i.get(t, w2i["<unk>"]) for t in line.split())
            ids.append(w2i["<eos>"])
    if args.tokens:
        ids = ids[: args.tokens]
    ids = np.array(ids, dtype=np.int64)

    n = len(ids)
    nll = evaluate_file(args.model, ids, args.chunk)
    print("%s: %d tokens, %d predictions, nll_sum %.6f, perplexity %.6f" % (
        args.split, n, n - 1, nll, math.exp(nll / (n - 1))))


if __name__ == "__main__":
    main()
