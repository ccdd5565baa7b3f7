"""The committed PyTorch fixtures' test inputs and outputs (tests/Microsoft.ML.DirNet.Tests/Fixtures/*/test_data_set_0)."""
import glob
import os

import onnx
import torch
from onnx import numpy_helper

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "Microsoft.ML.DirNet.Tests", "Fixtures"))


def _read(fixture, prefix):
    files = sorted(glob.glob(os.path.join(FIXTURES, fixture, "test_data_set_0", f"{prefix}_*.pb")))
    return tuple(torch.from_numpy(numpy_helper.to_array(onnx.load_tensor(f)).copy()) for f in files)


def fixture_inputs(fixture):
    return _read(fixture, "input")


def fixture_outputs(fixture):
    return _read(fixture, "output")
