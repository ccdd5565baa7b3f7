#!/usr/bin/python3
"""PyTorch's own speed on the language-model sample: float32 against torch.quantization.quantize_dynamic int8.

The point is a baseline for the docs: what a PyTorch user would run for this model on this machine, to set beside
ONNX Runtime and the native engine (docs/results/speed-low-bit.md).

What it does:
  1. Rebuilds the network of model.onnx in PyTorch (train_lm.LSTMLM: Embedding -> 2-layer LSTM -> projection
     Linear -> decoder Linear tied to the embedding -> log_softmax) from the ONNX initializers. The weights are taken
     from the graph itself (the Gather's table, the LSTM nodes' W/R/B, the two Gemms), with the LSTM gates reordered
     from ONNX's i,o,f,c to PyTorch's i,f,g,o and ONNX B = [Wb, Rb] split into bias_ih / bias_hh.
  2. Checks the rebuild is faithful: for the first 35 token ids of data/test.txt with zero state, the PyTorch
     float32 log-probs (and hn, cn) against samples/common/onnx_numpy.py's evaluation of the ONNX graph (the
     interpreter onnx_numpy_eval.py uses); asserts a max abs diff below 1e-4.
  3. Quantizes a copy with quantize_dynamic(model, {nn.LSTM, nn.Linear}, dtype=torch.qint8) with the quantized
     engine this PyTorch build has (fbgemm if present; otherwise it says so and uses the build's default engine, or
     --engine).
  4. Perplexity of both on the first --tokens tokens of the test split with the reference procedure
     (train_lm.evaluate_stream: batch 1, chunks of 35, state carried from zeros), so speed is shown at its accuracy.
  5. Timing, the project's protocol: batch 1, one call = one chunk of 35 tokens (the first 35 test ids) from zero
     state, one thread (torch.set_num_threads and OPENBLAS/OMP/MKL_NUM_THREADS, set before torch is imported),
     torch.inference_mode, at least 1 s of warm-up per model, then --runs rounds, each timing one call of each model
     (time.perf_counter; the order alternates between rounds), and the median per model.

Run it on an idle machine (timings on a busy 2-core machine are meaningless; the script measures, from /proc/stat,
how many cores other processes use before and during the timing, prints it, and warns above 0.2), from the
repository root:

  /usr/bin/python3 samples/LanguageModel/scripts/pytorch_speed.py --markdown docs/results/speed-pytorch.md

Options: --model (default samples/LanguageModel/model.onnx), --data (default samples/LanguageModel/data),
--runs (31), --tokens (5000), --markdown PATH (write the result table there), --engine, --threads (1).
Takes well under a minute.
"""
import argparse
import datetime
import math
import os
import platform
import shlex
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
REPO = os.path.normpath(os.path.join(ROOT, "..", ".."))
CHUNK = 35
FAITHFUL_TOL = 1e-4


def fail(msg):
    print("error: " + msg, file=sys.stderr)
    sys.exit(2)


def cpu_model():
    """The 'model name' line of /proc/cpuinfo, and which of AVX2 / AVX-512 / VNNI the flags list."""
    name, flags = None, set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and name is None:
                    name = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    name = name or platform.processor() or "unknown CPU"
    isa = [n for n, f in (("AVX2", "avx2"), ("AVX-512", "avx512f"), ("VNNI", "avx512_vnni")) if f in flags]
    return name, isa


# ----------------------------------------------------------------------------- ONNX -> PyTorch

def onnx_weights(graph, inits):
    """The weights of the LM graph, found by the nodes that use them (not by name):
    embedding (the first Gather of an initializer), LSTM layers in order (W, R, B, hidden_size), and the Gemms in
    order (weight, bias). Checks the attributes the rebuild relies on."""
    import onnx
    emb = None
    lstms, gemms = [], []
    for n in graph.node:
        a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
        if n.op_type == "Gather" and emb is None and n.input[0] in inits:
            emb = n.input[0]
        elif n.op_type == "LSTM":
            direction = a.get("direction", b"forward")
            direction = direction.decode() if isinstance(direction, bytes) else direction
            if direction != "forward" or "activations" in a or a.get("input_forget", 0) or a.get("clip"):
                fail("LSTM node %s: only plain forward LSTMs (default activations, no clip) are rebuilt" % n.name)
            if len(n.input) > 7 and n.input[7]:
                fail("LSTM node %s has peephole weights P; not supported" % n.name)
            if len(n.input) > 4 and n.input[4]:
                fail("LSTM node %s has sequence_lens; not supported" % n.name)
            if len(n.input) < 4 or not n.input[3]:
                fail("LSTM node %s has no bias B; not supported" % n.name)
            lstms.append((inits[n.input[1]], inits[n.input[2]], inits[n.input[3]], int(a["hidden_size"])))
        elif n.op_type == "Gemm":
            if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0) or a.get("transB", 0) != 1:
                fail("Gemm node %s: expected alpha=beta=1, transA=0, transB=1" % n.name)
            gemms.append((n.input[1], inits[n.input[1]], inits[n.input[2]]))
    if emb is None or len(lstms) == 0 or len(gemms) != 2:
        fail("model.onnx does not look like the LM sample (embedding Gather, LSTM layers, projection + decoder Gemm); "
             "found embedding=%s, %d LSTM, %d Gemm" % (emb, len(lstms), len(gemms)))
    return emb, lstms, gemms


