"""ONNX -> PyTorch -> ONNX round trips of dirnet_torch, on the committed fixtures (seconds; one thread).

    /usr/bin/python3 -m unittest discover -s python/tests
"""
import glob
import os
import sys
import unittest

import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import dirnet_torch  # noqa: E402
from fixture_inputs import FIXTURES, fixture_inputs, fixture_outputs  # noqa: E402

COMPRESSED = sorted(p for p in glob.glob(os.path.join(FIXTURES, "fine_tuning", "*.onnx"))
                    if not p.endswith((".dense.onnx", ".fine_tuned.onnx")))


def fixture_of(path):
    return os.path.basename(path).split(".")[0]


class RoundTripTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)

    def test_plain_fixtures_reproduce_pytorch_outputs(self):
        folders = [d for d in sorted(os.listdir(FIXTURES)) if os.path.exists(os.path.join(FIXTURES, d, "model.onnx"))]
        self.assertGreaterEqual(len(folders), 10)
        for fixture in folders:
            with self.subTest(fixture=fixture), torch.no_grad():
                outputs = dirnet_torch.load(os.path.join(FIXTURES, fixture, "model.onnx")).eval()(*fixture_inputs(fixture))
                for got, expected in zip(outputs, fixture_outputs(fixture)):
                    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)

    def test_factor_subgraphs_rebuild_the_same_weights_as_the_dense_export(self):
        self.assertEqual(len(COMPRESSED), 14)
        for path in COMPRESSED:
            with self.subTest(model=os.path.basename(path)), torch.no_grad():
                compressed = dirnet_torch.load(path).eval()
                dense = dirnet_torch.load(path[: -len(".onnx")] + ".dense.onnx").eval()
                self.assertTrue(any(n.startswith("dirnet/") for n in compressed.parameter_names()))
                inputs = fixture_inputs(fixture_of(path))
                for a, b in zip(compressed(*inputs), dense(*inputs)):
                    torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5)

    def test_column_indices_stored_as_uint16_load_as_the_uint8_ones_do(self):
        # Fixtures have few columns, so their sparse column indices are uint8; real models (512 columns) store uint16,
        # which torch has no tensors for. The same model with its indices widened must run alike, and save them as read.
        for path in [p for p in COMPRESSED if ".prune." in p or ".dirnet." in p]:
            with self.subTest(model=os.path.basename(path)), torch.no_grad():
                model = onnx.load(path)
                widened = [t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.UINT8]
                self.assertTrue(widened)
                for tensor in model.graph.initializer:
                    if tensor.name in widened:
                        tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor).astype("uint16"), tensor.name))
                inputs = fixture_inputs(fixture_of(path))
                wide = dirnet_torch.OnnxModule(model).eval()
                for a, b in zip(wide(*inputs), dirnet_torch.load(path).eval()(*inputs)):
                    torch.testing.assert_close(a, b, atol=0, rtol=0)
                saved = {t.name: t for t in wide.to_model().graph.initializer}
                self.assertTrue(all(saved[n].data_type == onnx.TensorProto.UINT16 for n in widened))

    def test_fine_tuning_keeps_the_structure_and_saves_what_it_trained(self):
        for path in COMPRESSED:
            with self.subTest(model=os.path.basename(path)):
                torch.manual_seed(0)
                fixture = fixture_of(path)
                student = dirnet_torch.load(path, train="factors")
                teacher = dirnet_torch.load(os.path.join(FIXTURES, fixture, "model.onnx"))
                before, after = dirnet_torch.distill(student, teacher, [fixture_inputs(fixture)], steps=15, learning_rate=3e-3)
                self.assertLess(after, 0.7 * before)

                original, saved = onnx.load(path), student.to_model()
                self.assertEqual(original.graph.node, saved.graph.node)
                self.assertEqual(original.metadata_props, saved.metadata_props)
                self.assertEqual([(t.name, t.data_type, list(t.dims)) for t in original.graph.initializer],
                                 [(t.name, t.data_type, list(t.dims)) for t in saved.graph.initializer])
                changed = 0
                scales = {t.name for t in original.graph.initializer if t.name.endswith("_scale")}
                for tensor, after in zip(original.graph.initializer, saved.graph.initializer):
                    a, b = numpy_helper.to_array(tensor), numpy_helper.to_array(after)
                    if a.dtype.kind == "f" or tensor.name + "_scale" in scales:
                        # float values, and int8 levels (trained as floats, rounded back onto the grid)
                        changed += int(not (a == b).all())
                        self.assertTrue(a.dtype.kind == "f" or (-127 <= b.min() and b.max() <= 127))
                    else:
                        self.assertTrue((a == b).all(), "indices and row starts never change")
                self.assertEqual(changed, len(student.parameter_names()))

                reloaded = dirnet_torch.OnnxModule(saved).eval()
                student.eval()
                with torch.no_grad():
                    for a, b in zip(student(*fixture_inputs(fixture)), reloaded(*fixture_inputs(fixture))):
                        # float16 factors are rounded when saved; float32 ones and int8 levels (rounded in the forward
                        # pass already) are written as they are
                        torch.testing.assert_close(a, b, atol=5e-3 if "fp16" in path else 0.0, rtol=0.0)

    def test_padded_sequences_run_as_their_unpadded_selves(self):
        model = dirnet_torch.load(os.path.join(FIXTURES, "gru_bidirectional", "model.onnx")).eval()
        x = fixture_inputs("gru_bidirectional")[0]  # [7, 3, 8]; outputs Y [7, 3, 32] and Y_h [2, 3, 16]
        with torch.no_grad():
            y, h = model(x, sequence_lengths=torch.tensor([7, 5, 7]))
            y_alone, h_alone = model(x[:5, 1:2])
        torch.testing.assert_close(y[:5, 1:2], y_alone)
        torch.testing.assert_close(h[:, 1:2], h_alone)
        self.assertTrue((y[5:, 1] == 0).all(), "steps past a sequence's length are zero, as ONNX's sequence_lens defines")

    def test_unsupported_operators_are_named(self):
        model = onnx.load(os.path.join(FIXTURES, "lstm_1layer", "model.onnx"))
        model.graph.node[0].op_type = "Einsum"
        with self.assertRaisesRegex(NotImplementedError, "Einsum"):
            dirnet_torch.OnnxModule(model)

    def test_saving_refuses_non_finite_values_and_leaves_no_file(self):
        model = dirnet_torch.load(COMPRESSED[0], train="factors")
        with torch.no_grad():
            model.initializer(model.parameter_names()[0])[0] = float("nan")
        target = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"dirnet-torch-nan-{os.getpid()}.onnx")
        with self.assertRaisesRegex(ValueError, "non-finite"):
            model.save(target)
        self.assertFalse(os.path.exists(target))


if __name__ == "__main__":
    unittest.main()
