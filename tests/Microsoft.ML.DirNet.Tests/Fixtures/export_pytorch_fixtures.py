#!/usr/bin/env python3
"""Exports the small PyTorch recurrent models that the native engine is checked against.

Each fixture is written in the ONNX backend-test layout: NAME/model.onnx and NAME/test_data_set_0/{input,output}_K.pb,
with inputs drawn from a seeded generator and the outputs computed by PyTorch itself. The test inputs use a different
batch size and sequence length than the export trace, so the dynamic-axis shape arithmetic is exercised.

Run with Debian's torch 1.13:  /usr/bin/python3 export_pytorch_fixtures.py  (from this folder)
"""
import os
import shutil

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


class Recurrent(nn.Module):
    """A bare nn.LSTM / nn.GRU / nn.RNN returning the sequence output and final state(s)."""

    def __init__(self, rnn, with_state):
        super().__init__()
        self.rnn = rnn
        self.with_state = with_state

    def forward(self, x, *state):
        if not self.with_state:
            out, hidden = self.rnn(x)
        elif isinstance(self.rnn, nn.LSTM):
            out, hidden = self.rnn(x, (state[0], state[1]))
        else:
            out, hidden = self.rnn(x, state[0])
        if isinstance(hidden, tuple):
            return (out,) + hidden
        return out, hidden


class LanguageModel(nn.Module):
    """Embedding -> 2-layer LSTM -> dropout -> Linear -> log_softmax, as a word language model."""

    def __init__(self, vocab=50, emb=12, hidden=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=2, dropout=0.3)
        self.drop = nn.Dropout(0.3)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, ids, h0, c0):
        out, (h, c) = self.lstm(self.embed(ids), (h0, c0))
        return torch.log_softmax(self.decoder(self.drop(out)), dim=-1), h, c


class AcousticModel(nn.Module):
    """Features [batch, time, mels] -> 2-layer bidirectional GRU -> Linear -> log_softmax over characters (CTC)."""

    def __init__(self, mels=20, hidden=16, chars=29):
        super().__init__()
        self.gru = nn.GRU(mels, hidden, num_layers=2, bidirectional=True, batch_first=True)
        self.out = nn.Linear(2 * hidden, chars)

    def forward(self, feats):
        out, _ = self.gru(feats)
        return torch.log_softmax(self.out(out), dim=-1)


def state_shape(rnn, batch):
    directions = 2 if rnn.bidirectional else 1
    return (rnn.num_layers * directions, batch, rnn.hidden_size)


def export(name, model, example, test_inputs, input_names, output_names, dynamic_axes, opset):
    model.eval()
    folder = os.path.join(HERE, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.join(folder, "test_data_set_0"))
    path = os.path.join(folder, "model.onnx")
    torch.onnx.export(model, example, path, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    with torch.no_grad():
        outputs = model(*test_inputs)
    if not isinstance(outputs, tuple):
        outputs = (outputs,)
    for kind, tensors in (("input", test_inputs), ("output", outputs)):
        for k, t in enumerate(tensors):
            proto = numpy_helper.from_array(t.detach().numpy())
            with open(os.path.join(folder, "test_data_set_0", f"{kind}_{k}.pb"), "wb") as f:
                f.write(proto.SerializeToString())
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    print(f"{name}: opset {opset}, ops {ops}")


def recurrent_fixture(name, rnn, with_state, opset, batch_first=False, feature=8):
    def seq(t, b, gen):
        shape = (b, t, feature) if batch_first else (t, b, feature)
        return torch.randn(*shape, generator=gen)

    gen = torch.Generator().manual_seed(abs(hash(name)) % (2 ** 31))
    example = [seq(5, 2, gen)]
    test = [seq(7, 3, gen)]
    names = ["X"]
    seq_axes = {0: "batch", 1: "seq"} if batch_first else {0: "seq", 1: "batch"}
    axes = {"X": seq_axes, "Y": seq_axes}
    state_names = ["h0", "c0"] if isinstance(rnn, nn.LSTM) else ["h0"]
    if with_state:
        for s in state_names:
            example.append(torch.randn(*state_shape(rnn, 2), generator=gen))
            test.append(torch.randn(*state_shape(rnn, 3), generator=gen))
            names.append(s)
            axes[s] = {1: "batch"}
    outputs = ["Y"] + ["h_n", "c_n"][: len(state_names)]
    for s in outputs[1:]:
        axes[s] = {1: "batch"}
    export(name, Recurrent(rnn, with_state), tuple(example), test, names, outputs, axes, opset)


def main():
    torch.manual_seed(1234)
    recurrent_fixture("lstm_1layer", nn.LSTM(8, 16), with_state=True, opset=13)
    recurrent_fixture("lstm_2layer_bidirectional", nn.LSTM(8, 16, num_layers=2, bidirectional=True),
                      with_state=True, opset=14)
    recurrent_fixture("lstm_3layer_batch_first", nn.LSTM(8, 16, num_layers=3, batch_first=True),
                      with_state=False, opset=15, batch_first=True)
    recurrent_fixture("lstm_no_bias", nn.LSTM(8, 16, bias=False), with_state=False, opset=17)
    recurrent_fixture("gru_1layer", nn.GRU(8, 16), with_state=True, opset=13)
    recurrent_fixture("gru_bidirectional", nn.GRU(8, 16, bidirectional=True), with_state=False, opset=16)
    recurrent_fixture("rnn_tanh", nn.RNN(8, 16, num_layers=2, nonlinearity="tanh"), with_state=True, opset=14)
    recurrent_fixture("rnn_relu", nn.RNN(8, 16, nonlinearity="relu", batch_first=True), with_state=False,
                      opset=17, batch_first=True)

    gen = torch.Generator().manual_seed(99)
    lm = LanguageModel()
    state = lambda b: torch.randn(2, b, 16, generator=gen)
    ids = lambda t, b: torch.randint(0, 50, (t, b), generator=gen)
    export("lm_embedding_lstm_linear", lm, (ids(5, 2), state(2), state(2)), [ids(9, 3), state(3), state(3)],
           ["ids", "h0", "c0"], ["log_probs", "h_n", "c_n"],
           {"ids": {0: "seq", 1: "batch"}, "h0": {1: "batch"}, "c0": {1: "batch"},
            "log_probs": {0: "seq", 1: "batch"}, "h_n": {1: "batch"}, "c_n": {1: "batch"}}, opset=14)

    am = AcousticModel()
    feats = lambda b, t: torch.randn(b, t, 20, generator=gen)
    export("asr_bigru_ctc", am, (feats(2, 6),), [feats(3, 11)], ["features"], ["log_probs"],
           {"features": {0: "batch", 1: "time"}, "log_probs": {0: "batch", 1: "time"}}, opset=15)


if __name__ == "__main__":
    main()