def onnx_to_torch_gates(m, hidden):
    """Rows [i, o, f, c] (ONNX) -> [i, f, g, o] (PyTorch), along axis 0 of a [4H, ...] array."""
    import numpy as np
    i, o, f, c = (m[k * hidden:(k + 1) * hidden] for k in range(4))
    return np.concatenate([i, f, c, o], axis=0)


def rebuild(model_path):
    """(train_lm.LSTMLM in eval mode with the ONNX weights, onnx graph, inits)."""
    import torch
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(ROOT, "..", "common"))
    from onnx_numpy import load  # samples/common: the numpy ONNX interpreter of onnx_numpy_eval.py
    from train_lm import LSTMLM

    graph, inits = load(model_path)
    emb_name, lstms, gemms = onnx_weights(graph, inits)
    emb = inits[emb_name]
    (proj_name, proj_w, proj_b), (dec_name, dec_w, dec_b) = gemms
    vocab, emb_dim = emb.shape
    hidden = lstms[0][3]
    if dec_name != emb_name:
        fail("the decoder Gemm does not use the embedding table (%s vs %s); this rebuild expects tied weights"
             % (dec_name, emb_name))
    if any(h != hidden for *_, h in lstms) or proj_w.shape != (emb_dim, hidden) or dec_w.shape != (vocab, emb_dim):
        fail("unexpected shapes: LSTM hidden %s, projection %s, decoder %s, embedding %s"
             % ([h for *_, h in lstms], proj_w.shape, dec_w.shape, emb.shape))

    model = LSTMLM(vocab, emb_dim, hidden, len(lstms), proj_w.shape[0], dropout=0.0, tie=True)
    t = lambda a: torch.from_numpy(a.copy()).float()  # noqa: E731
    with torch.no_grad():
        model.embedding.weight.copy_(t(emb))  # the decoder's weight is the same tensor (tied)
        for l, (W, R, B, H) in enumerate(lstms):
            if W.shape[0] != 1 or W.shape[1] != 4 * H or R.shape != (1, 4 * H, H) or B.shape != (1, 8 * H):
                fail("LSTM layer %d: W %s R %s B %s do not fit hidden %d" % (l, W.shape, R.shape, B.shape, H))
            getattr(model.lstm, "weight_ih_l%d" % l).copy_(t(onnx_to_torch_gates(W[0], H)))
            getattr(model.lstm, "weight_hh_l%d" % l).copy_(t(onnx_to_torch_gates(R[0], H)))
            getattr(model.lstm, "bias_ih_l%d" % l).copy_(t(onnx_to_torch_gates(B[0, :4 * H], H)))
            getattr(model.lstm, "bias_hh_l%d" % l).copy_(t(onnx_to_torch_gates(B[0, 4 * H:], H)))
        model.proj.weight.copy_(t(proj_w))
        model.proj.bias.copy_(t(proj_b))
        model.decoder.bias.copy_(t(dec_b))
    model.eval()
    return model, graph, inits


def faithfulness(model, graph, inits, ids35):
    """Max abs diffs (log_probs, hn, cn) between the PyTorch float32 rebuild and the numpy evaluation of the graph."""
    import numpy as np
    import torch
    from onnx_numpy import run
    L = ids35.numel()
    h, c = model.zero_state(1)
    ref_logp, ref_h, ref_c = run(graph, inits, {"input": ids35.numpy().reshape(L, 1).astype(np.int64),
                                                "h0": h.numpy(), "c0": c.numpy()})
    with torch.inference_mode():
        logp, hn, cn = model(ids35.view(L, 1), h, c)
    return (float(np.abs(logp.numpy() - ref_logp).max()), float(np.abs(hn.numpy() - ref_h).max()),
            float(np.abs(cn.numpy() - ref_c).max()))


