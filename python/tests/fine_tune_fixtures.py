#!/usr/bin/python3
"""Fine-tunes every compressed fixture in FOLDER (see make_fixtures.sh), or those of the VARIANTs given (e.g.
quant-int4, the part of the name after the fixture's), for 60 distillation steps towards the original fixture's outputs
on its test inputs, and writes FOLDER/<name>.fine_tuned.onnx. Deterministic (seed 0, one thread).

    fine_tune_fixtures.py FOLDER [VARIANT ...]
"""
import glob
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import dirnet_torch  # noqa: E402
from fixture_inputs import FIXTURES, fixture_inputs  # noqa: E402


def main(folder, variants=()):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    for path in sorted(glob.glob(os.path.join(folder, "*.onnx"))):
        name = os.path.basename(path)
        if name.endswith((".dense.onnx", ".fine_tuned.onnx")):
            continue
        fixture, variant = name.split(".")[:2]
        if variants and variant not in variants:
            continue
        student = dirnet_torch.load(path)
        teacher = dirnet_torch.load(os.path.join(FIXTURES, fixture, "model.onnx"))
        first, last = dirnet_torch.distill(student, teacher, [fixture_inputs(fixture)], steps=60, learning_rate=3e-3)
        student.save(path[: -len(".onnx")] + ".fine_tuned.onnx", note={"recipe": "distillation", "steps": 60, "learning_rate": 3e-3})
        print(f"{name}: distillation loss {first:.3e} -> {last:.3e}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
