"""Compiled kernels that turn tokenized text (UTF-8, tokens split by spaces, lines by newlines) into word ids.

The vocabulary is an open-addressing hash table (FNV-1a over each word's UTF-8 bytes, linear
probing, at most half full) of indices into the words' concatenated bytes. Used by
``common.write_ids``: numba is loaded for training anyway, so the conversion costs no library of its
own (pyarrow's compute kernels, used before, kept about 120 MB more resident during training).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)
_SPACE = 32
_NEWLINE = 10


@njit(cache=True, nogil=True, inline="always")
def _hash(buf, lo, hi):
    h = _FNV_OFFSET
    for i in range(lo, hi):
        h = (h ^ np.uint64(buf[i])) * _FNV_PRIME
    return h


@njit(cache=True, nogil=True)
def build_table(blob, offsets):
    """The hash table of the words ``blob[offsets[i]:offsets[i + 1]]``: slots hold word indices, -1 if empty.

    Words must be distinct; the table has a power-of-two size at least twice the number of words.
    """
    n = offsets.shape[0] - 1
    size = 2
    while size < 2 * n:
        size *= 2
    table = np.full(size, -1, dtype=np.int32)
    mask = np.uint64(size - 1)
    for w in range(n):
        j = _hash(blob, offsets[w], offsets[w + 1]) & mask
        while table[np.int64(j)] >= 0:
            j = (j + np.uint64(1)) & mask
        table[np.int64(j)] = w
    return table


@njit(cache=True, nogil=True)
def text_to_ids(buf, blob, offsets, table, line_end, out):
    """Write to ``out`` the ids of the tokens of ``buf`` found in the table and ``line_end`` after each
    newline; tokens not in the vocabulary (and empty ones) are dropped. Returns the number of ids written.

    ``out`` needs at most one slot per byte of ``buf``; text after the last newline is read as tokens
    with no line end after them.
    """
    mask = np.uint64(table.shape[0] - 1)
    k = 0
    start = 0
    n = buf.shape[0]
    for i in range(n + 1):
        b = buf[i] if i < n else _SPACE
        if b != _SPACE and b != _NEWLINE:
            continue
        length = i - start
        if length > 0:
            j = _hash(buf, start, i) & mask
            while True:
                w = table[np.int64(j)]
                if w < 0:
                    break
                lo = offsets[w]
                if offsets[w + 1] - lo == length:
                    same = True
                    for c in range(length):
                        if blob[lo + c] != buf[start + c]:
                            same = False
                            break
                    if same:
                        out[k] = w
                        k += 1
                        break
                j = (j + np.uint64(1)) & mask
        if b == _NEWLINE:
            out[k] = line_end
            k += 1
        start = i + 1
    return k