# ----------------------------------------------------------------------------- quantization

def pick_engine(requested):
    """(engine to use or None, note for the output)."""
    import torch
    supported = [e for e in torch.backends.quantized.supported_engines if e != "none"]
    default = torch.backends.quantized.engine
    if requested:
        if requested not in supported:
            fail("quantized engine %r is not in this build (supported: %s)" % (requested, ", ".join(supported) or "none"))
        return requested, "quantized engine %s (requested; supported: %s)" % (requested, ", ".join(supported))
    if "fbgemm" in supported:
        return "fbgemm", "quantized engine fbgemm"
    if not supported:
        return None, ("NOTE: this PyTorch build has no quantized engine (fbgemm missing, supported_engines = %s); "
                      "quantize_dynamic int8 cannot run" % torch.backends.quantized.supported_engines)
    engine = default if default in supported else supported[0]
    return engine, ("NOTE: fbgemm (PyTorch's usual x86 quantized engine) is NOT available in this build "
                    "(supported engines: %s); int8 uses %s, the build's default" % (", ".join(supported), engine))


def quantize(model, engine):
    import torch
    import torch.nn as nn
    torch.backends.quantized.engine = engine
    return torch.quantization.quantize_dynamic(model, {nn.LSTM, nn.Linear}, dtype=torch.qint8)


# ----------------------------------------------------------------------------- timing

class OtherLoad:
    """How many cores other processes kept busy over an interval: busy time of all CPUs (/proc/stat) minus this
    process's own CPU time, over the wall time. None where /proc/stat cannot be read."""

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy(), self._own()

    @staticmethod
    def _busy():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
        return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # user nice system idle iowait irq softirq steal

    @staticmethod
    def _own():
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def cores(self):
        busy = self._busy()
        if busy is None or self.busy0 is None:
            return None
        wall = time.perf_counter() - self.t0
        return max(0.0, (busy - self.busy0) - (self._own() - self.own0)) / wall if wall > 0 else None


def idle_check(seconds=1.0):
    """Other processes' load (cores) over `seconds` of sleeping."""
    probe = OtherLoad()
    time.sleep(seconds)
    return probe.cores()


