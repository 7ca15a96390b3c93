"""Compiled kernels that turn tokenized text (UTF-8, tokens split by spaces, lines by newlines) into word ids.

The vocabulary is the hash table of ``embcli.sentence_kernels`` (``byte_hash``'s FNV-1a over each word's UTF-8
bytes, linear probing, at most half full) over the words' concatenated bytes. Used by
``common.write_ids``: numba is loaded for training anyway, so the conversion costs no library of its
own (pyarrow's compute kernels, used before, kept about 120 MB more resident during training).
"""

from __future__ import annotations

from numba import njit

from embcli.sentence_kernels import _find
from embcli.sentence_kernels import build_table as _build_table

_SPACE = 32
_NEWLINE = 10


def build_table(blob, offsets):
    """The hash table of the distinct words ``blob[offsets[i]:offsets[i + 1]]`` (slots hold word
    indices, -1 if empty), as ``text_to_ids`` reads it."""
    return _build_table(blob, offsets[:-1], offsets[1:])


@njit(cache=True, nogil=True)
def text_to_ids(buf, blob, offsets, table, line_end, out):
    """Write to ``out`` the ids of the tokens of ``buf`` found in the table and ``line_end`` after each
    newline; tokens not in the vocabulary (and empty ones) are dropped. Returns the number of ids written.

    ``out`` needs at most one slot per byte of ``buf``; text after the last newline is read as tokens
    with no line end after them.
    """
    starts, ends = offsets[:-1], offsets[1:]
    k = 0
    start = 0
    n = buf.shape[0]
    for i in range(n + 1):
        b = buf[i] if i < n else _SPACE
        if b != _SPACE and b != _NEWLINE:
            continue
        length = i - start
        if length > 0:
            w = _find(table, blob, starts, ends, buf, start, i, False)
            if w >= 0:
                out[k] = w
                k += 1
        if b == _NEWLINE:
            out[k] = line_end
            k += 1
        start = i + 1
    return k
