#!/usr/bin/python3
"""Fine-tune a compressed language model (written by `dirnet compress` or the sample) with the original training loss,
keeping its compressed structure, and write it back in the same ONNX layout.

  dotnet run --project src/Microsoft.ML.DirNet.Cli -c Release -- compress samples/LanguageModel/model.onnx \\
      -o artifacts/lm-dirnet-10x-int8.onnx --method dirnet --ratio 10 --scope recurrent --precision int8
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 samples/LanguageModel/scripts/fine_tune_lm.py \\
      --model artifacts/lm-dirnet-10x-int8.onnx --output artifacts/lm-dirnet-10x-int8-ft.onnx
  dotnet run --project src/Microsoft.ML.DirNet.Cli -c Release -- eval artifacts/lm-dirnet-10x-int8-ft.onnx \\
      --task lm --data samples/LanguageModel/data --tokens 5000

The model runs through dirnet_torch (python/): every float initializer is a parameter (the compressed matrices'
factors, the embedding, projection and decoder), indices and sizes stay as compressed. Training is train_lm.py's:
truncated BPTT over train.txt (prepare_data.py makes it), batch 32 x 35 steps, state carried and detached, Adam,
gradient-norm clipping 0.25, dropout 0.4 on the recurrent layers' inputs and the last one's output, 5 epochs with the
learning rate decayed along a half cosine (--schedule constant keeps it fixed, as train_lm.py). After each epoch (and
at the time limit) the validation perplexity is measured with the reference procedure on the first --valid-tokens of
valid.txt; the best model is written.

With --teacher (an uncompressed model in the same layout, e.g. the original fine-tuned by this recipe as the control),
the loss is (1 - w)·cross-entropy + w·KL(teacher ‖ student) over the next-word distributions, w = --distill-weight: the
teacher runs alongside on the same batches with its own carried state, without dropout or gradients.
"""
import argparse
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "..", "..", "python"))
sys.path.insert(0, HERE)
import dirnet_torch  # noqa: E402
from train_lm import batchify, load_stream, load_vocab  # noqa: E402


def zero_state(model, batch):
    """(h0, c0) of zeros, shaped as the graph's h0 input ([layers, batch, hidden])."""
    dims = [d.dim_value for d in model.model.graph.input[1].type.tensor_type.shape.dim]
    return torch.zeros(dims[0], batch, dims[2]), torch.zeros(dims[0], batch, dims[2])