def time_models(models, ids35, runs, warmup_s):
    """{name: median ms per call}: each call one 35-token chunk from zero state. At least warmup_s of warm-up per
    model, then `runs` rounds timing one call of each model, the order alternating between rounds."""
    import torch
    L = ids35.numel()
    x = ids35.view(L, 1)
    names = list(models)
    state = {n: models[n].zero_state(1) for n in names}
    times = {n: [] for n in names}
    with torch.inference_mode():
        for n in names:
            m, (h, c) = models[n], state[n]
            t_end, k = time.perf_counter() + warmup_s, 0
            while time.perf_counter() < t_end or k < 5:
                m(x, h, c)
                k += 1
        for r in range(runs):
            for n in (names if r % 2 == 0 else names[::-1]):
                m, (h, c) = models[n], state[n]
                t0 = time.perf_counter()
                m(x, h, c)
                times[n].append(1000.0 * (time.perf_counter() - t0))
    return {n: statistics.median(v) for n, v in times.items()}


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "model.onnx"), help="the LM sample's ONNX file")
    ap.add_argument("--data", default=os.path.join(ROOT, "data"), help="folder with vocab.txt and test.txt")
    ap.add_argument("--runs", type=int, default=31, help="timed rounds; the median is reported (default 31)")
    ap.add_argument("--tokens", type=int, default=5000, help="first N test tokens for the perplexity (default 5000)")
    ap.add_argument("--markdown", metavar="PATH", help="write the result table as markdown to PATH")
    ap.add_argument("--engine", help="quantized engine (default: fbgemm if present, else the build's default)")
    ap.add_argument("--threads", type=int, default=1, help="threads (the protocol: 1)")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per model (default 1)")
    args = ap.parse_args()
    if args.runs < 1 or args.tokens < 2 or args.threads < 1 or args.warmup < 0:
        fail("--runs >= 1, --tokens >= 2, --threads >= 1 and --warmup >= 0 are required")
    for p, what in ((args.model, "--model"), (os.path.join(args.data, "vocab.txt"), "--data (vocab.txt)"),
                    (os.path.join(args.data, "test.txt"), "--data (test.txt)")):
        if not os.path.isfile(p):
            fail("%s: %s not found" % (what, p))

    # Thread pools: OpenBLAS (float32 GEMMs in this Debian build), OpenMP, MKL read these when torch is loaded.
    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[v] = str(args.threads)
    try:
        import numpy as np  # noqa: F401
        import onnx  # noqa: F401
        import torch
    except ImportError as e:
        fail("%s (needs torch, onnx and numpy: run with /usr/bin/python3)" % e)
    torch.set_num_threads(args.threads)
    sys.path.insert(0, HERE)
    from train_lm import evaluate_stream, load_stream, load_vocab

    before = idle_check()
    if before is not None:
        print("other processes before the run: %.2f cores busy (over 1 s)" % before)
        if before > 0.2:
            print("WARNING: the machine is busy (%.2f cores used by other processes); timings will be off" % before,
                  file=sys.stderr)

    words, w2i = load_vocab(os.path.join(args.data, "vocab.txt"))
    test = load_stream(os.path.join(args.data, "test.txt"), w2i)
    if test.numel() < max(CHUNK, args.tokens):
        fail("test split has %d tokens, fewer than needed (%d)" % (test.numel(), max(CHUNK, args.tokens)))
    ids35 = test[:CHUNK].clone()
    ids_ppl = test[:args.tokens].clone()

    model, graph, inits = rebuild(args.model)
    if model.vocab != len(words):
        fail("model vocabulary %d != vocab.txt %d" % (model.vocab, len(words)))
    d_logp, d_h, d_c = faithfulness(model, graph, inits, ids35)
    print("faithfulness (first %d test ids, zero state), PyTorch float32 vs numpy ONNX: max abs diff log_probs %.3g, "
          "hn %.3g, cn %.3g" % (CHUNK, d_logp, d_h, d_c))
    assert max(d_logp, d_h, d_c) < FAITHFUL_TOL, "rebuild is not faithful: max abs diff %.3g >= %g" % (
        max(d_logp, d_h, d_c), FAITHFUL_TOL)

    engine, engine_note = pick_engine(args.engine)
    print(engine_note)
    models = {"float32": model}
    qmodel = None
    if engine is not None:
        try:
            qmodel = quantize(model, engine)
            with torch.inference_mode():
                h, c = model.zero_state(1)
                ql, _, _ = qmodel(ids35.view(-1, 1), h, c)
                fl, _, _ = model(ids35.view(-1, 1), h, c)
            print("int8 (%s) vs float32 on the same 35 tokens: max abs diff log_probs %.3g" % (
                engine, float((ql - fl).abs().max())))
            models["int8"] = qmodel
        except Exception as e:  # report, do not hide
            engine_note += "; quantize_dynamic FAILED with engine %s: %s: %s" % (engine, type(e).__name__, e)
            print("NOTE: quantize_dynamic failed with engine %s: %s: %s" % (engine, type(e).__name__, e))

    ppl = {}
    for n, m in models.items():
        s, k, _ = evaluate_stream(m, ids_ppl, CHUNK)
        ppl[n] = math.exp(s / k)
        print("perplexity %-7s first %d test tokens (%d predictions): %.4f" % (n, ids_ppl.numel(), k, ppl[n]))

    probe = OtherLoad()
    ms = time_models(models, ids35, args.runs, args.warmup)
    during = probe.cores()
    if during is not None:
        print("other processes during the timing: %.2f cores busy" % during)
        if during > 0.2:
            print("WARNING: other processes kept %.2f cores busy during the timing; rerun on an idle machine"
                  % during, file=sys.stderr)
    load = (before, during)
    for n in models:
        print("%-7s %.3f ms per %d-token call (median of %d)" % (n, ms[n], CHUNK, args.runs))
    ratio = ms["float32"] / ms["int8"] if "int8" in ms else None
    if ratio is not None:
        print("float32 / int8 = %.2fx" % ratio)

    if args.markdown:
        write_markdown(args, ms, ppl, ratio, engine, engine_note, (d_logp, d_h, d_c), load)
        print("wrote %s" % args.markdown)


def fmt_cores(v):
    return "unknown" if v is None else "%.2f cores" % v


