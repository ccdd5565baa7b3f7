"""A PyTorch module that runs an ONNX graph (a compressed one written by Microsoft.ML.DirNet, or any recurrent model
the library reads) with its floating-point initializers as trainable parameters.

In a compressed file every compressed matrix is a small subgraph of standard ops over its factors (dictionary times
sparse codes, HMD's dense rows and rank-1 blocks, low-rank factors, pruned values at fixed positions). Running that
subgraph here, rather than re-implementing each method, keeps the structure exactly what the file says: only the
factors' values are parameters; their indices, row starts and shapes are integer initializers and never change, so
the sparsity pattern and every size stay fixed while the values train. What depends on no parameter and no input (the
integer index arithmetic of the sparse rebuilds) is computed once when the module is built.
"""
import json
import os

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from .low_bit import SCALE as LOW_BIT_SCALE, ZERO as LOW_BIT_ZERO, layout as low_bit_layout, low_bit_arrays
from .operators import DTYPES, OPERATORS
from .recurrent import run_recurrent

METADATA_KEY = "dirnet.compression"
FINE_TUNING_KEY = "dirnet.fine_tuning"  # what save(note=...) records; `dirnet inspect` shows it
INT8_SCALE = "{}_scale"  # the row scales stored beside an int8 factor
WIDENED_INTEGERS = (np.uint16, np.uint32, np.uint64)
FACTOR_PREFIX = "dirnet/"
RECURRENT = ("LSTM", "GRU", "RNN")


