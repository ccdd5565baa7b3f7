#!/usr/bin/python3
"""Train a 2-layer LSTM word language model on data/ (see prepare_data.py) and
export it to ONNX.

Architecture (defaults):
  Embedding(V, 128) -> Dropout -> LSTM(128 -> 512, 2 layers, dropout between)
  -> Dropout -> Linear projection 512 -> 128 -> Linear decoder 128 -> V whose
  weight is tied with the embedding -> LogSoftmax.

Training: truncated BPTT (fixed 35 steps, hidden state carried across batches
and detached), Adam (or SGD with --optim sgd), gradient-norm clipping, learning
rate divided by --anneal whenever the validation perplexity does not improve.
Validation after each epoch uses the reference procedure (evaluate_stream),
so model selection and reported numbers agree. Deterministic for a given
thread setting.

At the end the best checkpoint (by validation perplexity) is reloaded, exported
to model.onnx and evaluated with the reference procedure (see evaluate_stream):
metrics.json and data/test_slice_reference.json are written.

Threads: run with OPENBLAS_NUM_THREADS=2 (GEMMs in OpenBLAS, 2 threads) and
--threads 1 (PyTorch's own OpenMP pool); on this Debian build that is ~2.5x
faster than letting both pools use 2 threads (they oversubscribe the 2 cores).
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


# ----------------------------------------------------------------------------- data

def load_vocab(path):
    with open(path, encoding="utf-8") as f:
        words = [l.rstrip("\n") for l in f]
    return words, {w: i for i, w in enumerate(words)}


def load_stream(path, w2i):
    """Token ids of a split: every line's tokens followed by <eos>, all lines concatenated."""
    unk, eos = w2i["<unk>"], w2i["<eos>"]
    ids = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            ids.extend(w2i.get(t, unk) for t in line.split())
            ids.append(eos)
    return torch.tensor(ids, dtype=torch.long)


def batchify(ids, bsz):
    n = ids.numel() // bsz
    return ids[: n * bsz].view(bsz, n).t().contiguous()  # [n, bsz]


# ----------------------------------------------------------------------------- model

class LSTMLM(nn.Module):
    def __init__(self, vocab, emb, hidden, layers, proj, dropout, tie):
        super().__init__()
        self.vocab, self.emb_dim, self.hidden, self.layers = vocab, emb, hidden, layers
        self.drop = nn.Dropout(dropout)
        self.embedding = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, layers, dropout=dropout if layers > 1 else 0.0)
        out_dim = hidden
        self.proj = None
        if proj:
            self.proj = nn.Linear(hidden, proj)
            out_dim = proj
        self.decoder = nn.Linear(out_dim, vocab)
        if tie:
            if out_dim != emb:
                raise ValueError("weight tying needs decoder input dim == embedding dim")
            self.decoder.weight = self.embedding.weight
        self.init_weights()

    def init_weights(self):
        r = 0.1
        nn.init.uniform_(self.embedding.weight, -r, r)
        if self.decoder.weight is not self.embedding.weight:
            nn.init.uniform_(self.decoder.weight, -r, r)
        nn.init.zeros_(self.decoder.bias)
        k = 1.0 / math.sqrt(self.hidden)
        for p in self.lstm.parameters():
            nn.init.uniform_(p, -k, k)

    def forward(self, x, h0, c0):
        """x: int64 [seq, batch]; h0, c0: [layers, batch, hidden].
        Returns log-probabilities [seq, batch, V], hn, cn."""
        e = self.drop(self.embedding(x))
        out, (hn, cn) = self.lstm(e, (h0, c0))
        out = self.drop(out)
        seq, bsz = out.shape[0], out.shape[1]
        out = out.reshape(seq * bsz, self.hidden)  # 2-D so the decoder exports as one Gemm
        if self.proj is not None:
            out = self.proj(out)
        logits = self.decoder(out)
        logp = F.log_softmax(logits, dim=-1)
        return logp.reshape(seq, bsz, self.vocab), hn, cn

    def zero_state(self, bsz):
        z = torch.zeros(self.layers, bsz, self.hidden)
        return z, z.clone()