@torch.no_grad()
def perplexity(model, ids, chunk=35):
    """The reference procedure of train_lm.evaluate_stream: batch 1, chunks of 35, state carried from zeros."""
    model.eval()
    h, c = zero_state(model, 1)
    total, count = 0.0, 0
    for i in range(0, ids.numel() - 1, chunk):
        length = min(chunk, ids.numel() - 1 - i)
        logp, h, c = model(ids[i:i + length].view(length, 1), h, c)
        total -= logp.gather(2, ids[i + 1:i + 1 + length].view(length, 1, 1)).sum().item()
        count += length
    return math.exp(total / count)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the compressed ONNX to fine-tune (never modified)")
    ap.add_argument("--output", required=True, help="where to write the fine-tuned ONNX")
    ap.add_argument("--data", default=os.path.join(ROOT, "data"))
    ap.add_argument("--train", choices=["all", "factors"], default="all", help="which float initializers train")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--schedule", choices=["constant", "cosine"], default="cosine",
                    help="learning rate: constant, or decayed along a half cosine to 5 %% of --lr over --epochs")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=35)
    ap.add_argument("--clip", type=float, default=0.25)
    ap.add_argument("--dropout", type=float, default=0.4)
    ap.add_argument("--valid-tokens", type=int, default=10000, help="validation tokens per check (0: all)")
    ap.add_argument("--time-limit", type=float, default=55, help="minutes; stops, validates and writes at the limit")
    ap.add_argument("--teacher", help="an uncompressed model whose next-word distributions the loss also matches")
    ap.add_argument("--distill-weight", type=float, default=0.5, help="w in (1 - w)·CE + w·KL(teacher ‖ student)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (OpenBLAS threads come from OPENBLAS_NUM_THREADS)")
    args = ap.parse_args()
    dirnet_torch.restart_with_huge_pages()  # malloc's fresh tensors on 2 MB pages: see dirnet_torch/huge_pages.py

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    start = time.time()

    words, w2i = load_vocab(os.path.join(args.data, "vocab.txt"))
    train_path = os.path.join(args.data, "train.txt")
    if not os.path.exists(train_path):
        sys.exit(f"error: {train_path} is missing; make it with samples/LanguageModel/scripts/prepare_data.py")
    train = batchify(load_stream(train_path, w2i), args.batch)
    valid = load_stream(os.path.join(args.data, "valid.txt"), w2i)
    if args.valid_tokens:
        valid = valid[: args.valid_tokens]

    model = dirnet_torch.load(args.model, train=args.train, dropout=args.dropout)
    parameters = list(model.parameters())
    teacher = None
    if args.teacher:
        if not 0 <= args.distill_weight <= 1:
            sys.exit(f"error: --distill-weight {args.distill_weight} is outside [0, 1]")
        teacher = dirnet_torch.load(args.teacher)
        for p in teacher.parameters():
            p.requires_grad_(False)
        teacher.eval()
        print(f"teacher {args.teacher}: valid ppl {perplexity(teacher, valid):.2f}; distillation weight {args.distill_weight}", flush=True)
    print(f"{args.model}: {len(model.parameter_names())} trainable initializers, {sum(p.numel() for p in parameters):,} values", flush=True)
    best = perplexity(model, valid)
    print(f"before fine-tuning: valid ppl {best:.2f} ({valid.numel() - 1} predictions)", flush=True)
    note = {"recipe": "samples/LanguageModel/scripts/fine_tune_lm.py", "train": args.train, "lr": args.lr,
            "schedule": args.schedule, "batch": args.batch, "bptt": args.bptt,
            "dropout": args.dropout, "valid_ppl_before": round(best, 3)}
    if teacher is not None:
        note.update(teacher=os.path.basename(args.teacher), distill_weight=args.distill_weight)
    model.save(args.output, note=dict(note, epochs=0, valid_ppl=round(best, 3)))

    optimizer = torch.optim.Adam(parameters, lr=args.lr)
    batches = (train.size(0) - 1 + args.bptt - 1) // args.bptt
    out_of_time = False
    for epoch in range(1, args.epochs + 1):
        model.train()
        h, c = zero_state(model, args.batch)
        th, tc = zero_state(model, args.batch)
        total, count, began = 0.0, 0, time.time()
        for b in range(batches):
            i = b * args.bptt
            length = min(args.bptt, train.size(0) - 1 - i)
            x, y = train[i:i + length], train[i + 1:i + 1 + length]
            if args.schedule == "cosine":
                for group in optimizer.param_groups:
                    group["lr"] = dirnet_torch.cosine_learning_rate(args.lr, (epoch - 1) * batches + b, args.epochs * batches)
            logp, h, c = model(x, h.detach(), c.detach())
            logp = logp.reshape(-1, logp.shape[-1])
            cross_entropy = F.nll_loss(logp, y.reshape(-1))
            loss = cross_entropy
            if teacher is not None:
                with torch.no_grad():
                    teacher_logp, th, tc = teacher(x, th, tc)
                divergence = F.kl_div(logp, teacher_logp.reshape(-1, logp.shape[-1]), reduction="batchmean", log_target=True)
                loss = (1 - args.distill_weight) * cross_entropy + args.distill_weight * divergence
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, args.clip)
            optimizer.step()
            total += cross_entropy.item() * y.numel()
            count += y.numel()
            if (b + 1) % 100 == 0:
                print(f"  epoch {epoch} batch {b + 1}/{batches} train ppl {math.exp(total / count):.2f} "
                      f"{1000 * (time.time() - began) / (b + 1):.0f} ms/batch", flush=True)
            if time.time() - start > 60 * args.time_limit:
                out_of_time = True
                break
        ppl = perplexity(model, valid)
        print(f"epoch {epoch}{' (time limit)' if out_of_time else ''}: train ppl {math.exp(total / count):.2f}, "
              f"valid ppl {ppl:.2f}, {(time.time() - start) / 60:.1f} min", flush=True)
        if ppl < best:
            best = ppl
            model.save(args.output, note=dict(note, epochs=epoch if not out_of_time else epoch - 1 + (b + 1) / batches, valid_ppl=round(ppl, 3)))
            print(f"  wrote {args.output}", flush=True)
        if out_of_time:
            break
    print(f"best valid ppl {best:.2f}; {(time.time() - start) / 60:.1f} min in all", flush=True)


if __name__ == "__main__":
    main()
