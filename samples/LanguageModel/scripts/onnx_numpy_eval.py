#!/usr/bin/python3
"""Independent check of model.onnx without onnxruntime: a tiny numpy interpreter
for the ops the export produces (Gather, Constant, Slice, LSTM, Squeeze, Concat,
Shape, Mul, Unsqueeze, Reshape, Gemm, LogSoftmax), following the ONNX operator
specs (LSTM gate order i, o, f, c; sigmoid/tanh/tanh). It evaluates a split with
the reference procedure (batch 1, chunks of 35, state carried from zeros) and
prints the perplexity, which must match metrics.json / test_slice_reference.json.

  /usr/bin/python3 scripts/onnx_numpy_eval.py [--model model.onnx] [--split test] [--tokens 2000]
"""
import argparse
import math
import os

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm(X, W, R, B, h0, c0, hidden):
    # X [seq, batch, in], W [1, 4H, in], R [1, 4H, H], B [1, 8H], h0/c0 [1, batch, H]; gates i, o, f, c
    W, R = W[0], R[0]
    b = B[0, :4 * hidden] + B[0, 4 * hidden:]
    h, c = h0[0], c0[0]
    xw = X @ W.T + b  # [seq, batch, 4H]
    Y = np.empty((X.shape[0], X.shape[1], hidden), dtype=X.dtype)
    for t in range(X.shape[0]):
        g = xw[t] + h @ R.T
        i = sigmoid(g[:, :hidden])
        o = sigmoid(g[:, hidden:2 * hidden])
        f = sigmoid(g[:, 2 * hidden:3 * hidden])
        cc = np.tanh(g[:, 3 * hidden:])
        c = f * c + i * cc
        h = o * np.tanh(c)
        Y[t] = h
    return Y[:, None], h[None], c[None]  # Y [seq, 1(dir), batch, H]


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def run(graph, inits, feeds):
    env = dict(inits)
    env.update(feeds)
    env[""] = None
    for n in graph.node:
        a = attrs(n)
        x = [env[i] for i in n.input]
        op = n.op_type
        if op == "Constant":
            y = [numpy_helper.to_array(a["value"])]
        elif op == "Gather":
            y = [np.take(x[0], x[1], axis=a.get("axis", 0))]
        elif op == "Slice":
            data, starts, ends = x[0], x[1], x[2]
            axes = x[3] if len(x) > 3 and x[3] is not None else np.arange(len(starts))
            steps = x[4] if len(x) > 4 and x[4] is not None else np.ones(len(starts), dtype=np.int64)
            sl = [slice(None)] * data.ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                sl[int(ax)] = slice(int(s), int(min(e, 2 ** 62)), int(st))
            y = [data[tuple(sl)]]
        elif op == "LSTM":
            assert a.get("direction", b"forward") in (b"forward", "forward")
            assert x[4] is None  # no sequence_lens
            y = list(lstm(x[0], x[1], x[2], x[3], x[5], x[6], a["hidden_size"]))
        elif op == "Squeeze":
            y = [np.squeeze(x[0], axis=tuple(int(v) for v in x[1]))]
        elif op == "Unsqueeze":
            r = x[0]
            for ax in sorted(int(v) for v in x[1]):
                r = np.expand_dims(r, ax)
            y = [r]
        elif op == "Concat":
            y = [np.concatenate(x, axis=a["axis"])]
        elif op == "Shape":
            y = [np.array(x[0].shape, dtype=np.int64)]
        elif op == "Mul":
            y = [x[0] * x[1]]
        elif op == "Reshape":
            shape = [int(v) for v in x[1]]
            shape = [x[0].shape[i] if v == 0 else v for i, v in enumerate(shape)]
            y = [x[0].reshape(shape)]
        elif op == "Gemm":
            A = x[0].T if a.get("transA", 0) else x[0]
            Bm = x[1].T if a.get("transB", 0) else x[1]
            r = a.get("alpha", 1.0) * (A @ Bm)
            if len(x) > 2 and x[2] is not None:
                r = r + a.get("beta", 1.0) * x[2]
            y = [r.astype(np.float32)]
        elif op == "LogSoftmax":
            v = x[0]
            m = v.max(axis=a.get("axis", -1), keepdims=True)
            z = v - m
            y = [z - np.log(np.exp(z).sum(axis=a.get("axis", -1), keepdims=True))]
        else:
            raise NotImplementedError(op)
        for name, val in zip(n.output, y):
            env[name] = val
    return [env[o.name] for o in graph.output]


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
    m = onnx.load(model_path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    return evaluate_ids(m.graph, inits, np.asarray(ids, dtype=np.int64), chunk)


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