def engine_sentence(engine, engine_note):
    """The quantized-engine clause of the markdown paragraph."""
    import torch
    supported = ", ".join(e for e in torch.backends.quantized.supported_engines if e != "none") or "none"
    if engine is None:
        return "**not run**: " + engine_note.replace("NOTE: ", "")
    if "FAILED" in engine_note:
        return "**failed**: " + engine_note.replace("NOTE: ", "")
    if engine == "fbgemm" or "fbgemm" in torch.backends.quantized.supported_engines:
        return "quantized engine %s (supported engines: %s)" % (engine, supported)
    return ("quantized engine %s: **fbgemm, PyTorch's usual x86 engine, is not in this build** (supported engines: %s)"
            % (engine, supported))


def write_markdown(args, ms, ppl, ratio, engine, engine_note, diffs, load):
    import torch
    name, isa = cpu_model()
    command = " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv)
    cwd = os.path.relpath(os.getcwd(), REPO)
    where = "from the repository root" if cwd == "." else "from %s" % os.getcwd()
    config = torch.__config__.show()
    capability = next((l.split(":", 1)[1].strip() for l in config.splitlines() if "CPU capability usage" in l),
                      "unknown")
    blas = next((f.split("=", 1)[1] for f in config.replace(",", " ").split() if f.startswith("BLAS_INFO=")), "unknown")
    build = "BLAS_INFO=%s, MKL %s, oneDNN %s" % (blas, "yes" if torch.backends.mkl.is_available() else "no",
                                                  "yes" if torch.backends.mkldnn.is_available() else "no")
    lines = [
        "# PyTorch's own speed on the language-model sample: float32 and quantize_dynamic int8",
        "",
        ("Written by `%s` (run %s) on %s. Machine: %s, `os.cpu_count()` = %d, %s; other processes' load (/proc/stat): "
         "%s before the run, %s during the timing. PyTorch %s (CPU capability %s; build: %s), threads: %d (`torch.set_num_threads(%d)`, OPENBLAS/OMP/MKL_NUM_THREADS=%d). "
         "The network of samples/LanguageModel/model.onnx rebuilt in PyTorch from its initializers (`train_lm.LSTMLM`; "
         "max abs diff of the float32 log-probs against the numpy evaluation of the ONNX graph on the first 35 test "
         "tokens: %.2g). int8: `torch.quantization.quantize_dynamic(model, {nn.LSTM, nn.Linear}, dtype=torch.qint8)` "
         "(LSTM, projection and decoder weights int8, activations quantized per call; the embedding stays float32); %s. "
         "Protocol: batch 1, one call = one chunk of 35 tokens from zero state, `torch.inference_mode()`, at least "
         "%g s of warm-up per model, then the median of %d runs (`time.perf_counter`, both models in the same rounds). "
         "Perplexity: the first %d test tokens, chunks of 35 with the state carried (`train_lm.evaluate_stream`).")
        % (command, where, datetime.date.today().isoformat(), name, os.cpu_count(), ", ".join(isa) or "no AVX2",
           fmt_cores(load[0]), fmt_cores(load[1]), torch.__version__, capability, build, args.threads, args.threads, args.threads, diffs[0],
           engine_sentence(engine, engine_note), args.warmup, args.runs, args.tokens),
        "",
    ]
    if any(v is not None and v > 0.2 for v in load):
        lines += ["**Warning: other processes were using the machine (see the load above); these timings are not "
                  "reliable. Rerun on an idle machine.**", ""]
    lines += [
        "| engine | weights | ms per 35-token call | perplexity (first %d test tokens) |" % args.tokens,
        "|---|---|---:|---:|",
        "| PyTorch float32 | float32 | %.3f | %.2f |" % (ms["float32"], ppl["float32"]),
    ]
    if "int8" in ms:
        lines.append("| PyTorch quantize_dynamic int8 (%s) | int8 | %.3f | %.2f |" % (engine, ms["int8"], ppl["int8"]))
    else:
        lines.append("| PyTorch quantize_dynamic int8 | int8 | not available | not available |")
    lines.append("")
    if ratio is not None:
        lines.append("float32 / int8 time: %.2fx." % ratio)
        lines.append("")
    lines.append("ONNX Runtime's and the native engine's times on the same model are in "
                 "[speed-low-bit.md](speed-low-bit.md) (measured in a separate process, so compare machine and date).")
    d = os.path.dirname(os.path.abspath(args.markdown))
    os.makedirs(d, exist_ok=True)
    with open(args.markdown, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
