#!/usr/bin/python3
"""Train the character CTC speech recogniser of the ASR sample and export it to ONNX.

  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 scripts/train_asr.py --threads 1 --epochs 2 \
      --eval-every 400 --time-limit 80 > train.log 2>&1
  (tiny smoke test: add --limit 20 --max-steps 2 and other --onnx/--metrics/--hyps/--checkpoint paths)

Reads data/train, data/valid, data/test (manifest.tsv + wav/, from make_data.py),
computes the features of features.py, trains, keeps the checkpoint with the best
validation CER, exports model.onnx, checks it (onnx.checker, op types, PyTorch vs
the ONNX graph run by onnx_numpy_eval.py on a few utterances), evaluates valid and
test with the reference procedure below and writes metrics.json and
test_hypotheses.tsv.

Model (ONNX input "features" float [batch, time, 40], output "log_probs"
float [batch, floor(time / 3), 29]):
  frame stacking: the first floor(T/3)*3 frames are reshaped to [B, floor(T/3), 120]
    (frames 3u, 3u+1, 3u+2 side by side, in that order; the last T mod 3 frames are
    dropped) -- inside the graph (Shape/Gather/Div/Mul/Slice/Reshape);
  3 bidirectional GRU layers, hidden 256 per direction (ONNX GRU, linear_before_reset=1);
  Linear 512 -> 29, LogSoftmax over the last axis.
Alphabet (data/alphabet.txt, index = 0-based line): 0 = CTC blank "<blank>", 1 = space,
2 = apostrophe, 3..28 = a..z.

Reference evaluation (what the C# evaluation reproduces): each utterance alone
(batch 1, no padding): features -> model -> greedy CTC decoding: argmax over the 29
classes per output frame (lowest index on ties), collapse runs of the same index,
drop blanks, map indices to characters. Hypothesis and reference are compared as
strings: CER = sum over the set of Levenshtein distance between the character
sequences / sum of reference lengths in characters (spaces included); WER = sum of
Levenshtein distances between the word sequences (split on spaces; empty words
dropped) / sum of reference word counts.

Determinism: seed 1234, torch.use_deterministic_algorithms(True); results depend on
the thread settings. Threads: OPENBLAS_NUM_THREADS=2 with --threads 1 (see
samples/LanguageModel/README.md: the two pools oversubscribe 2 cores otherwise).
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import features as feat  # noqa: E402
import make_data  # noqa: E402


# ----------------------------------------------------------------------------- alphabet

def load_alphabet(path):
    with open(path, encoding="utf-8") as f:
        chars = f.read().split("\n")[:-1]
    assert chars[0] == "<blank>" and chars[1] == "<space>", path
    table = [""] + [" "] + chars[2:]
    assert all(len(c) == 1 for c in table[1:]), path
    return table


def encode(text, table):
    idx = {c: i for i, c in enumerate(table) if i > 0}
    return [idx[c] for c in text]


def greedy_decode(log_probs, table):
    """log_probs [T', C] -> string (argmax per frame, collapse repeats, drop blanks)."""
    best = np.argmax(log_probs, axis=-1)
    out, prev = [], -1
    for b in best:
        b = int(b)
        if b != prev and b != 0:
            out.append(table[b])
        prev = b
    return "".join(out)


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def error_rates(refs, hyps):
    ce = sum(edit_distance(r, h) for r, h in zip(refs, hyps))
    cn = sum(len(r) for r in refs)
    we = sum(edit_distance(r.split(), h.split()) for r, h in zip(refs, hyps))
    wn = sum(len(r.split()) for r in refs)
    return {"cer": ce / max(cn, 1), "wer": we / max(wn, 1), "char_errors": ce, "chars": cn,
            "word_errors": we, "words": wn, "utterances": len(refs)}


# ----------------------------------------------------------------------------- data

def load_split(d, table, limit=None):
    path = os.path.join(d, "manifest.tsv")
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, l.rstrip("\n").split("\t"))) for l in f if l.strip()]
    if limit:
        rows = rows[:limit]
    items = []
    for r in rows:
        samples, sr = make_data.read_wav(os.path.join(d, r["file"]))
        if sr != feat.SAMPLE_RATE:
            raise ValueError("%s: sample rate %d, expected %d" % (r["file"], sr, feat.SAMPLE_RATE))
        items.append({"file": r["file"], "text": r["transcript"], "feats": feat.features(samples),
                      "labels": encode(r["transcript"], table)})
    return items


