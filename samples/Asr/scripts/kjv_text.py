#!/usr/bin/python3
"""King James Bible verses and their normalisation, shared by make_data.py.

The reading and the tokenisation are copied from
samples/LanguageModel/scripts/prepare_data.py (``find_data_file``, ``read_verses``,
``REF``, ``TOKEN``, ``tokenize``), so both samples see the same text and the same
verse-block split; they are copied rather than imported so that this sample stands
alone. Source: Debian package ``bible-kjv-text`` (``/usr/lib/bible.data``), decoded
with the reader ``bible`` from ``bible-kjv``: one verse per line, "Ge1:1 text".

ASR transcripts (``transcript_words``): the LM tokens, with the split-off possessive
``'s`` glued back to its word ("king 's" -> "king's") and internal hyphens replaced
by a space ("loving-kindness" -> "loving kindness"). The result uses only the
characters a-z, apostrophe and space (the apostrophe only in "'s").

Split (as prepare_data.py): verses in contiguous blocks of 100; block b goes to
valid if b % 20 == 18, to test if b % 20 == 19, else to train.
"""
import os
import re
import subprocess
import sys


def find_data_file():
    out = subprocess.run(["dpkg", "-L", "bible-kjv-text"], check=True,
                         capture_output=True, text=True).stdout.split("\n")
    for p in out:
        if p.endswith("/bible.data"):
            return p
    sys.exit("bible.data not found in `dpkg -L bible-kjv-text`")


def package_version(pkg):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], check=True,
                              capture_output=True, text=True).stdout.strip()
    except Exception:
        return "unknown"


def read_verses(data_file=None, bible_exe="bible"):
    data_file = data_file or find_data_file()
    d, name = os.path.split(data_file)
    # -f toggles pretty printing OFF: one verse per line, "Ge1:1 text".
    cmd = [bible_exe, "-f", "-p", d, "-d", name, "Gen1:1-Rev22:21"]
    out = subprocess.run(cmd, check=True, capture_output=True,
                         env=dict(os.environ, LC_ALL="C")).stdout.decode("latin-1")
    return [l for l in out.split("\n") if l.strip()]


REF = re.compile(r"^[1-3]?[A-Za-z]+\d+:\d+\s+")
TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*(?:'s\b)?|'s\b")


def tokenize(line):
    m = REF.match(line)
    if not m:
        raise ValueError("line without verse reference: %r" % line[:80])
    text = line[m.end():].lower()
    toks = []
    for t in TOKEN.findall(text):
        if t.endswith("'s"):
            base = t[:-2]
            if base:
                toks.append(base)
            toks.append("'s")
        else:
            toks.append(t)
    return ["N" if any(c.isdigit() for c in t) else t for t in toks]


ALLOWED = set("abcdefghijklmnopqrstuvwxyz' ")


def transcript_words(line):
    """Words of one verse for ASR (see module doc); None if anything falls outside a-z/'."""
    words = []
    for t in tokenize(line):
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


def split_of(verse_index, block=100):
    r = (verse_index // block) % 20
    return "valid" if r == 18 else "test" if r == 19 else "train"
