"""A small numpy interpreter for the ONNX ops the samples' PyTorch exports produce, written from the ONNX operator
specs, so each sample can check its model.onnx without onnxruntime (and without the C# engine it is meant to check):

  Constant, ConstantOfShape, Shape, Gather, Slice, Squeeze, Unsqueeze, Reshape, Concat, Transpose, Cast,
  Add, Mul, Div (integer Div truncates toward zero), MatMul, Gemm, LogSoftmax,
  LSTM (forward; gates i, o, f, c) and GRU (forward, reverse or bidirectional; gates z, r, h; linear_before_reset).

  graph, inits = load("model.onnx")
  outputs = run(graph, inits, {"input": array, ...})   # the graph outputs, in order
"""
import numpy as np
import onnx
from onnx import numpy_helper


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm(X, W, R, B, h0, c0, hidden):
    """X [seq, batch, in], W [1, 4H, in], R [1, 4H, H], B [1, 8H], h0/c0 [1, batch, H]; gates i, o, f, c."""
    W, R = W[0], R[0]
    b = B[0, :4 * hidden] + B[0, 4 * hidden:]
    h, c = h0[0], c0[0]
    xw = X @ W.T + b  # [seq, batch, 4H]
    Y = np.empty((X.shape[0], X.shape[1], hidden), dtype=X.dtype)
    for t in range(X.shape[0]):
        g = xw[t] + h @ R.T
        i = sigmoid(g[:, :hidden])
        o = sigmoid(g[:, hidden:2 * hidden])
        f = sigmoid(g[:, 2 * hidden:3 * hidden])
        cc = np.tanh(g[:, 3 * hidden:])
        c = f * c + i * cc
        h = o * np.tanh(c)
        Y[t] = h
    return Y[:, None], h[None], c[None]  # Y [seq, 1(dir), batch, H]


def gru(X, W, R, B, h0, hidden, direction, linear_before_reset):
    """X [seq, batch, in]; W [dirs, 3H, in]; R [dirs, 3H, H]; B [dirs, 6H]; gates z, r, h."""
    dirs = W.shape[0]
    seq, batch = X.shape[0], X.shape[1]
    H = hidden
    Y = np.zeros((seq, dirs, batch, H), dtype=np.float32)
    Yh = np.zeros((dirs, batch, H), dtype=np.float32)
    for d in range(dirs):
        reverse = direction == "reverse" or d == 1
        b = B[d] if B is not None else np.zeros(6 * H, dtype=np.float32)
        wb, rb = b[:3 * H], b[3 * H:]
        xw = X @ W[d].T + wb  # [seq, batch, 3H]
        h = h0[d] if h0 is not None else np.zeros((batch, H), dtype=np.float32)
        steps = range(seq - 1, -1, -1) if reverse else range(seq)
        Rz, Rr, Rh = R[d][:H], R[d][H:2 * H], R[d][2 * H:]
        for t in steps:
            z = sigmoid(xw[t][:, :H] + h @ Rz.T + rb[:H])
            r = sigmoid(xw[t][:, H:2 * H] + h @ Rr.T + rb[H:2 * H])
            if linear_before_reset:
                c = np.tanh(xw[t][:, 2 * H:] + r * (h @ Rh.T + rb[2 * H:]))
            else:
                c = np.tanh(xw[t][:, 2 * H:] + (r * h) @ Rh.T + rb[2 * H:])
            h = ((1 - z) * c + z * h).astype(np.float32)
            Y[t, d] = h
        Yh[d] = h
    return Y, Yh


def np_dtype(onnx_type):
    if hasattr(onnx.helper, "tensor_dtype_to_np_dtype"):
        return onnx.helper.tensor_dtype_to_np_dtype(onnx_type)
    return onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[onnx_type]  # onnx < 1.13


