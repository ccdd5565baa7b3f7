#!/usr/bin/python3
"""Write data/feature_reference/: three small WAVs and their features (features.py), for a
C# test of the feature extraction.

  /usr/bin/python3 scripts/make_feature_reference.py [--test data/test] [--out data/feature_reference]

Examples (from the test split made by make_data.py --split test, seed 1; the first
utterances are the same whatever --count was):
  ex1.wav   test_00000.wav (noise + reverb)
  ex2.wav   test_00001.wav
  ex3.wav   the first 150 samples of test_00002.wav: shorter than one frame, so it is
            zero-padded to 200 samples and gives one frame (normalised features all 0)
reference.json: {"spec": ..., "mel_filterbank": [40][129],
  "examples": [{"wav", "samples", "frames", "log_mel": [T][40], "features": [T][40]}]}
log_mel = steps 1-6 of features.py (before normalisation), features = the model input.
Values are printed with 7 significant digits (%.7g).
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import features as feat  # noqa: E402
import make_data  # noqa: E402


def rows(a):
    return [[float("%.7g" % v) for v in r] for r in np.asarray(a, dtype=np.float64)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--test", default=os.path.join(ROOT, "data", "test"))
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "feature_reference"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    src = [("ex1.wav", "test_00000.wav", None), ("ex2.wav", "test_00001.wav", None),
           ("ex3.wav", "test_00002.wav", 150)]
    examples = []
    for name, orig, cut in src:
        s, sr = make_data.read_wav(os.path.join(args.test, "wav", orig))
        assert sr == feat.SAMPLE_RATE
        if cut is None:
            shutil.copyfile(os.path.join(args.test, "wav", orig), os.path.join(args.out, name))
        else:
            s = s[:cut]
            make_data.write_wav(os.path.join(args.out, name), s)
        s2, _ = make_data.read_wav(os.path.join(args.out, name))
        assert np.array_equal(s, s2)
        L = feat.log_mel(s)
        Fz = feat.features(s)
        examples.append({"wav": name, "source": orig, "samples": int(len(s)), "frames": int(len(Fz)),
                         "log_mel": rows(L), "features": rows(Fz)})
        print("%s: %d samples, %d frames" % (name, len(s), len(Fz)))
    ref = {
        "spec": "see scripts/features.py and README.md (Features): 8 kHz, frame 200, hop 80, periodic Hann, "
                "FFT 256, power, 40 HTK mel filters 0-4000 Hz, ln(max(E, 1e-10)), per-utterance mean/std "
                "normalisation with std + 1e-5",
        "mel_filterbank": rows(feat.mel_filterbank()),
        "examples": examples,
    }
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
    print("%s: %d bytes" % (os.path.join(args.out, "reference.json"), os.path.getsize(os.path.join(args.out, "reference.json"))))


if __name__ == "__main__":
    main()
