#!/usr/bin/env python3
"""What DirNet's file would store with other code-index storages, from `dirnet compress --method dirnet --json`.

Usage: dirnet compress MODEL -o OUT.onnx --method dirnet --ratio R --precision int4 --scope recurrent --json > F.json
       python3 docs/scripts/dirnet_code_storage.py F.json [F2.json ...]

Today each code's atom index is 8-bit (up to 256 atoms) or 16-bit, and each row start int32. Printed per file: the
bytes of those indices and row starts, and the stored ratio over the compressed matrices if they were instead a bitmap
per code row (one bit per atom; the counts follow from it), or at the entropy bound of the code pattern
(log2 C(atoms, codes per row) bits per row, with the mean count per row). Everything else (values, scales, dictionary)
is kept as stored.
"""
import json
import re
import sys
from math import lgamma, log


def log2_choose(n, k):
    return (lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)) / log(2)


for path in sys.argv[1:]:
    report = json.load(open(path))
    before, after = report["bytes_before"], report["bytes_after"]
    indices = bitmap = entropy = 0.0
    for matrix in report["matrices"]:
        found = re.match(r"(\d+) atoms.*?, ([\d,]+) codes", matrix["structure"])
        if not found:
            continue
        atoms, codes, rows = int(found.group(1)), int(found.group(2).replace(",", "")), matrix["rows"]
        indices += codes * (1 if atoms <= 256 else 2) + 4 * (rows + 1)
        bitmap += rows * atoms / 8
        entropy += rows * log2_choose(atoms, codes / rows) / 8
    print(f"{path}: {after:,} bytes ({before / after:.2f}x); indices and row starts {indices:,.0f} ({indices / after:.0%}); "
          f"as bitmaps {bitmap:,.0f} -> {before / (after - indices + bitmap):.2f}x; "
          f"at the entropy bound {entropy:,.0f} -> {before / (after - indices + entropy):.2f}x")
