#!/usr/bin/python3
"""Independent check of model.onnx without onnxruntime, with the numpy interpreter of
samples/common/onnx_numpy.py (written from the ONNX operator specs).

  /usr/bin/python3 scripts/onnx_numpy_eval.py [--model model.onnx] [--data data/test] [--count 5]

decodes the first --count utterances of a split with the graph (batch 1) and prints
the hypotheses next to the references.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "common"))
from onnx_numpy import load, run  # noqa: E402  (samples/common: the interpreter both samples share)


def run_file(path, features):
    """features float32 [batch, time, 40] -> log_probs [batch, time // 3, chars]."""
    graph, inits = load(path)
    return run(graph, inits, {graph.input[0].name: np.asarray(features, dtype=np.float32)})[0]


def main():
    sys.path.insert(0, HERE)
    import features as feat
    import make_data
    import train_asr
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "model.onnx"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "test"))
    ap.add_argument("--alphabet", default=os.path.join(ROOT, "data", "alphabet.txt"))
    ap.add_argument("--count", type=int, default=5)
    args = ap.parse_args()
    table = train_asr.load_alphabet(args.alphabet)
    with open(os.path.join(args.data, "manifest.tsv"), encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, l.rstrip("\n").split("\t"))) for l in f if l.strip()][:args.count]
    refs, hyps = [], []
    for r in rows:
        s, _ = make_data.read_wav(os.path.join(args.data, r["file"]))
        lp = run_file(args.model, feat.features(s)[None])[0]
        hyps.append(train_asr.greedy_decode(lp, table))
        refs.append(r["transcript"])
        print("%s\n  ref: %s\n  hyp: %s" % (r["file"], refs[-1], hyps[-1]))
    print(train_asr.error_rates(refs, hyps))


if __name__ == "__main__":
    main()
