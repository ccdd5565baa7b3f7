"""The ONNX operators that recurrent models exported from PyTorch use, and those that rebuild a compressed matrix from
its factors, as differentiable PyTorch functions: ``OPERATORS[op_type](inputs, attributes, opset) -> outputs``.

Only what those graphs need is here; any other operator stops the rebuild with its name (see ``OnnxModule``).
"""
import torch
import torch.nn.functional as F
from onnx import numpy_helper

# ONNX TensorProto data types -> torch dtypes.
DTYPES = {1: torch.float32, 2: torch.uint8, 3: torch.int8, 5: torch.int16, 6: torch.int32, 7: torch.int64,
          9: torch.bool, 10: torch.float16, 11: torch.float64}


def _axis(axis, rank):
    return axis + rank if axis < 0 else axis


def _ints(tensor):
    return [int(v) for v in tensor.reshape(-1).tolist()]


def _gather(inputs, attributes, opset):
    data, indices = inputs
    axis = _axis(attributes.get("axis", 0), data.dim())
    indices = torch.where(indices < 0, indices + data.shape[axis], indices)
    picked = data.index_select(axis, indices.reshape(-1))
    return picked.reshape(data.shape[:axis] + indices.shape + data.shape[axis + 1:]),


def _slice(inputs, attributes, opset):
    data = inputs[0]
    if opset < 10:
        starts, ends = attributes["starts"], attributes["ends"]
        axes, steps = attributes.get("axes", list(range(len(starts)))), [1] * len(starts)
    else:
        starts, ends = _ints(inputs[1]), _ints(inputs[2])
        axes = _ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None else list(range(len(starts)))
        steps = _ints(inputs[4]) if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = _axis(axis, data.dim())
        # Python's slice rules clamp exactly as ONNX's Slice does, for either sign of step.
        picked = range(data.shape[axis])[slice(start, end, step)]
        data = data.index_select(axis, torch.tensor(list(picked), dtype=torch.long))
    return data,


def _reshape(inputs, attributes, opset):
    data, shape = inputs[0], _ints(inputs[1])
    shape = [data.shape[i] if d == 0 and not attributes.get("allowzero", 0) else d for i, d in enumerate(shape)]
    return data.reshape(shape),


