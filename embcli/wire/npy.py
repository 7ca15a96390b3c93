"""The ``.npy`` header, written and read, and a writer that appends rows to a ``.npy`` file.

Format (numpy's ``NEP 1``): the magic ``\\x93NUMPY``, a version byte pair, the header's length (two
bytes little-endian in version 1.0, four in 2.0 and 3.0), then a Python dict literal with ``descr``,
``fortran_order`` and ``shape``, padded with spaces and a newline so that the data starts on a multiple
of 64 bytes. The header is parsed as a literal only: nothing is ever unpickled or evaluated.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np

from embcli.errors import FormatError

MAGIC = b"\x93NUMPY"
HEADER_LEN = 128
# numpy's own limit on the header it parses (``max_header_size``): a longer one is no file of ours.
MAX_HEADER_LEN = 10_000
_KEYS = {"descr", "fortran_order", "shape"}


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    """A version-1.0 ``.npy`` header of exactly 128 bytes for a C-ordered array of ``shape``.

    The fixed size lets a writer rewrite the header in place once it knows the row count.
    """
    text = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (descr, tuple(int(n) for n in shape))
    body_len = HEADER_LEN - 10
    text = text.ljust(body_len - 1) + "\n"
    if len(text) != body_len:
        raise FormatError(f"array shape {shape} too large for a .npy header")
    return MAGIC + b"\x01\x00" + body_len.to_bytes(2, "little") + text.encode("latin1")


def _read(fh, size: int, what: str) -> bytes:
    data = fh.read(size)
    if len(data) != size:
        raise FormatError(f"the .npy file ends inside its {what}: it is truncated")
    return data


def read_npy_header(fh) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Read the header at ``fh``'s position: ``(shape, fortran_order, dtype, data_offset)``.

    ``data_offset`` is where the array's bytes start in the file (``fh`` is left there). Versions 1.0,
    2.0 and 3.0 are read; anything that is not a ``.npy`` header raises ``FormatError``. An object
    dtype is returned as it is (``dtype.hasobject``): callers must refuse it, never unpickle.
    """
    magic = _read(fh, 8, "magic string")
    if magic[:6] != MAGIC:
        raise FormatError(f"not a .npy file (it starts with {magic[:6]!r}, not {MAGIC!r})")
    major, minor = magic[6], magic[7]
    if (major, minor) not in ((1, 0), (2, 0), (3, 0)):
        raise FormatError(f".npy format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are)")
    width = 2 if major == 1 else 4
    length = int.from_bytes(_read(fh, width, "header length"), "little")
    if length > MAX_HEADER_LEN:
        raise FormatError(f".npy header of {length:,} bytes: longer than {MAX_HEADER_LEN:,}, so not read")
    raw = _read(fh, length, "header")
    try:
        text = raw.decode("utf-8" if major == 3 else "latin1")
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
        raise FormatError(f"the .npy header is not a Python literal: {raw[:80]!r}") from None
    if not isinstance(header, dict) or set(header) != _KEYS:
        keys = sorted(header) if isinstance(header, dict) else type(header).__name__
        raise FormatError(f"the .npy header must have exactly the keys {sorted(_KEYS)}, not {keys}")
    shape, fortran, descr = header["shape"], header["fortran_order"], header["descr"]
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        raise FormatError(f"the .npy header's shape is not a tuple of sizes: {shape!r}")
    if not isinstance(fortran, bool):
        raise FormatError(f"the .npy header's fortran_order is not True or False: {fortran!r}")
    try:
        dtype = np.dtype(descr) if isinstance(descr, str) else np.lib.format.descr_to_dtype(descr)
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise FormatError(f"the .npy header's descr {descr!r} is no data type ({exc})") from None
    if math.prod(shape) * dtype.itemsize >= 1 << 63:
        raise FormatError(f"the .npy header's shape {shape} is larger than any file")
    return shape, fortran, dtype, fh.tell()


class NpyAppender:
    """Append rows to a ``.npy`` file; ``close`` writes the final shape into the header."""

    def __init__(self, path: Path, width: int, dtype: str = "<f4"):
        self.path = Path(path)
        self.width = width
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self._fh = open(self.path, "wb")
        self._fh.write(npy_header((0, width) if width else (0,), self.dtype.str))

    def append(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if block.size:  # a memoryview of an empty 2-d block cannot be cast to bytes
            self._fh.write(memoryview(block).cast("B"))
        self.rows += block.shape[0]

    def close(self) -> None:
        if self._fh.closed:
            return
        self._fh.seek(0)
        self._fh.write(npy_header((self.rows, self.width) if self.width else (self.rows,), self.dtype.str))
        self._fh.close()