def make_batches(items, max_frames, max_batch, rng):
    """Length-sorted buckets of at most max_frames padded frames; shuffled order."""
    order = sorted(range(len(items)), key=lambda i: (len(items[i]["feats"]), i))
    batches, cur = [], []
    for i in order:
        longest = len(items[i]["feats"])
        if cur and (len(cur) + 1 > max_batch or (len(cur) + 1) * longest > max_frames):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    if rng is not None:
        rng.shuffle(batches)
    return batches


def collate(items, idx):
    lens = [len(items[i]["feats"]) for i in idx]
    x = torch.zeros(len(idx), max(lens), feat.NMELS)
    for b, i in enumerate(idx):
        x[b, :lens[b]] = torch.from_numpy(items[i]["feats"])
    labels = [items[i]["labels"] for i in idx]
    return (x, torch.tensor(lens), torch.tensor([c for l in labels for c in l], dtype=torch.long),
            torch.tensor([len(l) for l in labels]))


# ----------------------------------------------------------------------------- model

class AsrModel(nn.Module):
    def __init__(self, n_mels, stack, hidden, layers, n_chars, dropout):
        super().__init__()
        self.stack = stack
        self.n_mels = n_mels
        self.gru = nn.GRU(n_mels * stack, hidden, layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, n_chars)

    def stack_frames(self, x):
        b, t = x.shape[0], x.shape[1]
        u = t // self.stack
        return x[:, :u * self.stack, :].reshape(b, u, self.stack * self.n_mels)

    def forward(self, x, lengths=None):
        x = self.stack_frames(x)
        if lengths is not None:
            out_lens = torch.div(lengths, self.stack, rounding_mode="floor")
            packed = nn.utils.rnn.pack_padded_sequence(x, out_lens, batch_first=True, enforce_sorted=False)
            y, _ = self.gru(packed)
            y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        else:
            out_lens = None
            y, _ = self.gru(x)
        return F.log_softmax(self.out(self.drop(y)), dim=-1), out_lens


class ExportWrapper(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, features):
        return self.m(features)[0]


# ----------------------------------------------------------------------------- evaluation

@torch.no_grad()
def decode_batched(model, items, table, max_frames=20000):
    model.eval()
    hyps = [None] * len(items)
    for idx in make_batches(items, max_frames, 64, None):
        x, lens, _, _ = collate(items, idx)
        lp, out_lens = model(x, lens)
        for b, i in enumerate(idx):
            hyps[i] = greedy_decode(lp[b, :out_lens[b]].numpy(), table)
    return hyps


@torch.no_grad()
def decode_reference(model, items, table):
    """The reference procedure: batch 1, no padding, no lengths (as the exported graph)."""
    model.eval()
    hyps, lps = [], []
    for it in items:
        lp = model(torch.from_numpy(it["feats"])[None])[0][0].numpy()
        lps.append(lp)
        hyps.append(greedy_decode(lp, table))
    return hyps, lps


# ----------------------------------------------------------------------------- export

def export_onnx(model, path, opset):
    model.eval()
    dummy = torch.zeros(1, 100, feat.NMELS)
    tmp = path + ".tmp"
    # The wrapper is put in eval mode too: export restores the wrapper's mode afterwards, recursively.
    torch.onnx.export(ExportWrapper(model).eval(), (dummy,), tmp, input_names=["features"], output_names=["log_probs"],
                      dynamic_axes={"features": {0: "batch", 1: "time"}, "log_probs": {0: "batch", 1: "frames"}},
                      opset_version=opset, do_constant_folding=True)
    model.eval()
    import onnx
    m = onnx.load(tmp)
    onnx.checker.check_model(m)
    # Readable initializer names: gru<layer>.W/R/B, out.weight, out.bias (the exporter says onnx::GRU_<n> etc.).
    rename = {}
    gi = 0
    for n in m.graph.node:
        if n.op_type == "GRU":
            for k, role in zip((1, 2, 3), ("W", "R", "B")):
                if k < len(n.input) and n.input[k].startswith("onnx::"):
                    rename[n.input[k]] = "gru%d.%s" % (gi, role)
            gi += 1
        elif n.op_type == "MatMul" and n.input[1].startswith("onnx::"):
            rename[n.input[1]] = "out.weight"  # [512, 29] (the transposed nn.Linear weight)
    for init in m.graph.initializer:
        if init.name.startswith("m."):
            rename[init.name] = init.name[2:]
    for init in m.graph.initializer:
        if init.name in rename:
            init.name = rename[init.name]
    for n in m.graph.node:
        for k, name in enumerate(n.input):
            if name in rename:
                n.input[k] = rename[name]
    onnx.checker.check_model(m)
    onnx.save(m, tmp)
    os.replace(tmp, path)
    return sorted({n.op_type for n in m.graph.node})


