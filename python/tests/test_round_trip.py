"""ONNX -> PyTorch -> ONNX round trips of dirnet_torch, on the committed fixtures (seconds; one thread).

    /usr/bin/python3 -m unittest discover -s python/tests
"""
import glob
import os
import sys
import unittest

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import dirnet_torch  # noqa: E402
from dirnet_torch.low_bit import low_bit_arrays  # noqa: E402
from fixture_inputs import FIXTURES, fixture_inputs, fixture_outputs  # noqa: E402

COMPRESSED = sorted(p for p in glob.glob(os.path.join(FIXTURES, "fine_tuning", "*.onnx"))
                    if not p.endswith((".dense.onnx", ".fine_tuned.onnx")))
LOW_BIT_PRECISIONS = ("int4", "int3", "int2", "ternary")


def fixture_of(path):
    return os.path.basename(path).split(".")[0]


def is_low_bit(path):
    """Whether a compressed fixture stores any array in a low-bit precision (auto chooses its precisions per matrix,
    so the file's metadata says, not its name)."""
    return bool(low_bit_arrays(dirnet_torch.compression_metadata(onnx.load(path))))


def saved_low_bit_levels(model):
    """{name: (grid, levels)} of every low-bit array of an ``onnx.ModelProto``, its stored bytes unpacked."""
    arrays = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    found = {}
    for name, (grid, shape) in low_bit_arrays(dirnet_torch.compression_metadata(model)).items():
        if name in arrays:
            rows, columns = (shape[0], shape[1]) if len(shape) == 2 else (1, int(np.prod(shape)))
            found[name] = (grid, grid.unpack(arrays[name], rows * columns))
    return found


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
        self.assertEqual(len(COMPRESSED), 24)
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
                # Low-bit values start on their grid and change the file only once they have moved half a step (a
                # few dozen steps at this rate); until then their scales get no gradient either.
                steps = 60 if is_low_bit(path) else 15
                before, after = dirnet_torch.distill(student, teacher, [fixture_inputs(fixture)], steps=steps, learning_rate=3e-3)
                self.assertLess(after, 0.7 * before)

                original, saved = onnx.load(path), student.to_model()
                self.assertEqual(original.graph.node, saved.graph.node)
                self.assertEqual(original.metadata_props, saved.metadata_props)
                self.assertEqual([(t.name, t.data_type, list(t.dims)) for t in original.graph.initializer],
                                 [(t.name, t.data_type, list(t.dims)) for t in saved.graph.initializer])
                changed, changed_levels = 0, 0
                scales = {t.name for t in original.graph.initializer if t.name.endswith("_scale")}
                low_bit = saved_low_bit_levels(saved)
                for tensor, after in zip(original.graph.initializer, saved.graph.initializer):
                    a, b = numpy_helper.to_array(tensor), numpy_helper.to_array(after)
                    if tensor.name in low_bit:
                        # packed levels, re-derived from the trained values and scales: on the grid, and (ternary) five
                        # base-3 digits to a byte; the zero points beside them are fixed and checked below. A level
                        # moves once its value has crossed a rounding boundary, which a short array may not do yet.
                        changed_levels += int(not (a == b).all())
                        grid, levels = low_bit[tensor.name]
                        self.assertTrue(levels.max() < grid.levels and (not grid.ternary or b.max() <= 242))
                    elif a.dtype.kind == "f" or tensor.name + "_scale" in scales:
                        # float values, and int8 levels (trained as floats, rounded back onto the grid)
                        changed += int(not (a == b).all())
                        self.assertTrue(a.dtype.kind == "f" or (-127 <= b.min() and b.max() <= 127))
                    else:
                        self.assertTrue((a == b).all(), "indices and row starts never change")
                self.assertEqual(changed, len(student.parameter_names()) - len(low_bit))
                self.assertGreaterEqual(changed_levels, 0.75 * len(low_bit))

                reloaded = dirnet_torch.OnnxModule(saved).eval()
                student.eval()
                with torch.no_grad():
                    for a, b in zip(student(*fixture_inputs(fixture)), reloaded(*fixture_inputs(fixture))):
                        # float16 factors are rounded when saved; float32 ones, int8 and low-bit levels and low-bit
                        # scales (rounded in the forward pass already) are written as they are
                        torch.testing.assert_close(a, b, atol=5e-3 if "fp16" in path else 0.0, rtol=0.0)

    def test_loading_and_saving_without_training_keeps_every_initializer_byte_for_byte(self):
        self.assertEqual(sum(is_low_bit(p) for p in COMPRESSED), 10)
        for path in COMPRESSED:
            with self.subTest(model=os.path.basename(path)):
                original, saved = onnx.load(path), dirnet_torch.load(path).to_model()
                self.assertEqual([t.SerializeToString() for t in original.graph.initializer],
                                 [t.SerializeToString() for t in saved.graph.initializer])

    def test_low_bit_values_unpack_to_what_the_dense_export_holds(self):
        # The dense export holds each rebuilt matrix as .NET dequantizes and multiplies it; the module's own unpacking
        # (its initial parameters) and the graph's integer rebuild run in PyTorch must give the same weights.
        for path in [p for p in COMPRESSED if is_low_bit(p)]:
            with self.subTest(model=os.path.basename(path)), torch.no_grad():
                module = dirnet_torch.load(path)
                dense = {t.name: numpy_helper.to_array(t) for t in onnx.load(path[: -len(".onnx")] + ".dense.onnx").graph.initializer}
                rebuilt = module.rebuilt_initializers()
                self.assertEqual(set(rebuilt), {e["name"] for e in module.metadata["initializers"]})
                for name, value in rebuilt.items():
                    # whole matrices (the quant method) are the dequantized values themselves; products of factors
                    # may sum in another order
                    exact = ".quant-" in path
                    np.testing.assert_allclose(value.numpy(), dense[name], rtol=0, atol=0 if exact else 1e-6, err_msg=name)
                if ".quant-" in path:
                    for entry in module.metadata["initializers"]:
                        for direction, matrix in enumerate(entry["matrices"]):
                            values = module.initializer(f"dirnet/{entry['name']}/{direction}/weight").numpy()
                            expected = dense[entry["name"]][direction] if len(entry["shape"]) == 3 else dense[entry["name"]]
                            np.testing.assert_array_equal(values.reshape(expected.shape) if not entry["transposed"] else values.T, expected)

    def test_one_training_step_moves_low_bit_values_and_keeps_their_levels_on_the_grid(self):
        for path in [p for p in COMPRESSED if is_low_bit(p)]:
            with self.subTest(model=os.path.basename(path)):
                fixture = fixture_of(path)
                student = dirnet_torch.load(path, train="factors")
                teacher = dirnet_torch.load(os.path.join(FIXTURES, fixture, "model.onnx"))
                original = onnx.load(path)
                # Adam's first step moves every value by the learning rate: about half a grid step (the median scale)
                # moves many across a rounding boundary
                scales = np.concatenate([numpy_helper.to_array(t).astype(np.float32).ravel() for t in original.graph.initializer
                                         if t.name.endswith("_scale") and t.data_type == onnx.TensorProto.FLOAT16])
                dirnet_torch.distill(student, teacher, [fixture_inputs(fixture)], steps=1, learning_rate=0.6 * float(np.median(scales)))
                saved = student.to_model()
                before, after = saved_low_bit_levels(original), saved_low_bit_levels(saved)
                self.assertTrue(before)
                self.assertTrue(any((before[n][1] != after[n][1]).any() for n in before), "levels moved")
                for name, (grid, levels) in after.items():
                    self.assertTrue(0 <= levels.min() and levels.max() < grid.levels, name)
                zeros = {t.name: t for t in original.graph.initializer if t.name.endswith("_zero")}
                self.assertEqual(len(zeros), sum(not grid.ternary for grid, _ in before.values()))
                for tensor in saved.graph.initializer:
                    if tensor.name in zeros:
                        self.assertEqual(tensor.SerializeToString(), zeros[tensor.name].SerializeToString(), "zero points are fixed")
                reloaded = dirnet_torch.OnnxModule(saved).eval()
                student.eval()
                with torch.no_grad():
                    for a, b in zip(student(*fixture_inputs(fixture)), reloaded(*fixture_inputs(fixture))):
                        torch.testing.assert_close(a, b, atol=0.0, rtol=0.0)

    def test_low_bit_packing_is_the_layout_dotnet_writes(self):
        from dirnet_torch.low_bit import LowBitGrid
        # int4: two to a byte, the first in the low nibble; int3: eight in three bytes; ternary: base 3, first digit lowest
        self.assertEqual(LowBitGrid("int4", 32).pack([1, 2, 15]).tolist(), [0x21, 0x0F])
        self.assertEqual(LowBitGrid("int2", 32).pack([3, 0, 1, 2, 1]).tolist(), [0b10010011, 0b01])
        int3 = sum(level << (3 * k) for k, level in enumerate(range(8)))
        self.assertEqual(LowBitGrid("int3", 64).pack(list(range(8))).tolist(), [int3 & 255, int3 >> 8 & 255, int3 >> 16])
        self.assertEqual(LowBitGrid("ternary", 32).pack([1, 2, 0, 1, 2, 2]).tolist(), [1 + 2 * 3 + 27 + 2 * 81, 2])
        rng = np.random.default_rng(0)
        for precision in LOW_BIT_PRECISIONS:
            grid = LowBitGrid(precision, 32)
            for count in (1, 7, 8, 9, 40, 101):
                levels = rng.integers(0, grid.levels, count)
                packed = grid.pack(levels)
                self.assertEqual(len(packed), grid.packed_bytes(count))
                np.testing.assert_array_equal(grid.unpack(packed, count), levels)
            with self.assertRaises(ValueError):
                grid.pack([grid.levels])

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
