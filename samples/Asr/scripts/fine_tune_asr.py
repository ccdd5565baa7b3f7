#!/usr/bin/python3
"""Fine-tune a compressed speech recogniser (written by `dirnet compress` or the sample) with the original CTC loss,
keeping its compressed structure, and write it back in the same ONNX layout.

  dotnet run --project src/Microsoft.ML.DirNet.Cli -c Release -- compress samples/Asr/model.onnx \\
      -o artifacts/asr-dirnet-8x.onnx --method dirnet --ratio 8 --scope recurrent
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 samples/Asr/scripts/fine_tune_asr.py \\
      --model artifacts/asr-dirnet-8x.onnx --output artifacts/asr-dirnet-8x-ft.onnx --time-limit 50
  dotnet run --project src/Microsoft.ML.DirNet.Cli -c Release -- eval artifacts/asr-dirnet-8x-ft.onnx \\
      --task asr --data samples/Asr/data/test --utterances 100

The model runs through dirnet_torch (python/): every float initializer is a parameter (the compressed GRU matrices'
factors, the output layer), indices and sizes stay as compressed; int8 factors train in real units and are rounded
back to their levels. Training is train_asr.py's: the features of features.py over data/train (make_data.py makes
it), length-sorted batches of at most 12,000 padded frames run as packed sequences (the ONNX graph's frame stacking
gives floor(T / 3) steps), CTC loss, Adam, gradient-norm clipping 5, dropout 0.1 on the recurrent layers' inputs and
the last one's output, learning rate --lr with a cosine decay over the run. At the time limit the validation CER is
measured on the first --valid-utterances of data/valid and the best model is written.
"""
import argparse
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "..", "..", "python"))
sys.path.insert(0, HERE)
import dirnet_torch  # noqa: E402
from train_asr import collate, error_rates, greedy_decode, load_alphabet, load_split, make_batches  # noqa: E402

STACK = 3  # frames per step of the recurrent layers (the graph's frame stacking)


@torch.no_grad()
def character_error_rate(model, items, table):
    """Greedy CTC decoding of each utterance alone (batch 1, no padding: the reference procedure)."""
    model.eval()
    hyps = [greedy_decode(model(torch.from_numpy(it["feats"])[None])[0][0].numpy(), table) for it in items]
    return error_rates([it["text"] for it in items], hyps)["cer"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the compressed ONNX to fine-tune (never modified)")
    ap.add_argument("--output", required=True, help="where to write the fine-tuned ONNX")
    ap.add_argument("--data", default=os.path.join(ROOT, "data"))
    ap.add_argument("--train", choices=["all", "factors"], default="all", help="which float initializers train")
    ap.add_argument("--train-utterances", type=int, default=0, help="use only the first N training utterances (0: all)")
    ap.add_argument("--valid-utterances", type=int, default=150)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--max-frames", type=int, default=12000)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=600, help="training steps (batches); the learning rate decays over them")
    ap.add_argument("--validate-every", type=int, default=200)
    ap.add_argument("--time-limit", type=float, default=55, help="minutes; stops, validates and writes at the limit")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    dirnet_torch.restart_with_huge_pages()  # malloc's fresh tensors on 2 MB pages: see dirnet_torch/huge_pages.py

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    start = time.time()

    table = load_alphabet(os.path.join(args.data, "alphabet.txt"))
    train_folder = os.path.join(args.data, "train")
    if not os.path.exists(os.path.join(train_folder, "manifest.tsv")):
        sys.exit(f"error: {train_folder}/manifest.tsv is missing; make the data with samples/Asr/scripts/make_data.py")
    train = load_split(train_folder, table, args.train_utterances or None)
    valid = load_split(os.path.join(args.data, "valid"), table, args.valid_utterances)
    print(f"features: {len(train)} training and {len(valid)} validation utterances, {time.time() - start:.0f} s", flush=True)

    model = dirnet_torch.load(args.model, train=args.train, dropout=args.dropout)
    parameters = list(model.parameters())
    print(f"{args.model}: {len(model.parameter_names())} trainable initializers, {sum(p.numel() for p in parameters):,} values", flush=True)
    best = character_error_rate(model, valid, table)
    print(f"before fine-tuning: valid CER {best:.4f}", flush=True)
    note = {"recipe": "samples/Asr/scripts/fine_tune_asr.py", "train": args.train, "lr": args.lr, "dropout": args.dropout,
            "valid_cer_before": round(best, 4)}
    model.save(args.output, note=dict(note, steps=0, valid_cer=round(best, 4)))

    optimizer = torch.optim.Adam(parameters, lr=args.lr)
    ctc = nn.CTCLoss(blank=0, reduction="mean", zero_infinity=True)
    batches = make_batches(train, args.max_frames, args.max_batch, random.Random(args.seed))
    step, total, began = 0, 0.0, time.time()
    while step < args.steps:
        for idx in batches:
            for group in optimizer.param_groups:
                group["lr"] = dirnet_torch.cosine_learning_rate(args.lr, step, args.steps)
            x, lengths, targets, target_lengths = collate(train, idx)
            steps_per_sequence = torch.div(lengths, STACK, rounding_mode="floor")
            model.train()
            (log_probs,) = model(x, sequence_lengths=steps_per_sequence)
            loss = ctc(log_probs.transpose(0, 1), targets, steps_per_sequence, target_lengths)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(parameters, args.clip)
            optimizer.step()
            step += 1
            total += loss.item()
            out_of_time = time.time() - start > 60 * args.time_limit
            if step % 25 == 0:
                print(f"  step {step}/{args.steps} loss {total / 25:.3f} {1000 * (time.time() - began) / 25:.0f} ms/batch", flush=True)
                total, began = 0.0, time.time()
            if step % args.validate_every == 0 or step == args.steps or out_of_time:
                cer = character_error_rate(model, valid, table)
                print(f"step {step}{' (time limit)' if out_of_time else ''}: valid CER {cer:.4f}, {(time.time() - start) / 60:.1f} min", flush=True)
                if cer < best:
                    best = cer
                    model.save(args.output, note=dict(note, steps=step, valid_cer=round(cer, 4)))
                    print(f"  wrote {args.output}", flush=True)
            if step == args.steps or out_of_time:
                break
        if out_of_time:
            break
    print(f"best valid CER {best:.4f}; {(time.time() - start) / 60:.1f} min in all", flush=True)


if __name__ == "__main__":
    main()