def attrs(node):
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def load(path):
    """(graph, {initializer name: array}) of an ONNX file."""
    m = onnx.load(path)
    return m.graph, {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


def run(graph, inits, feeds):
    env = dict(inits)
    env.update(feeds)
    env[""] = None
    for n in graph.node:
        a = attrs(n)
        x = [env[i] for i in n.input]
        op = n.op_type
        if op == "Constant":
            y = [numpy_helper.to_array(a["value"])]
        elif op == "Shape":
            y = [np.array(x[0].shape, dtype=np.int64)]
        elif op == "Gather":
            y = [np.take(x[0], x[1], axis=a.get("axis", 0))]
        elif op == "Div":
            if np.issubdtype(x[0].dtype, np.integer):
                q = np.abs(x[0]) // np.abs(x[1])  # ONNX integer Div truncates toward zero
                y = [(np.sign(x[0]) * np.sign(x[1]) * q).astype(x[0].dtype)]
            else:
                y = [x[0] / x[1]]
        elif op == "Cast":
            y = [x[0].astype(np_dtype(a["to"]))]
        elif op == "Mul":
            y = [x[0] * x[1]]
        elif op == "Add":
            y = [x[0] + x[1]]
        elif op == "Squeeze":
            y = [np.squeeze(x[0], axis=tuple(int(v) for v in x[1]))]
        elif op == "Unsqueeze":
            r = x[0]
            for ax in sorted(int(v) for v in x[1]):
                r = np.expand_dims(r, ax)
            y = [r]
        elif op == "Slice":
            data, starts, ends = x[0], x[1], x[2]
            axes = x[3] if len(x) > 3 and x[3] is not None else np.arange(len(starts))
            steps = x[4] if len(x) > 4 and x[4] is not None else np.ones(len(starts), dtype=np.int64)
            sl = [slice(None)] * data.ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                sl[int(ax)] = slice(int(s), int(max(min(e, 2 ** 62), -2 ** 62)), int(st))
            y = [data[tuple(sl)]]
        elif op == "Concat":
            y = [np.concatenate([np.atleast_1d(v) for v in x], axis=a["axis"])]
        elif op == "Reshape":
            shape = [int(v) for v in x[1]]
            shape = [x[0].shape[i] if v == 0 else v for i, v in enumerate(shape)]
            y = [x[0].reshape(shape)]
        elif op == "ConstantOfShape":
            v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, dtype=np.float32)
            y = [np.full([int(s) for s in x[0]], v.reshape(-1)[0], dtype=v.dtype)]
        elif op == "Transpose":
            y = [np.transpose(x[0], a.get("perm"))]
        elif op == "LSTM":
            assert a.get("direction", "forward") == "forward", "only forward LSTMs here"
            assert x[4] is None, "sequence_lens not supported here"
            y = list(lstm(x[0], x[1], x[2], x[3], x[5], x[6], a["hidden_size"]))
        elif op == "GRU":
            assert len(x) < 5 or x[4] is None, "sequence_lens not supported here"
            h0 = x[5] if len(x) > 5 else None
            y = list(gru(x[0], x[1], x[2], x[3] if len(x) > 3 else None, h0, a["hidden_size"],
                         a.get("direction", "forward"), a.get("linear_before_reset", 0)))
        elif op == "MatMul":
            y = [np.matmul(x[0], x[1]).astype(np.float32)]
        elif op == "Gemm":
            A = x[0].T if a.get("transA", 0) else x[0]
            Bm = x[1].T if a.get("transB", 0) else x[1]
            r = a.get("alpha", 1.0) * (A @ Bm)
            if len(x) > 2 and x[2] is not None:
                r = r + a.get("beta", 1.0) * x[2]
            y = [r.astype(np.float32)]
        elif op == "LogSoftmax":
            v = x[0]
            ax = a.get("axis", -1)
            z = v - v.max(axis=ax, keepdims=True)
            y = [z - np.log(np.exp(z).sum(axis=ax, keepdims=True))]
        else:
            raise NotImplementedError(op)
        for name, val in zip(n.output, y):
            env[name] = val
    return [env[o.name] for o in graph.output]