SUPPORTED_OPS = {"LSTM", "GRU", "RNN", "MatMul", "Gemm", "Gather", "Add", "Sub", "Mul", "Div", "Equal", "Where",
                 "Relu", "Tanh", "Sigmoid", "Exp", "Log", "Neg", "Sqrt", "Softmax", "LogSoftmax", "Shape",
                 "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Concat", "Slice", "Transpose", "Expand", "Cast",
                 "Constant", "ConstantOfShape", "Identity", "Dropout"}


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "data"))
    ap.add_argument("--alphabet", default=os.path.join(ROOT, "data", "alphabet.txt"))
    ap.add_argument("--onnx", default=os.path.join(ROOT, "model.onnx"))
    ap.add_argument("--metrics", default=os.path.join(ROOT, "metrics.json"))
    ap.add_argument("--hyps", default=os.path.join(ROOT, "test_hypotheses.tsv"))
    ap.add_argument("--checkpoint", default=os.path.join(ROOT, "checkpoints", "best.pt"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit; tests)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N utterances of each split (tests)")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--stack", type=int, default=3)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=300, help="linear warm-up steps, then cosine decay to 5%")
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--max-frames", type=int, default=12000, help="padded input frames per batch")
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--eval-every", type=int, default=0, help="also evaluate valid every N steps (0: epoch ends only)")
    ap.add_argument("--time-limit", type=float, default=0,
                    help="minutes: stop training after the step that crosses this (0: none); export still follows")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    table = load_alphabet(args.alphabet)
    t0 = time.time()
    data = {s: load_split(os.path.join(args.data, s), table, args.limit or None) for s in ("train", "valid", "test")}
    frames = {s: sum(len(it["feats"]) for it in v) for s, v in data.items()}
    print("features: %s utterances, %s frames, %.0f s" % (
        {s: len(v) for s, v in data.items()}, frames, time.time() - t0), flush=True)

    model = AsrModel(feat.NMELS, args.stack, args.hidden, args.layers, len(table), args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    n_rec = sum(p.numel() for p in model.gru.parameters())
    print("parameters: %d (GRU %d, %.1f%%)" % (n_params, n_rec, 100.0 * n_rec / n_params), flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    ctc = nn.CTCLoss(blank=0, reduction="mean", zero_infinity=True)

    brng = random.Random(args.seed)
    steps_per_epoch = len(make_batches(data["train"], args.max_frames, args.max_batch, None))
    total = steps_per_epoch * args.epochs
    if args.max_steps:
        total = min(total, args.max_steps)

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        p = (step - args.warmup) / max(1, total - args.warmup)
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(p, 1.0))))

    history, step = [], 0
    best = [None]
    os.makedirs(os.path.dirname(args.checkpoint), exist_ok=True)
    t_train = time.time()

    def validate(epoch, train_loss, minutes, final):
        hyps = decode_batched(model, data["valid"], table)
        model.train()
        v = error_rates([it["text"] for it in data["valid"]], hyps)
        rec = {"epoch": epoch, "steps": step, "train_loss": train_loss, "valid_cer": v["cer"], "valid_wer": v["wer"],
               "epoch_minutes": minutes, "elapsed_minutes": (time.time() - t_train) / 60, "epoch_end": final}
        history.append(rec)
        mark = ""
        if best[0] is None or v["cer"] < best[0]:
            best[0] = v["cer"]
            torch.save(model.state_dict(), args.checkpoint)
            mark = " *"
        print("%s %d step %d | train loss %.3f | valid CER %.4f WER %.4f%s | elapsed %.1f min | e.g. %r -> %r" % (
            "epoch" if final else "  (epoch", epoch, step, train_loss, v["cer"], v["wer"], mark,
            rec["elapsed_minutes"], data["valid"][0]["text"], hyps[0]), flush=True)

    def out_of_time():
        return (args.max_steps and step >= args.max_steps) or \
            (args.time_limit and time.time() - t_train >= 60 * args.time_limit)

    for epoch in range(1, args.epochs + 1):
        model.train()
        te = time.time()
        tot_loss, n_loss = 0.0, 0
        tb = time.time()
        for bi, idx in enumerate(make_batches(data["train"], args.max_frames, args.max_batch, brng)):
            if out_of_time():
                break
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            x, lens, targets, tlens = collate(data["train"], idx)
            lp, out_lens = model(x, lens)
            loss = ctc(lp.transpose(0, 1), targets, out_lens, tlens)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            step += 1
            tot_loss += loss.item()
            n_loss += 1
            if step % args.log_every == 0:
                print("  epoch %d batch %d/%d loss %.3f  %.0f ms/batch  lr %.2e" % (
                    epoch, bi + 1, steps_per_epoch, tot_loss / n_loss,
                    1000 * (time.time() - tb) / args.log_every, lr_at(step)), flush=True)
                tb = time.time()
            if args.eval_every and step % args.eval_every == 0:
                validate(epoch, tot_loss / n_loss, (time.time() - te) / 60, False)
        if history and history[-1]["steps"] == step:
            history[-1]["epoch_end"] = True
        else:
            validate(epoch, tot_loss / max(n_loss, 1), (time.time() - te) / 60, True)
        if out_of_time():
            print("stopping: %s" % ("--max-steps" if args.max_steps and step >= args.max_steps else "--time-limit"),
                  flush=True)
            break

    model.load_state_dict(torch.load(args.checkpoint))
    model.eval()
    ops = export_onnx(model, args.onnx, args.opset)
    bad = sorted(set(ops) - SUPPORTED_OPS)
    print("ONNX %s: %d bytes, ops %s%s" % (args.onnx, os.path.getsize(args.onnx), ops,
                                          " UNSUPPORTED: %s" % bad if bad else ""), flush=True)

    results = {}
    for s in ("valid", "test"):
        hyps, lps = decode_reference(model, data[s], table)
        results[s] = error_rates([it["text"] for it in data[s]], hyps)
        print("%s: CER %.4f WER %.4f (%d utterances)" % (s, results[s]["cer"], results[s]["wer"], len(hyps)), flush=True)
        if s == "test":
            with open(args.hyps, "w", encoding="utf-8", newline="\n") as f:
                f.write("file\treference\thypothesis\n")
                for it, h in zip(data[s], hyps):
                    f.write("%s\t%s\t%s\n" % (it["file"], it["text"], h))
            test_lps = lps

    # The exported graph against PyTorch on the first test utterances (numpy interpreter).
    import onnx_numpy_eval
    check = []
    for it, lp in list(zip(data["test"], test_lps))[:3]:
        y = onnx_numpy_eval.run_file(args.onnx, it["feats"][None])[0]
        check.append({"file": it["file"], "frames_in": int(len(it["feats"])), "frames_out": int(y.shape[0]),
                      "max_abs_diff_vs_torch": float(np.abs(y - lp).max()),
                      "log_probs_sum": float(lp.astype(np.float64).sum()),
                      "hypothesis": greedy_decode(lp, table)})
    print("ONNX numpy check: %s" % check, flush=True)

    metrics = {
        "valid": results["valid"], "test": results["test"],
        "parameters": n_params, "gru_parameters": n_rec, "onnx_bytes": os.path.getsize(args.onnx),
        "onnx_ops": ops, "onnx_check": check,
        "hyperparameters": {k: v for k, v in vars(args).items() if k not in ("data", "alphabet", "onnx", "metrics",
                                                                            "hyps", "checkpoint")},
        "threads": {"torch": args.threads, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")},
        "data": {s: {"utterances": len(v), "frames": frames[s]} for s, v in data.items()},
        "steps": step, "train_minutes": round((time.time() - t_train) / 60, 1),
        "history": history, "torch": torch.__version__,
    }
    with open(args.metrics, "w") as f:
        json.dump(metrics, f, indent=2)


if __name__ == "__main__":
    main()
