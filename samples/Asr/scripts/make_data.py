#!/usr/bin/python3
"""Synthesise a speech-recognition data set from King James Bible text with espeak-ng.

  /usr/bin/python3 scripts/make_data.py --split train --count 30000 --out data/train --jobs 2
  /usr/bin/python3 scripts/make_data.py --split valid --count 300 --out data/valid --jobs 2
  /usr/bin/python3 scripts/make_data.py --split test --count 300 --out data/test --jobs 2

Output in --out:
  wav/<split>_<index>.wav   8 kHz, 16-bit PCM, mono
  manifest.tsv              header line, then one row per utterance, columns
                            file (relative to --out), transcript, voice, rate, pitch,
                            snr (dB; "inf" = no noise), wordgap, noise, reverb, seconds
  info.json                 the options, the generator settings and totals

Reproducible: every random choice comes from numpy's PCG64 seeded with
(--seed, purpose, split, utterance index), so the output does not depend on --jobs
(tools: espeak-ng 1.51, sox 14.4.2 with -R; other versions may differ slightly).

Text (samples/common/kjv_text.py, transcript_words below): each verse's words are cut, in order, into chunks of
--min-words..--max-words words (lengths drawn uniformly; a remainder shorter than
--min-words is merged into the chunk before it; verses shorter than --min-words are
skipped). Chunks come from the verses of the requested split only (the verse-block
split of samples/LanguageModel: valid and test texts are held out from train). The
split's chunks are shuffled and utterance i uses chunk i (cycling if --count exceeds
the number of chunks).

Voice, per utterance (uniformly unless stated):
  accent    one of ACCENTS (all splits)
  variant   train: TRAIN_VARIANTS or none (the plain accent voice);
            valid/test: HELDOUT_VARIANTS (never used in train)
  rate      espeak -s, words per minute, RATE range
  pitch     espeak -p, PITCH range
  wordgap   espeak -g (units of 10 ms): 0 with probability 1/2, else 1..5
Signal chain: espeak-ng (22,050 Hz) -> sox -R -G: rate 8000 [reverb] -> numpy: trailing
silence trimmed (to the last sample >= 1% of the peak), then padded with leading
silence 0.05-0.30 s and trailing 0.05-0.20 s; additive noise: none with probability
P_CLEAN, else white or pink (1/f power) Gaussian noise at SNR uniform in SNR_DB
(signal power = mean square of the trimmed speech); reverb: with probability P_REVERB,
sox "reverb R 50 S" with reverberance R in 10..70 and room scale S in 20..80;
finally scaled to a peak level uniform in -20..-1 dBFS and rounded to int16.
"""
import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "common"))
import kjv_text  # noqa: E402  (samples/common: the text both samples share)

SR = 8000
SPLITS = {"train": 0, "valid": 1, "test": 2}