def param_groups(model):
    """Parameter counts per matrix group, in ONNX terms (W, R, B per LSTM layer)."""
    g = {}
    g["embedding"] = model.embedding.weight.numel()
    for l in range(model.layers):
        W = getattr(model.lstm, "weight_ih_l%d" % l)
        R = getattr(model.lstm, "weight_hh_l%d" % l)
        b = getattr(model.lstm, "bias_ih_l%d" % l)
        g["lstm%d_W" % l] = W.numel()
        g["lstm%d_R" % l] = R.numel()
        g["lstm%d_B" % l] = 2 * b.numel()
    if model.proj is not None:
        g["projection_weight"] = model.proj.weight.numel()
        g["projection_bias"] = model.proj.bias.numel()
    g["decoder_weight"] = 0 if model.decoder.weight is model.embedding.weight else model.decoder.weight.numel()
    g["decoder_bias"] = model.decoder.bias.numel()
    total = sum(g.values())
    lstm = sum(v for k, v in g.items() if k.startswith("lstm"))
    lstm_wr = sum(v for k, v in g.items() if k.startswith("lstm") and not k.endswith("_B"))
    return g, total, lstm, lstm_wr


# ----------------------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate_stream(model, ids, chunk=35):
    """THE reference procedure (reproduced by the C# evaluation):
    ids = token ids of the split (each line's tokens + <eos>, concatenated), N tokens.
    Batch size 1. Inputs ids[0..N-2], targets ids[1..N-1]. Consecutive chunks of
    `chunk` input positions (the last one shorter), state (h, c) starts at zeros
    and is carried from chunk to chunk. NLL = -log_softmax(logits)[target].
    Returns (sum NLL, number of predictions N-1, per-position NLL array);
    perplexity = exp(sum NLL / (N-1))."""
    model.eval()
    h, c = model.zero_state(1)
    n = ids.numel()
    nlls = []
    for i in range(0, n - 1, chunk):
        L = min(chunk, n - 1 - i)
        x = ids[i:i + L].view(L, 1)
        y = ids[i + 1:i + 1 + L].view(L, 1)
        logp, h, c = model(x, h, c)
        nlls.append(-logp.gather(2, y.unsqueeze(2)).view(-1).double())
    nll = torch.cat(nlls)
    return nll.sum().item(), nll.numel(), nll.numpy()


# ----------------------------------------------------------------------------- export

def export_onnx(model, path, opset):
    model.eval()
    x = torch.zeros(5, 2, dtype=torch.long)
    h0, c0 = model.zero_state(2)
    torch.onnx.export(
        model, (x, h0, c0), path,
        input_names=["input", "h0", "c0"],
        output_names=["log_probs", "hn", "cn"],
        dynamic_axes={"input": {0: "seq", 1: "batch"},
                      "h0": {1: "batch"}, "c0": {1: "batch"},
                      "log_probs": {0: "seq", 1: "batch"},
                      "hn": {1: "batch"}, "cn": {1: "batch"}},
        opset_version=opset, do_constant_folding=True)
    # Give the LSTM initializers readable names (the exporter calls them onnx::LSTM_<n>).
    import onnx
    m = onnx.load(path)
    rename = {}
    for k, node in enumerate(n for n in m.graph.node if n.op_type == "LSTM"):
        for j, suffix in ((1, "W"), (2, "R"), (3, "B")):
            rename[node.input[j]] = "lstm.l%d.%s" % (k, suffix)
    for init in m.graph.initializer:
        init.name = rename.get(init.name, init.name)
    for node in m.graph.node:
        for j, name in enumerate(node.input):
            if name in rename:
                node.input[j] = rename[name]
    onnx.checker.check_model(m)
    onnx.save(m, path)


