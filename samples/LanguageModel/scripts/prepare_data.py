#!/usr/bin/python3
"""Build a PTB-style word-level language-model corpus from the King James Bible.

The text comes from the Debian package ``bible-kjv-text`` (compressed data file
``bible.data``); it is decompressed with the reader ``bible`` from the package
``bible-kjv`` (which depends on bible-kjv-text), one verse per line.

Output (in --out, default ``data/`` next to this scripts/ folder):
  train.txt, valid.txt, test.txt  one verse per line, space-separated tokens,
                                  out-of-vocabulary words replaced by <unk>;
                                  no <eos> in the files: readers append <eos>
                                  at the end of every line (as in the PTB LM
                                  examples)
  vocab.txt                       one word per line, id = 0-based line number
  stats.json                      token counts, vocabulary size, OOV rates

Deterministic: the same package version gives byte-identical files.

Tokenisation (PTB style):
  * the verse reference ("Ge1:1 ") at the start of each line is removed
  * lowercase
  * the possessive clitic 's is split off as its own token ("king's" -> "king 's");
    a trailing plural-possessive apostrophe is dropped ("sons'" -> "sons")
  * internal hyphens are kept ("loving-kindness" is one token)
  * all other punctuation is removed
  * any token containing a digit becomes N (the KJV spells numbers out, so
    there are none in practice)

Split: lines are grouped in contiguous blocks of --block verses (default 100),
block b goes to valid if b % 20 == 18, to test if b % 20 == 19, else to train
(~90/5/5, spread over the whole book so all three splits cover all genres).

Vocabulary: the (--vocab - 2) most frequent words of train.txt (ties broken
alphabetically), preceded by <unk> (id 0) and <eos> (id 1).
"""
import argparse
import collections
import json
import os
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "common"))
from kjv_text import find_data_file, package_version, read_verses, split_of, tokenize  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "data"))
    ap.add_argument("--vocab", type=int, default=10000, help="vocabulary size incl. <unk> and <eos>")
    ap.add_argument("--block", type=int, default=100, help="verses per contiguous split block")
    ap.add_argument("--bible", default="bible", help="the reader from package bible-kjv")
    ap.add_argument("--data-file", default=None, help="default: bible.data from dpkg -L bible-kjv-text")
    args = ap.parse_args()

    data_file = args.data_file or find_data_file()
    verses = read_verses(data_file, args.bible)
    if len(verses) != 31102:
        print("warning: expected 31102 verses, got %d" % len(verses), file=sys.stderr)

    splits = {"train": [], "valid": [], "test": []}
    for i, v in enumerate(verses):
        toks = tokenize(v)
        if not toks:
            continue
        splits[split_of(i, args.block)].append(toks)

    counts = collections.Counter(t for s in splits["train"] for t in s)
    words = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: args.vocab - 2]
    vocab = ["<unk>", "<eos>"] + [w for w, _ in words]
    vset = set(vocab)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "vocab.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(vocab) + "\n")

    stats = {
        "source": "Debian packages bible-kjv-text %s / bible-kjv %s (%s)" % (
            package_version("bible-kjv-text"), package_version("bible-kjv"), data_file),
        "verses": len(verses),
        "vocab_size": len(vocab),
        "train_distinct_words": len(counts),
        "splits": {},
    }
    for name, lines in splits.items():
        n_words = sum(len(s) for s in lines)
        n_unk = 0
        with open(os.path.join(args.out, name + ".txt"), "w", encoding="utf-8", newline="\n") as f:
            for s in lines:
                m = [t if t in vset else "<unk>" for t in s]
                n_unk += sum(1 for t in m if t == "<unk>")
                f.write(" ".join(m) + "\n")
        stats["splits"][name] = {
            "lines": len(lines),
            "words": n_words,
            "tokens_with_eos": n_words + len(lines),
            "unk": n_unk,
            "oov_rate_words": round(n_unk / n_words, 5),
            "oov_rate_with_eos": round(n_unk / (n_words + len(lines)), 5),
        }
    with open(os.path.join(args.out, "stats.json"), "w") as f:
        json.dump(stats, f, indent=2)
        f.write("\n")
    print(json.dumps(stats, indent=2))


if __name__ == "__main__":
    main()