# espeak-ng 1.51 English voices (lang/gmw/*); the mbrola voices are not used.
ACCENTS = ["en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
           "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
# Variants (voices/!v/*) held out for valid and test: whole families (Andy/AnxiousAndy,
# Gene/Gene2, steph/steph2/steph3) so that no near-copy of a test voice is trained on.
HELDOUT_VARIANTS = ["m3", "f2", "klatt4", "whisperf", "Andy", "AnxiousAndy", "belinda",
                    "grandpa", "steph", "steph2", "steph3", "travis", "zac", "Gene", "Gene2"]
# All other variants of espeak-ng 1.51 ("Mr serious" is left out: a space in its name).
# caleb, klatt and klatt6 sound identical.
TRAIN_VARIANTS = [
    "Alex", "Alicia", "Andrea", "Annie", "Demonic", "Denis", "Diogo", "Henrique", "Hugo",
    "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Nguyen", "RicishayMax",
    "RicishayMax2", "RicishayMax3", "Storm", "Tweaky", "UniRobot", "adam", "anika",
    "anikaRobot", "announcer", "antonio", "aunty", "benjamin", "boris", "caleb", "croak",
    "david", "ed", "edward", "edward2", "f1", "f3", "f4", "f5", "fast", "grandma",
    "gustave", "iven", "iven2", "iven3", "iven4", "john", "kaukovalta", "klatt", "klatt2",
    "klatt3", "klatt5", "klatt6", "linda", "m1", "m2", "m4", "m5", "m6", "m7", "m8",
    "marcelo", "max", "michel", "miguel", "norbert", "pablo", "paul", "pedro", "quincy",
    "rob", "robert", "robosoft", "robosoft2", "robosoft3", "robosoft4", "robosoft5",
    "robosoft6", "robosoft7", "robosoft8", "sandro", "shelby", "victor", "whisper"]
assert not set(TRAIN_VARIANTS) & set(HELDOUT_VARIANTS)

RATE = (120, 220)       # espeak -s, inclusive
PITCH = (20, 80)        # espeak -p, inclusive
P_CLEAN = 0.2
SNR_DB = (5.0, 30.0)
P_REVERB = 0.3
LEAD_S = (0.05, 0.30)
TRAIL_S = (0.05, 0.20)
PEAK_DBFS = (-20.0, -1.0)



# ASR transcripts: the LM tokens with the split-off possessive 's glued back to its word ("king 's" -> "king's") and
# internal hyphens replaced by a space ("loving-kindness" -> "loving kindness"): only a-z, apostrophe and space remain.
ALLOWED = set("abcdefghijklmnopqrstuvwxyz' ")


def transcript_words(line):
    """Words of one verse for ASR (see module doc); None if anything falls outside a-z/'."""
    words = []
    for t in kjv_text.tokenize(line):
        if t == "'s":
            if not words:
                continue
            words[-1] += "'s"
        elif t == "N":
            return None
        else:
            words.extend(t.split("-"))
    words = [w for w in words if w]
    if any(c not in ALLOWED for w in words for c in w):
        return None
    return words

def make_chunks(seed, min_words, max_words):
    """All chunks of the whole book, in verse order: list of (split, text)."""
    rng = np.random.default_rng([seed, 0])
    chunks = []
    for vi, line in enumerate(kjv_text.read_verses()):
        words = transcript_words(line)
        if words is None or len(words) < min_words:
            continue
        split = kjv_text.split_of(vi)
        pieces, pos = [], 0
        while pos < len(words):
            n = int(rng.integers(min_words, max_words + 1))
            pieces.append(words[pos:pos + n])
            pos += n
        if len(pieces) > 1 and len(pieces[-1]) < min_words:
            last = pieces.pop()
            pieces[-1] = pieces[-1] + last
        chunks.extend((split, " ".join(p)) for p in pieces)
    return chunks


def draw_params(seed, split, index):
    rng = np.random.default_rng([seed, 2, SPLITS[split], index])
    accent = ACCENTS[int(rng.integers(len(ACCENTS)))]
    if split == "train":
        k = int(rng.integers(len(TRAIN_VARIANTS) + 1))
        variant = TRAIN_VARIANTS[k - 1] if k > 0 else ""
    else:
        variant = HELDOUT_VARIANTS[int(rng.integers(len(HELDOUT_VARIANTS)))]
    p = {
        "voice": accent + ("+" + variant if variant else ""),
        "rate": int(rng.integers(RATE[0], RATE[1] + 1)),
        "pitch": int(rng.integers(PITCH[0], PITCH[1] + 1)),
        "wordgap": 0 if rng.random() < 0.5 else int(rng.integers(1, 6)),
    }
    if rng.random() < P_REVERB:
        p["reverb"] = "%d 50 %d" % (int(rng.integers(10, 71)), int(rng.integers(20, 81)))
    else:
        p["reverb"] = "none"
    if rng.random() < P_CLEAN:
        p["noise"], p["snr"] = "none", float("inf")
    else:
        p["noise"] = "white" if rng.random() < 0.5 else "pink"
        p["snr"] = round(float(rng.uniform(*SNR_DB)), 1)
    p["lead"] = float(rng.uniform(*LEAD_S))
    p["trail"] = float(rng.uniform(*TRAIL_S))
    p["peak_dbfs"] = float(rng.uniform(*PEAK_DBFS))
    p["noise_seed"] = int(rng.integers(2 ** 31))
    return p


def colored_noise(rng, n, kind):
    w = rng.standard_normal(n)
    if kind == "pink":
        spec = np.fft.rfft(w)
        k = np.arange(len(spec), dtype=np.float64)
        k[0] = np.inf  # no DC
        spec /= np.sqrt(k)
        w = np.fft.irfft(spec, n)
    return w / np.sqrt(np.mean(w ** 2))


def synthesise(text, p):
    """Returns int16 samples at 8 kHz."""
    esp = ["espeak-ng", "-v", p["voice"], "-s", str(p["rate"]), "-p", str(p["pitch"]),
           "-g", str(p["wordgap"]), "--stdout"]
    wav = subprocess.run(esp, input=text.encode("ascii"), check=True, capture_output=True).stdout
    sx = ["sox", "-R", "-G", "-V1", "-t", "wav", "-", "-t", "f32", "-c", "1", "-", "rate", str(SR)]
    if p["reverb"] != "none":
        sx += ["reverb"] + p["reverb"].split()
    x = np.frombuffer(subprocess.run(sx, input=wav, check=True, capture_output=True).stdout,
                      dtype="<f4").astype(np.float64)
    if x.size == 0 or not np.any(x):
        raise RuntimeError("espeak-ng produced no audio for %r with %s" % (text, p["voice"]))
    peak = np.abs(x).max()
    last = np.nonzero(np.abs(x) >= 0.01 * peak)[0][-1]
    speech = x[:last + 1]
    lead, trail = int(round(p["lead"] * SR)), int(round(p["trail"] * SR))
    y = np.concatenate([np.zeros(lead), speech, np.zeros(trail)])
    if p["noise"] != "none":
        rng = np.random.default_rng(p["noise_seed"])
        power = np.mean(speech ** 2)
        y = y + colored_noise(rng, len(y), p["noise"]) * np.sqrt(power / 10 ** (p["snr"] / 10))
    y *= 10 ** (p["peak_dbfs"] / 20) / np.abs(y).max()
    return np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)


