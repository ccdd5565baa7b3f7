"""The low-bit value arrays of a compressed file (precisions int4, int3, int2 and ternary, one float16 scale per group
of ``group`` consecutive values along a row): their packing, exactly as Microsoft.ML.DirNet writes it
(src/Microsoft.ML.DirNet/Compression/Quantization/LevelPacking.cs), and the grid a trained array is put back on.

A value array named N is stored as three initializers:

- ``N``: uint8, one dimension: the levels packed little-endian; int4, int3 and int2 as one bit stream (the lowest bits
  of the first level first; eight int3 levels in three bytes), ternary as base-3 digits five to a byte (the first level
  the least significant);
- ``N_scale``: float16 [rows, groups per row];
- ``N_zero``: uint8, one dimension, the zero points packed as the levels are (absent for ternary, whose zero is level 1).

A value is (level - zero) x scale. A 2-D array's rows are its first dimension; any other array is one row. The array's
shape is in the ``dirnet.compression`` metadata (``shapes`` of each matrix entry, with its ``precision`` and ``group``).
"""
import numpy as np

PRECISIONS = {"int4": (4, False), "int3": (3, False), "int2": (2, False), "ternary": (2, True)}
TRITS_PER_BYTE = 5
ZERO = "{}_zero"
SCALE = "{}_scale"


class LowBitGrid:
    """One precision and group size: ``levels`` levels (0 .. levels - 1), zero points unless ternary."""

    def __init__(self, precision, group):
        if precision not in PRECISIONS:
            raise ValueError(f"'{precision}' is not a low-bit precision ({', '.join(PRECISIONS)})")
        self.precision, self.group = precision, int(group)
        self.bits, self.ternary = PRECISIONS[precision]
        self.levels = 3 if self.ternary else 1 << self.bits

    @property
    def has_zero_points(self):
        return not self.ternary

    def groups_per_row(self, columns):
        return (columns + self.group - 1) // self.group

    def packed_bytes(self, count):
        return (count + TRITS_PER_BYTE - 1) // TRITS_PER_BYTE if self.ternary else (count * self.bits + 7) // 8

    def pack(self, levels):
        """``levels`` (integers below ``self.levels``, any shape, read in row-major order) as packed uint8 bytes."""
        levels = np.asarray(levels).reshape(-1).astype(np.int64)
        if levels.size and (levels.min() < 0 or levels.max() >= self.levels):
            raise ValueError(f"levels outside the {self.precision} grid 0..{self.levels - 1}")
        count = levels.size
        if self.ternary:
            digits = np.zeros(self.packed_bytes(count) * TRITS_PER_BYTE, dtype=np.int64)
            digits[:count] = levels
            return (digits.reshape(-1, TRITS_PER_BYTE) * 3 ** np.arange(TRITS_PER_BYTE)).sum(axis=1).astype(np.uint8)
        bits = ((levels[:, None] >> np.arange(self.bits)) & 1).reshape(-1)
        stream = np.zeros(self.packed_bytes(count) * 8, dtype=np.uint8)
        stream[: bits.size] = bits
        return np.packbits(stream, bitorder="little")

    def unpack(self, packed, count):
        """The first ``count`` levels (int64) of a packed byte stream."""
        packed = np.asarray(packed, dtype=np.uint8).reshape(-1)
        if packed.size < self.packed_bytes(count):
            raise ValueError(f"{packed.size} bytes cannot hold {count} {self.precision} levels")
        if self.ternary:
            digits = packed.astype(np.int64)[:, None] // 3 ** np.arange(TRITS_PER_BYTE) % 3
            return digits.reshape(-1)[:count]
        bits = np.unpackbits(packed, bitorder="little")[: count * self.bits].astype(np.int64)
        return (bits.reshape(count, self.bits) << np.arange(self.bits)).sum(axis=1)


def layout(shape):
    """(rows, columns) of a low-bit array of ``shape``: a matrix's own, one row for anything else."""
    return (shape[0], shape[1]) if len(shape) == 2 else (1, int(np.prod(shape)))


def low_bit_arrays(metadata):
    """{initializer name: (LowBitGrid, shape)} of every low-bit value array the ``dirnet.compression`` metadata lists."""
    arrays = {}
    for entry in (metadata or {}).get("initializers", []):
        for direction, matrix in enumerate(entry.get("matrices", [])):
            if matrix.get("precision") not in PRECISIONS:
                continue
            grid = LowBitGrid(matrix["precision"], matrix["group"])
            prefix = f"dirnet/{entry['name']}/{direction}/"
            for factor, shape in (matrix.get("shapes") or {}).items():
                arrays[prefix + factor] = (grid, [int(d) for d in shape])
    return arrays
