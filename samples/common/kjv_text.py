#!/usr/bin/python3
"""King James Bible verses as both samples use them: reading, tokenisation and the split rule.

Source: Debian package ``bible-kjv-text`` (``/usr/lib/bible.data``), decoded with the reader ``bible`` from
``bible-kjv``: one verse per line, "Ge1:1 text". ``tokenize`` is the language model's PTB-style tokenisation (see
samples/LanguageModel/README.md); the speech sample derives its transcripts from the same tokens.

Split: verses in contiguous blocks of 100; block b goes to valid if b % 20 == 18, to test if b % 20 == 19, else to
train, so the two samples hold out the same text.
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


def split_of(verse_index, block=100):
    """The split a verse belongs to (see module doc)."""
    r = (verse_index // block) % 20
    return "valid" if r == 18 else "test" if r == 19 else "train"