def write_wav(path, samples):
    tmp = path + ".tmp"
    with wave.open(tmp, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(samples.astype("<i2").tobytes())
    os.replace(tmp, path)


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError("%s: expected 16-bit mono PCM" % path)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate()


_JOB = {}


def _init(job):
    _JOB.update(job)


def _work(item):
    index, text = item
    p = draw_params(_JOB["seed"], _JOB["split"], index)
    rel = "wav/%s_%05d.wav" % (_JOB["split"], index)
    samples = synthesise(text, p)
    write_wav(os.path.join(_JOB["out"], rel), samples)
    snr = "inf" if p["snr"] == float("inf") else "%.1f" % p["snr"]
    return [rel, text, p["voice"], str(p["rate"]), str(p["pitch"]), snr, str(p["wordgap"]),
            p["noise"], p["reverb"], "%.3f" % (len(samples) / SR)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=list(SPLITS), required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--min-words", type=int, default=3)
    ap.add_argument("--max-words", type=int, default=8)
    args = ap.parse_args()

    t0 = time.time()
    chunks = [t for s, t in make_chunks(args.seed, args.min_words, args.max_words) if s == args.split]
    order = np.random.default_rng([args.seed, 1, SPLITS[args.split]]).permutation(len(chunks))
    items = [(i, chunks[order[i % len(chunks)]]) for i in range(args.count)]
    print("%s: %d chunks available, %d utterances" % (args.split, len(chunks), args.count), file=sys.stderr)

    os.makedirs(os.path.join(args.out, "wav"), exist_ok=True)
    job = {"seed": args.seed, "split": args.split, "out": args.out}
    rows = []
    if args.jobs > 1:
        with multiprocessing.Pool(args.jobs, initializer=_init, initargs=(job,)) as pool:
            for k, row in enumerate(pool.imap(_work, items, chunksize=8)):
                rows.append(row)
                if (k + 1) % 1000 == 0:
                    print("  %d/%d  %.0f s" % (k + 1, len(items), time.time() - t0), file=sys.stderr)
    else:
        _init(job)
        rows = [_work(it) for it in items]

    header = ["file", "transcript", "voice", "rate", "pitch", "snr", "wordgap", "noise", "reverb", "seconds"]
    tmp = os.path.join(args.out, "manifest.tsv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    os.replace(tmp, os.path.join(args.out, "manifest.tsv"))

    seconds = sum(float(r[-1]) for r in rows)
    info = {
        "split": args.split, "count": args.count, "seed": args.seed,
        "min_words": args.min_words, "max_words": args.max_words,
        "chunks_available": len(chunks),
        "audio_seconds": round(seconds, 1),
        "wav_bytes": sum(os.path.getsize(os.path.join(args.out, r[0])) for r in rows),
        "characters": sum(len(r[1]) for r in rows),
        "words": sum(len(r[1].split()) for r in rows),
        "accents": ACCENTS,
        "variants": HELDOUT_VARIANTS if args.split != "train" else TRAIN_VARIANTS + ["(none)"],
        "rate": RATE, "pitch": PITCH, "p_clean": P_CLEAN, "snr_db": SNR_DB, "p_reverb": P_REVERB,
        "lead_s": LEAD_S, "trail_s": TRAIL_S, "peak_dbfs": PEAK_DBFS,
        "tools": {"espeak-ng": kjv_text.package_version("espeak-ng"), "sox": kjv_text.package_version("sox"),
                  "bible-kjv-text": kjv_text.package_version("bible-kjv-text")},
        "generation_seconds": round(time.time() - t0, 1), "jobs": args.jobs,
    }
    with open(os.path.join(args.out, "info.json"), "w") as f:
        json.dump(info, f, indent=2)
    print("%s: %d utterances, %.1f s audio, %.1f MB, %.1f s wall" % (
        args.split, len(rows), seconds, info["wav_bytes"] / 1e6, time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