def describe_onnx(path):
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    inits = [(i.name, list(i.dims), int(np.prod(i.dims)) if len(i.dims) else 1) for i in m.graph.initializer]
    return ops, inits


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "data"))
    ap.add_argument("--emb", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--proj", type=int, default=128, help="projection size (0: none)")
    ap.add_argument("--no-tie", action="store_true")
    ap.add_argument("--dropout", type=float, default=0.4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=35)
    ap.add_argument("--optim", choices=["sgd", "adam"], default="adam")
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--anneal", type=float, default=2.0, help="divide lr by this when valid ppl does not improve")
    ap.add_argument("--clip", type=float, default=0.25)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (see module doc)")
    ap.add_argument("--max-batches", type=int, default=0, help="debug: batches per epoch (0: all)")
    ap.add_argument("--max-eval-tokens", type=int, default=0, help="debug: truncate valid/test (0: all)")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--checkpoints", default=os.path.join(ROOT, "checkpoints"))
    ap.add_argument("--onnx", default=os.path.join(ROOT, "model.onnx"))
    ap.add_argument("--metrics", default=os.path.join(ROOT, "metrics.json"))
    ap.add_argument("--slice-ref", default=os.path.join(ROOT, "data", "test_slice_reference.json"))
    ap.add_argument("--slice-tokens", type=int, default=2000)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    words, w2i = load_vocab(os.path.join(args.data, "vocab.txt"))
    V = len(words)
    train = load_stream(os.path.join(args.data, "train.txt"), w2i)
    valid = load_stream(os.path.join(args.data, "valid.txt"), w2i)
    test = load_stream(os.path.join(args.data, "test.txt"), w2i)
    if args.max_eval_tokens:
        valid, test = valid[: args.max_eval_tokens], test[: args.max_eval_tokens]
    print("vocab %d, tokens train %d valid %d test %d" % (V, train.numel(), valid.numel(), test.numel()), flush=True)

    model = LSTMLM(V, args.emb, args.hidden, args.layers, args.proj, args.dropout, not args.no_tie)
    groups, total, lstm_total, lstm_wr = param_groups(model)
    print("params: %s" % json.dumps(groups), flush=True)
    print("total %d, LSTM %d (%.1f%%), LSTM W+R %d (%.1f%%), float32 bytes %d" % (
        total, lstm_total, 100.0 * lstm_total / total, lstm_wr, 100.0 * lstm_wr / total, 4 * total), flush=True)

    train_data = batchify(train, args.batch)
    os.makedirs(args.checkpoints, exist_ok=True)
    ckpt = os.path.join(args.checkpoints, "best.pt")

    if args.optim == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    lr = args.lr
    best = float("inf")
    t_start = time.time()
    history = []
    n_batches = (train_data.size(0) - 1 + args.bptt - 1) // args.bptt
    if args.max_batches:
        n_batches = min(n_batches, args.max_batches)
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        model.train()
        h, c = model.zero_state(args.batch)
        tot, cnt = 0.0, 0
        for b in range(n_batches):
            i = b * args.bptt
            L = min(args.bptt, train_data.size(0) - 1 - i)
            x, y = train_data[i:i + L], train_data[i + 1:i + 1 + L]
            h, c = h.detach(), c.detach()
            logp, h, c = model(x, h, c)
            loss = F.nll_loss(logp.view(-1, V), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            tot += loss.item() * y.numel()
            cnt += y.numel()
            if (b + 1) % 200 == 0:
                print("  epoch %d batch %d/%d train ppl %.2f  %.1f ms/batch" % (
                    epoch, b + 1, n_batches, math.exp(tot / cnt), 1000 * (time.time() - t0) / (b + 1)), flush=True)
        train_loss = tot / cnt
        v_sum, v_n, _ = evaluate_stream(model, valid, args.bptt)  # the reference procedure
        vppl = math.exp(v_sum / v_n)
        improved = vppl < best
        if improved:
            best = vppl
            torch.save({"model": model.state_dict(), "args": vars(args), "epoch": epoch, "valid_ppl": vppl}, ckpt)
        else:
            lr /= args.anneal
            for g in opt.param_groups:
                g["lr"] = lr
        ep_time = time.time() - t0
        history.append({"epoch": epoch, "train_loss": round(train_loss, 4), "train_ppl": round(math.exp(train_loss), 2),
                        "valid_ppl": round(vppl, 2), "lr_next": lr, "epoch_s": round(ep_time, 1)})
        print("epoch %2d | train loss %.4f ppl %.2f | valid ppl %.2f%s | lr next %.4g | epoch %.1f min | elapsed %.1f min" % (
            epoch, train_loss, math.exp(train_loss), vppl, " *" if improved else "", lr, ep_time / 60,
            (time.time() - t_start) / 60), flush=True)
    train_minutes = (time.time() - t_start) / 60

    # ------------------------------------------------------------------ final: best checkpoint
    state = torch.load(ckpt)
    model.load_state_dict(state["model"])
    model.eval()
    export_onnx(model, args.onnx, args.opset)
    onnx_bytes = os.path.getsize(args.onnx)
    ops, inits = describe_onnx(args.onnx)
    print("onnx: %s, %d bytes, ops %s" % (args.onnx, onnx_bytes, json.dumps(ops)), flush=True)
    for name, dims, n in inits:
        print("  initializer %-40s %-16s %d" % (name, dims, n), flush=True)

    t0 = time.time()
    v_sum, v_n, _ = evaluate_stream(model, valid, args.bptt)
    t_sum, t_n, t_nll = evaluate_stream(model, test, args.bptt)
    s_ids = test[: args.slice_tokens]
    s_sum, s_n, s_nll = evaluate_stream(model, s_ids, args.bptt)
    import onnx_numpy_eval
    t1 = time.time()
    np_sum = onnx_numpy_eval.evaluate_file(args.onnx, s_ids.numpy(), args.bptt)
    print("numpy interpretation of the ONNX graph on the slice: nll_sum %.6f ppl %.6f (torch %.6f), %.1f s" % (
        np_sum, math.exp(np_sum / s_n), math.exp(s_sum / s_n), time.time() - t1), flush=True)
    print("reference eval: valid ppl %.4f (%d predictions), test ppl %.4f (%d), slice ppl %.4f (%d), %.1f s" % (
        math.exp(v_sum / v_n), v_n, math.exp(t_sum / t_n), t_n, math.exp(s_sum / s_n), s_n, time.time() - t0), flush=True)

    metrics = {
        "valid_perplexity": round(math.exp(v_sum / v_n), 4),
        "test_perplexity": round(math.exp(t_sum / t_n), 4),
        "valid_predictions": v_n,
        "test_predictions": t_n,
        "valid_nll_sum": v_sum,
        "test_nll_sum": t_sum,
        "best_epoch": state["epoch"],
        "evaluation": "tokens of each line + <eos>, concatenated; batch 1; inputs ids[0..N-2], targets ids[1..N-1]; "
                      "consecutive chunks of %d steps (last shorter); h,c start at zeros and are carried across chunks; "
                      "ppl = exp(sum NLL / (N-1)), NLL from the log_probs output" % args.bptt,
        "params": groups,
        "params_total": total,
        "params_lstm": lstm_total,
        "params_lstm_W_R": lstm_wr,
        "recurrent_share": round(lstm_total / total, 4),
        "onnx_bytes": onnx_bytes,
        "onnx_ops": ops,
        "onnx_initializers": {n: d for n, d, _ in inits},
        "train_minutes": round(train_minutes, 2),
        "threads": {"torch": args.threads, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")},
        "torch_version": torch.__version__,
        "hyperparameters": {k: v for k, v in vars(args).items()
                            if k not in ("data", "checkpoints", "onnx", "metrics", "slice_ref")},
        "history": history,
    }
    with open(args.metrics, "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")

    ref = {
        "description": "first %d tokens of data/test.txt (each line's tokens + <eos>), evaluated with the reference "
                       "procedure of metrics.json: batch 1, chunks of %d, state carried from zeros" % (s_ids.numel(), args.bptt),
        "tokens": s_ids.numel(),
        "predictions": s_n,
        "nll_sum": s_sum,
        "perplexity": math.exp(s_sum / s_n),
        "first_token_ids": s_ids[:40].tolist(),
        "first_nll": [round(float(v), 6) for v in s_nll[:40]],
        "onnx_numpy_perplexity": math.exp(np_sum / s_n),
    }
    with open(args.slice_ref, "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")
    print("wrote %s, %s, %s" % (args.onnx, args.metrics, args.slice_ref), flush=True)


if __name__ == "__main__":
    main()
