"""ONNX LSTM, GRU and RNN nodes run by PyTorch's fused recurrent kernels, so gradients reach W, R and B.

ONNX stacks the gates of W, R and B in another order than PyTorch (LSTM: i, o, f, c against i, f, g, o; GRU: z, r, h
against r, z, n): the blocks are reordered on every call, which is cheap next to the recurrence and keeps W and R
exactly the tensors the graph computes (a rebuilt compressed matrix included).
"""
import torch
from torch import _VF
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# ONNX gate blocks in PyTorch's order.
_GATE_ORDER = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2], "RNN": [0]}


def _reorder(matrix, op, hidden):
    blocks = matrix.split(hidden, dim=0)
    return torch.cat([blocks[k] for k in _GATE_ORDER[op]], dim=0)


def _refuse(node, why):
    raise NotImplementedError(f"{node.op_type} node '{node.name}': {why} is not supported by the PyTorch rebuild")


def run_recurrent(node, attributes, inputs, training, sequence_lengths):
    """Runs one ONNX recurrent node (layout 0: X is [seq, batch, input]); returns Y, Y_h (and Y_c for LSTM).

    ``sequence_lengths`` (int64 [batch]) plays the role of the node's sequence_lens input when the graph has none:
    steps past a sequence's length are skipped (PyTorch packs the batch), Y is zero there, and Y_h is the state at
    the last valid step, as ONNX defines sequence_lens.
    """
    op = node.op_type
    hidden = attributes["hidden_size"]
    direction = attributes.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if direction == "reverse":
        _refuse(node, "direction 'reverse'")
    if attributes.get("layout", 0) != 0:
        _refuse(node, "layout 1")
    if attributes.get("clip") is not None:
        _refuse(node, "clip")
    if attributes.get("input_forget", 0) != 0:
        _refuse(node, "input_forget")
    if op == "GRU" and attributes.get("linear_before_reset", 0) != 1:
        _refuse(node, "linear_before_reset 0 (PyTorch's GRU applies the reset gate after the linear map)")
    activations = [a.decode() if isinstance(a, bytes) else a for a in attributes.get("activations", [])]
    if op == "RNN":
        kind = (activations or ["Tanh"])[0]
        if kind not in ("Tanh", "Relu") or len(set(activations)) > 1:
            _refuse(node, f"activations {activations}")
    elif activations and activations != {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}[op] * (len(activations) // (3 if op == "LSTM" else 2)):
        _refuse(node, f"activations {activations}")
    if op == "LSTM" and len(inputs) > 7 and inputs[7] is not None:
        _refuse(node, "peepholes (P)")

    x, w, r = inputs[0], inputs[1], inputs[2]
    bias = inputs[3] if len(inputs) > 3 else None
    lengths = inputs[4] if len(inputs) > 4 and inputs[4] is not None else sequence_lengths
    directions, batch = w.shape[0], x.shape[1]
    gates = len(_GATE_ORDER[op])
    flat = []
    for d in range(directions):
        b = bias[d] if bias is not None else torch.zeros(2 * gates * hidden, dtype=x.dtype)
        flat += [_reorder(w[d], op, hidden), _reorder(r[d], op, hidden),
                 _reorder(b[: gates * hidden], op, hidden), _reorder(b[gates * hidden:], op, hidden)]

    def initial(k):
        given = inputs[k] if len(inputs) > k else None
        return given if given is not None else torch.zeros(directions, batch, hidden, dtype=x.dtype)

    h0 = initial(5)
    c0 = initial(6) if op == "LSTM" else None
    bidirectional = directions == 2
    kernel = {"LSTM": _VF.lstm, "GRU": _VF.gru,
              "RNN": _VF.rnn_relu if activations[:1] == ["Relu"] else _VF.rnn_tanh}[op]
    state = (h0, c0) if op == "LSTM" else h0

    if lengths is None:
        result = kernel(x, state, flat, True, 1, 0.0, training, bidirectional, False)
        y, states = result[0], result[1:]
    else:
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        order, restore = packed.sorted_indices, packed.unsorted_indices
        state = (h0[:, order], c0[:, order]) if op == "LSTM" else h0[:, order]
        result = kernel(packed.data, packed.batch_sizes, state, flat, True, 1, 0.0, training, bidirectional)
        y, _ = pad_packed_sequence(type(packed)(result[0], packed.batch_sizes, order, restore), total_length=x.shape[0])
        states = tuple(s[:, restore] for s in result[1:])

    y = y.view(x.shape[0], batch, directions, hidden).permute(0, 2, 1, 3)
    return (y,) + tuple(states)