class OnnxModule(torch.nn.Module):
    """Runs ``model`` (an ``onnx.ModelProto``); ``forward(*inputs)`` takes the graph inputs in order and returns its
    outputs as a tuple.

    ``train`` chooses the parameters: ``"all"`` (every float initializer: the factors and the dense layers around them,
    as a full fine-tuning) or ``"factors"`` (only the compressed matrices' factors). The other floats are buffers.
    ``dropout`` is applied, in training mode only, to the input sequence of every recurrent node and to the output
    sequence of the last one, where PyTorch models usually drop out (the exported graph has lost the training dropout).
    """

    def __init__(self, model, train="all", dropout=0.0):
        super().__init__()
        if train not in ("all", "factors"):
            raise ValueError(f"train must be 'all' or 'factors', not {train!r}")
        self.model = model
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.dropout = dropout
        self.metadata = compression_metadata(model)
        self._slots = {}  # initializer name -> ("param" | "buffer", attribute name)
        self._stored_types = {}
        # int8 factors (levels stored as int8, with a float scale per row in "<name>_scale") train as float values in
        # real units, P = level x scale; the forward pass turns them back into levels, round(P / scale), with a
        # straight-through gradient, so each trains at the learning rate of the float weights and the file stays on
        # the int8 grid. A row's scale is the scale of a matrix row: the levels' first axis, or for the values of
        # sparse rows (codes, pruned weights) the row their "<prefix>row_starts" gives each entry.
        arrays = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self._levels = {}
        # Low-bit arrays (int4, int3, int2, ternary: packed uint8 levels, float16 scales per group of values along a
        # row, packed zero points) train likewise as float values in real units, [rows, columns]: the forward pass puts
        # them on the grid, clamp(round(value / scale) + zero, 0, levels - 1) - zero, with a straight-through gradient,
        # where the graph's rebuild casts its unpacked levels minus zero points to float. The group scales train as
        # multipliers of the stored ones (the parameter "<name>_scale" starts at 1): a scale is a few hundredths and a
        # step in real units at a learning rate meant for the values would wreck it, where a relative step does not.
        # Each forward pass rounds the scales to float16, as they are stored, so the saved file computes what trained.
        # The zero points stay fixed. The integer unpacking nodes still run once, on the stored bytes, and must give
        # the levels unpacked here.
        self._low_bit = {}
        for name, (grid, shape) in low_bit_arrays(self.metadata).items():
            if name not in arrays:
                continue
            rows, columns = low_bit_layout(shape)
            groups = grid.groups_per_row(columns)
            scales = arrays.get(LOW_BIT_SCALE.format(name))
            zeros = arrays.get(LOW_BIT_ZERO.format(name))
            if (arrays[name].dtype != np.uint8 or arrays[name].ndim != 1 or arrays[name].size != grid.packed_bytes(rows * columns)
                    or scales is None or scales.dtype != np.float16 or list(scales.shape) != [rows, groups]
                    or (zeros is None) == grid.has_zero_points):
                raise ValueError(f"low-bit array '{name}' ({grid.precision}, shape {shape}) is not stored as packed uint8 levels, "
                                 f"float16 scales [{rows}, {groups}]{' and packed zero points' if grid.has_zero_points else ''}")
            column_groups = torch.arange(columns) // grid.group
            levels = torch.from_numpy(grid.unpack(arrays[name], rows * columns).reshape(rows, columns))
            zero = (torch.from_numpy(grid.unpack(zeros, rows * groups).reshape(rows, groups))[:, column_groups] if grid.has_zero_points
                    else torch.ones(rows, columns, dtype=torch.int64))
            self._low_bit[name] = {"grid": grid, "levels": levels, "zero": zero.float(), "column_groups": column_groups,
                                   "packed": torch.from_numpy(arrays[name].copy()), "scales": torch.from_numpy(scales.astype(np.float32))}
        self._low_bit_scale_of = scale_of = {LOW_BIT_SCALE.format(name): name for name in self._low_bit}
        for name, levels in arrays.items():
            if levels.dtype == np.int8 and INT8_SCALE.format(name) in arrays:
                starts = arrays.get(name[: -len("values")] + "row_starts") if name.endswith("values") else None
                entry_rows = None if levels.ndim == 2 else torch.from_numpy(np.repeat(np.arange(len(starts) - 1), np.diff(starts)))
                self._levels[name] = (INT8_SCALE.format(name), entry_rows)
        for k, tensor in enumerate(model.graph.initializer):
            array = arrays[tensor.name]
            if array.dtype in WIDENED_INTEGERS:
                # Column indices of sparse rows are stored as uint16 for up to 65,536 columns (uint32 beyond), which
                # torch has no tensors for; indices are fixed buffers, never written back, so they widen to int64.
                array = array.astype(np.int64)
            value = torch.from_numpy(array.copy())
            self._stored_types[tensor.name] = tensor.data_type
            attribute = f"initializer_{k}"
            if tensor.name in self._levels:
                value = value.float() * self._entry_scales(tensor.name, torch.from_numpy(arrays[INT8_SCALE.format(tensor.name)].copy()))
            if tensor.name in self._low_bit:
                entry = self._low_bit[tensor.name]
                value = (entry["levels"] - entry["zero"]) * entry["scales"][:, entry["column_groups"]]
            if tensor.name in scale_of:
                value = torch.ones_like(self._low_bit[scale_of[tensor.name]]["scales"])
            if value.dtype in (torch.float16, torch.float32, torch.float64):
                # Values stored as float16 train in float32 and are rounded back when saved.
                value = value.float()
                trainable = train == "all" or tensor.name.startswith(FACTOR_PREFIX)
                if trainable:
                    self.register_parameter(attribute, torch.nn.Parameter(value))
                    self._slots[tensor.name] = ("param", attribute)
                    continue
            self.register_buffer(attribute, value)
            self._slots[tensor.name] = ("buffer", attribute)

        for node in model.graph.node:
            if node.domain not in ("", "ai.onnx") or (node.op_type not in OPERATORS and node.op_type not in RECURRENT):
                raise NotImplementedError(
                    f"node '{node.name}': operator {node.domain or 'ai.onnx'}.{node.op_type} is not supported by the PyTorch rebuild")
        self._attributes = [{a.name: helper.get_attribute_value(a) for a in node.attribute} for node in model.graph.node]
        self.input_names = [i.name for i in model.graph.input if i.name not in self._slots]
        self.output_names = [o.name for o in model.graph.output]
        self._static = self._fold_static()
        self._find_low_bit_levels()
        recurrent = [n.name for n in model.graph.node if n.op_type in RECURRENT]
        self._last_recurrent = recurrent[-1] if recurrent else None

    def parameter_names(self):
        """The initializer names that are parameters, in file order."""
        return [name for name, (kind, _) in self._slots.items() if kind == "param"]

    def initializer(self, name):
        """The current value of an initializer (a parameter or a buffer)."""
        return getattr(self, self._slots[name][1])

    def _fold_static(self):
        """Values that depend on no parameter and no graph input, computed once."""
        static = {name: self.initializer(name) for name, (kind, _) in self._slots.items() if kind == "buffer"}
        static.update((name, entry["packed"]) for name, entry in self._low_bit.items())
        static.update((LOW_BIT_SCALE.format(name), entry["scales"]) for name, entry in self._low_bit.items()
                      if LOW_BIT_SCALE.format(name) in static)
        static[""] = None
        with torch.no_grad():
            for node, attributes in zip(self.model.graph.node, self._attributes):
                if node.op_type not in RECURRENT and all(i in static for i in node.input):
                    outputs = OPERATORS[node.op_type]([static[i] for i in node.input], attributes, self.opset)
                    static.update(zip(node.output, outputs))
        return static

    def _find_low_bit_levels(self):
        """Finds, for every low-bit array, the float Casts of its unpacked levels minus zero points (the float values
        computed from its packed bytes: one per rebuild that reads them, several for a dictionary that matrices share),
        which the forward pass replaces by the levels of the trained values."""
        for name, entry in self._low_bit.items():
            reached, centred = {name}, []
            for node, attributes in zip(self.model.graph.node, self._attributes):
                if any(i in reached for i in node.input):
                    if node.op_type == "Cast" and DTYPES[attributes["to"]].is_floating_point:
                        centred.append(node.output[0])
                    else:
                        reached.update(node.output)
            expected = (entry["levels"] - entry["zero"]).float()
            for found in [self._static.get(c) for c in centred] or [None]:
                if found is None or found.shape != expected.shape or not torch.equal(found.float(), expected):
                    raise ValueError(f"the rebuild of low-bit array '{name}' does not unpack its levels as {entry['grid'].precision} packing defines")
            entry["centred"] = centred
        # What the trained levels reach is computed in every forward pass, not once (the centred levels themselves stay
        # folded, so their node is skipped and the forward pass's value stands).
        reached = {c for entry in self._low_bit.values() for c in entry["centred"]}
        for node in self.model.graph.node:
            if any(i in reached for i in node.input):
                reached.update(node.output)
                for output in node.output:
                    self._static.pop(output, None)

    def _low_bit_scales(self, name):
        """The group scales of low-bit array ``name``: the stored ones times their trained multipliers, rounded to
        float16 as they are stored, with a straight-through gradient."""
        scales = self.initializer(LOW_BIT_SCALE.format(name)) * self._low_bit[name]["scales"]
        return scales + (scales.half().float() - scales).detach()

    def _low_bit_levels(self, name, values, scales):
        """Levels of ``values`` on the grid of their (float16-rounded) group scales, clamp(round(value / scale) + zero, 0,
        levels - 1), as float [rows, columns], with a straight-through gradient; a zero scale gives the zero point."""
        entry = self._low_bit[name]
        entry_scales = scales[:, entry["column_groups"]]
        ratio = values / torch.where(entry_scales == 0, torch.ones_like(entry_scales), entry_scales)
        ratio = torch.where(entry_scales == 0, torch.zeros_like(ratio), ratio)
        return (ratio + (torch.round(ratio) - ratio).detach() + entry["zero"]).clamp(0, entry["grid"].levels - 1)

    def _parameter_values(self):
        """The folded values with the parameters' current values in place: int8 and low-bit values on their grids."""
        values = dict(self._static)
        values.update((name, getattr(self, attribute)) for name, (kind, attribute) in self._slots.items() if kind == "param")
        for name in self._levels:
            values[name] = self._int8_levels(name, values[name], values[INT8_SCALE.format(name)])
        for name, entry in self._low_bit.items():
            scales = self._low_bit_scales(name)
            values[LOW_BIT_SCALE.format(name)] = scales
            centred = self._low_bit_levels(name, self.initializer(name), scales) - entry["zero"]
            values.update((c, centred) for c in entry["centred"])
        return values

    def rebuilt_initializers(self):
        """{name: value} of every initializer the compressed file rebuilds from factors (the ``name`` of each
        ``dirnet.compression`` entry), as the graph computes it from the current parameters: the weights that
        ``dirnet compress --dense`` writes as plain initializers."""
        names = {entry["name"] for entry in (self.metadata or {}).get("initializers", [])}
        values = self._parameter_values()
        for node, attributes in zip(self.model.graph.node, self._attributes):
            if node.op_type not in RECURRENT and all(o not in values for o in node.output) and all(i in values for i in node.input):
                values.update(zip(node.output, OPERATORS[node.op_type]([values[i] for i in node.input], attributes, self.opset)))
        return {name: values[name] for name in names if name in values}

    def forward(self, *inputs, sequence_lengths=None):
        """Runs the graph. ``sequence_lengths`` (int64 [batch]), when given, acts as the ``sequence_lens`` input of
        every recurrent node that has none: padded steps are skipped, as in a PyTorch packed sequence."""
        if len(inputs) != len(self.input_names):
            raise ValueError(f"the graph takes {len(self.input_names)} inputs ({', '.join(self.input_names)}), got {len(inputs)}")
        values = self._parameter_values()
        values.update(zip(self.input_names, inputs))
        for node, attributes in zip(self.model.graph.node, self._attributes):
            if all(o in self._static for o in node.output):
                continue
            try:
                arguments = [values[i] for i in node.input]
            except KeyError as missing:
                raise ValueError(f"node '{node.name}' reads {missing}, which nothing computes") from None
            if node.op_type in RECURRENT:
                if self.training and self.dropout:
                    arguments[0] = torch.nn.functional.dropout(arguments[0], self.dropout, True)
                outputs = run_recurrent(node, attributes, arguments, self.training, sequence_lengths)
                if self.training and self.dropout and node.name == self._last_recurrent:
                    outputs = (torch.nn.functional.dropout(outputs[0], self.dropout, True),) + outputs[1:]
            else:
                outputs = OPERATORS[node.op_type](arguments, attributes, self.opset)
            values.update((name, value) for name, value in zip(node.output, outputs) if name)
        return tuple(values[name] for name in self.output_names)

    def _entry_scales(self, name, scales):
        """The scale of every value of int8 factor ``name``: [rows, 1] for a matrix, one per entry for sparse rows."""
        entry_rows = self._levels[name][1]
        return scales if entry_rows is None else scales[entry_rows, 0]

    def _int8_levels(self, name, values, scales):
        """round(values / scale) in [-127, 127], with a straight-through gradient (a zero scale gives level 0)."""
        entry_scales = self._entry_scales(name, scales)
        ratio = values / torch.where(entry_scales == 0, torch.ones_like(entry_scales), entry_scales)
        return (ratio + (torch.round(ratio) - ratio).detach()).clamp(-127, 127)

    def to_model(self):
        """A copy of the ONNX model with every parameter's current value written into its initializer: names, shapes,
        element types, order, nodes and metadata unchanged (float16 values rounded back to float16)."""
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        for tensor in model.graph.initializer:
            kind, attribute = self._slots[tensor.name]
            if kind != "param":
                continue
            value = getattr(self, attribute).detach().cpu().numpy()
            if not np.isfinite(value).all():
                raise ValueError(f"initializer '{tensor.name}' holds non-finite values after training")
            dtype = DTYPES[self._stored_types[tensor.name]]
            if tensor.name in self._levels:
                with torch.no_grad():
                    value = self._int8_levels(tensor.name, getattr(self, attribute), self.initializer(INT8_SCALE.format(tensor.name))).numpy()
            if tensor.name in self._low_bit_scale_of:
                with torch.no_grad():
                    value = self._low_bit_scales(self._low_bit_scale_of[tensor.name]).numpy()
                if not np.isfinite(value.astype(np.float16)).all():
                    raise ValueError(f"initializer '{tensor.name}' holds scales beyond float16 after training")
            if tensor.name in self._low_bit:
                with torch.no_grad():
                    scales = self._low_bit_scales(tensor.name)
                    levels = self._low_bit_levels(tensor.name, getattr(self, attribute), scales)
                tensor.CopyFrom(numpy_helper.from_array(self._low_bit[tensor.name]["grid"].pack(levels.numpy().astype(np.int64)), tensor.name))
                continue
            stored = numpy_helper.from_array(value.astype(torch.empty(0, dtype=dtype).numpy().dtype), tensor.name)
            tensor.CopyFrom(stored)
        return model

    def save(self, path, note=None):
        """Writes ``to_model()`` to ``path`` (through a temporary file, so a failure leaves no partial file);
        ``note`` (a dict), when given, is stored as JSON under the metadata key ``FINE_TUNING_KEY``."""
        model = self.to_model()
        if note is not None:
            entries = [p for p in model.metadata_props if p.key != FINE_TUNING_KEY]
            del model.metadata_props[:]
            model.metadata_props.extend(entries)
            model.metadata_props.add(key=FINE_TUNING_KEY, value=json.dumps(note, sort_keys=True))
        temporary = f"{path}.tmp-{os.getpid()}"
        try:
            onnx.save(model, temporary)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)


def compression_metadata(model):
    """The ``dirnet.compression`` metadata of a compressed file, parsed; ``None`` for a plain model."""
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            return json.loads(entry.value)
    return None


def load(path, train="all", dropout=0.0):
    """Reads an ONNX file into an ``OnnxModule``."""
    return OnnxModule(onnx.load(path), train=train, dropout=dropout)