def _axes(inputs, attributes, opset):
    if opset >= 13:
        return _ints(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else None
    return attributes.get("axes")


def _unsqueeze(inputs, attributes, opset):
    data = inputs[0]
    axes = _axes(inputs, attributes, opset)
    rank = data.dim() + len(axes)
    for axis in sorted(_axis(a, rank) for a in axes):
        data = data.unsqueeze(axis)
    return data,


def _squeeze(inputs, attributes, opset):
    data = inputs[0]
    axes = _axes(inputs, attributes, opset)
    if axes is None:
        return data.squeeze(),
    for axis in sorted((_axis(a, data.dim()) for a in axes), reverse=True):
        data = data.squeeze(axis)
    return data,


def _gemm(inputs, attributes, opset):
    a, b = inputs[0], inputs[1]
    a = a.t() if attributes.get("transA", 0) else a
    b = b.t() if attributes.get("transB", 0) else b
    y = attributes.get("alpha", 1.0) * (a @ b)
    if len(inputs) > 2 and inputs[2] is not None:
        y = y + attributes.get("beta", 1.0) * inputs[2]
    return y,


def _softmax(function):
    def run(inputs, attributes, opset):
        data = inputs[0]
        if opset >= 13:
            return function(data, dim=attributes.get("axis", -1)),
        axis = _axis(attributes.get("axis", 1), data.dim())
        flat = data.reshape(int(torch.tensor(data.shape[:axis]).prod()), -1)
        return function(flat, dim=1).reshape(data.shape),
    return run


def _divide(inputs, attributes, opset):
    a, b = inputs
    if a.dtype.is_floating_point:
        return a / b,
    return torch.div(a, b, rounding_mode="trunc"),


def _constant(inputs, attributes, opset):
    if "value" not in attributes:
        raise NotImplementedError("Constant nodes without a 'value' tensor are not supported by the PyTorch rebuild")
    return torch.from_numpy(numpy_helper.to_array(attributes["value"]).copy()),


def _constant_of_shape(inputs, attributes, opset):
    fill = torch.from_numpy(numpy_helper.to_array(attributes["value"]).copy()) if "value" in attributes else torch.zeros(1)
    return fill.reshape(()).expand(_ints(inputs[0])).clone(),


def _top_k(inputs, attributes, opset):
    values, indices = torch.topk(inputs[0], _ints(inputs[1])[0], dim=attributes.get("axis", -1),
                                 largest=bool(attributes.get("largest", 1)), sorted=bool(attributes.get("sorted", 1)))
    return values, indices


def _cumulative_sum(inputs, attributes, opset):
    if attributes.get("exclusive", 0) or attributes.get("reverse", 0):
        raise NotImplementedError("CumSum with exclusive or reverse is not supported by the PyTorch rebuild")
    return torch.cumsum(inputs[0], dim=_ints(inputs[1])[0]),


def _scatter_nd(inputs, attributes, opset):
    data, indices, updates = inputs
    if attributes.get("reduction", "none") not in ("none", b"none"):
        raise NotImplementedError("ScatterND with a reduction is not supported by the PyTorch rebuild")
    return data.index_put(tuple(indices[..., k] for k in range(indices.shape[-1])), updates),


def _scatter_elements(inputs, attributes, opset):
    data, indices, updates = inputs
    return data.scatter(_axis(attributes.get("axis", 0), data.dim()), indices, updates),


def _expand(inputs, attributes, opset):
    data, shape = inputs[0], _ints(inputs[1])
    return data * torch.ones(shape, dtype=data.dtype),


OPERATORS = {
    "Identity": lambda i, a, o: (i[0],),
    "Dropout": lambda i, a, o: (i[0],),
    "Constant": _constant,
    "ConstantOfShape": _constant_of_shape,
    "Shape": lambda i, a, o: (torch.tensor(list(i[0].shape), dtype=torch.int64),),
    "Cast": lambda i, a, o: (i[0].to(DTYPES[a["to"]]),),
    "Gather": _gather,
    "Slice": _slice,
    "Reshape": _reshape,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": lambda i, a, o: (torch.cat([t for t in i if t is not None], dim=a["axis"]),),
    "Transpose": lambda i, a, o: (i[0].permute(a["perm"]) if "perm" in a else i[0].permute(*reversed(range(i[0].dim()))),),
    "Flatten": lambda i, a, o: (i[0].reshape(int(torch.tensor(i[0].shape[:_axis(a.get("axis", 1), i[0].dim())]).prod()), -1),),
    "Expand": _expand,
    "MatMul": lambda i, a, o: (i[0] @ i[1],),
    "Gemm": _gemm,
    "Add": lambda i, a, o: (i[0] + i[1],),
    "Sub": lambda i, a, o: (i[0] - i[1],),
    "Mul": lambda i, a, o: (i[0] * i[1],),
    "Div": _divide,
    "Mod": lambda i, a, o: (torch.fmod(i[0], i[1]) if a.get("fmod", 0) else torch.remainder(i[0], i[1]),),
    "Neg": lambda i, a, o: (-i[0],),
    "Less": lambda i, a, o: (i[0] < i[1],),
    "Range": lambda i, a, o: (torch.arange(i[0].item(), i[1].item(), i[2].item(), dtype=i[0].dtype),),
    "TopK": _top_k,
    "CumSum": _cumulative_sum,
    "ScatterND": _scatter_nd,
    "ScatterElements": _scatter_elements,
    "Relu": lambda i, a, o: (F.relu(i[0]),),
    "Tanh": lambda i, a, o: (torch.tanh(i[0]),),
    "Sigmoid": lambda i, a, o: (torch.sigmoid(i[0]),),
    "LogSoftmax": _softmax(F.log_softmax),
    "Softmax": _softmax(F.softmax),
}
