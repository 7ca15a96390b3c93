"""Compiled kernels for sentence vectors: bytes to vocabulary rows, and rows to pooled vectors.

Imported only where sentence vectors are made (numba compiles them once and caches the result).

``tokenize_rows`` splits a block of UTF-8 lines (joined by ``\\n``) into tokens and looks each up in
an open-addressing hash table of the vocabulary, all in one pass over the bytes and without a Python
object per token. It reproduces ``embcli.tokenize`` exactly for ASCII lines; a line with any
non-ASCII byte is flagged instead, and the caller tokenizes it with the Python tokenizer (Unicode
normalization and case folding are not done here). ``pool`` sums the weighted rows of each line.
"""

from __future__ import annotations

import numba
import numpy as np

from embcli.byte_hash import fnv1a, same_bytes

# Modes of ``tokenize_rows``.
UNICODE = 0  # the ASCII path of the unicode tokenizer: \w+(?:['-]\w+)* with re.ASCII
WHITESPACE = 1  # str.split(): ASCII white space and the separators \x1c-\x1f
FASTTEXT = 2  # fastText's `iss >> word`: split on space, \t, \n, \v, \f, \r only; bytes as they are
TOKENS = 3  # every line is one token, matched exactly


@numba.njit(cache=True, nogil=True)
def build_table(vdata, vstarts, vends):  # pragma: no cover - compiled
    """An open-addressing table (size a power of two, at least twice the vocabulary) of rows."""
    n = len(vstarts)
    size = 16
    while size < 2 * n:
        size *= 2
    table = np.full(size, -1, dtype=np.int64)
    mask = np.uint64(size - 1)
    for row in range(n):
        slot = fnv1a(vdata, vstarts[row], vends[row], False) & mask
        while True:
            other = table[slot]
            if other < 0:
                table[slot] = row
                break
            # A word listed twice keeps its first (most frequent) row.
            if same_bytes(vdata, vstarts[other], vends[other], vdata, vstarts[row], vends[row], False):
                break
            slot = (slot + np.uint64(1)) & mask
    return table


@numba.njit(cache=True, nogil=True, inline="always")
def _find(table, vdata, vstarts, vends, data, start, end, lower):  # pragma: no cover - compiled
    mask = np.uint64(len(table) - 1)
    slot = fnv1a(data, start, end, lower) & mask
    while True:
        row = table[slot]
        if row < 0:
            return -1
        if same_bytes(vdata, vstarts[row], vends[row], data, start, end, lower):
            return row
        slot = (slot + np.uint64(1)) & mask


@numba.njit(cache=True, nogil=True, inline="always")
def _is_word(b):  # pragma: no cover - compiled
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b == 95


@numba.njit(cache=True, nogil=True, inline="always")
def _is_space(b, mode):  # pragma: no cover - compiled
    if b == 32 or 9 <= b <= 13:
        return True
    return mode == WHITESPACE and 28 <= b <= 31


# Classes of ``fold_ascii``'s table of code points below U+10000.
SLOW, SEPARATOR, APOSTROPHE, HYPHEN = 0, 1, 2, 3
_AS_ASCII = np.array([0, 32, 39, 45], dtype=np.uint8)


@numba.njit(cache=True, nogil=True)
def fold_ascii(data, classes):  # pragma: no cover - compiled
    """Rewrite each line whose non-ASCII characters all have a class as ASCII (space, ' or -).

    ``classes[cp]`` says what the unicode tokenizer makes of code point ``cp`` next to ASCII text
    (after NFKC and its folding map): a separator, an apostrophe, a hyphen, or SLOW (anything else,
    and every code point above U+FFFF). Lines with a SLOW character are copied unchanged.
    """
    n = len(data)
    out = np.empty(n, dtype=np.uint8)
    o = 0
    start = 0
    while start < n:
        end = start
        simple = True
        while end < n and data[end] != 10:
            b = data[end]
            if b >= 128:
                if 0xC2 <= b <= 0xDF and end + 1 < n:
                    cp = ((b & 0x1F) << 6) | (data[end + 1] & 0x3F)
                    end += 2
                elif 0xE0 <= b <= 0xEF and end + 2 < n:
                    cp = ((b & 0x0F) << 12) | ((data[end + 1] & 0x3F) << 6) | (data[end + 2] & 0x3F)
                    end += 3
                else:
                    cp = -1
                    end += 1
                if cp < 0 or classes[cp] == SLOW:
                    simple = False
            else:
                end += 1
        stop = min(end + 1, n)  # with the newline
        if simple:
            i = start
            while i < stop:
                b = data[i]
                if b < 128:
                    out[o] = b
                    o += 1
                    i += 1
                elif b <= 0xDF:
                    out[o] = _AS_ASCII[classes[((b & 0x1F) << 6) | (data[i + 1] & 0x3F)]]
                    o += 1
                    i += 2
                else:
                    cp = ((b & 0x0F) << 12) | ((data[i + 1] & 0x3F) << 6) | (data[i + 2] & 0x3F)
                    out[o] = _AS_ASCII[classes[cp]]
                    o += 1
                    i += 3
        else:
            for i in range(start, stop):
                out[o] = data[i]
                o += 1
        start = stop
    return out[:o]


@numba.njit(cache=True, nogil=True)
def tokenize_rows(data, mode, lower, min_len, table, vdata, vstarts, vends):  # pragma: no cover - compiled
    """Tokens of ``data`` (lines ending in ``\\n``): (line, row, start, end) of each, and slow lines.

    ``row`` is -1 for a token not in the vocabulary; ``slow[i]`` is True for a line holding non-ASCII
    bytes in modes UNICODE and WHITESPACE (its tokens are left out: the caller does that line).
    """
    n = len(data)
    cap = n // 2 + 2
    t_line = np.empty(cap, dtype=np.int64)
    t_row = np.empty(cap, dtype=np.int64)
    t_start = np.empty(cap, dtype=np.int64)
    t_end = np.empty(cap, dtype=np.int64)
    lines = 0
    for i in range(n):
        if data[i] == 10:
            lines += 1
    slow = np.zeros(lines, dtype=np.bool_)
    nt = 0
    line = 0
    line_first = 0  # first token of the current line
    i = 0
    while i < n:
        b = data[i]
        if b == 10:
            line += 1
            line_first = nt
            i += 1
            continue
        if mode == TOKENS:
            j = i
            while j < n and data[j] != 10:
                j += 1
            s, e = i, j
        elif mode == FASTTEXT:
            if b == 32 or 9 <= b <= 13:
                i += 1
                continue
            j = i
            while j < n and not (data[j] == 32 or 9 <= data[j] <= 13):
                j += 1
            s, e = i, j
        else:
            if b >= 128 and mode != FASTTEXT:
                # Non-ASCII: drop what this line found and skip to its end.
                slow[line] = True
                nt = line_first
                while i < n and data[i] != 10:
                    i += 1
                continue
            if mode == WHITESPACE:
                if _is_space(b, mode):
                    i += 1
                    continue
                j = i
                while j < n and data[j] < 128 and not _is_space(data[j], mode):
                    j += 1
                if j < n and data[j] >= 128:
                    i = j  # the non-ASCII byte flags the line on the next turn
                    continue
                s, e = i, j
            else:
                if not _is_word(b):
                    i += 1
                    continue
                j = i + 1
                while True:
                    while j < n and _is_word(data[j]):
                        j += 1
                    if j + 1 < n and (data[j] == 39 or data[j] == 45) and _is_word(data[j + 1]):
                        j += 2
                        continue
                    break
                if j < n and data[j] >= 128:
                    # A word touching a non-ASCII byte: the line takes the slow path.
                    i = j
                    continue
                s, e = i, j
        i = e
        if e - s < min_len:
            continue
        t_line[nt] = line
        t_row[nt] = _find(table, vdata, vstarts, vends, data, s, e, lower)
        t_start[nt] = s
        t_end[nt] = e
        nt += 1
    return t_line[:nt], t_row[:nt], t_start[:nt], t_end[:nt], slow


@numba.njit(cache=True, nogil=True)
def pool(lines, rows, n_lines, vectors, extra, scale, counted, out, counts, reciprocal):  # pragma: no cover
    """``out[line] += scale[row] * vector(row)`` and ``counts[line] += counted[row]`` for each token,
    then each line's sum divided by its count (multiplied by ``1 / count`` when ``reciprocal``, as
    fastText does).

    Rows past the vocabulary (``row >= len(vectors)``) are rows of ``extra``; rows < 0 are skipped.
    The sums are float32, accumulated in token order as fastText does.
    """
    v = vectors.shape[0]
    dim = vectors.shape[1]
    for t in range(len(rows)):
        r = rows[t]
        if r < 0:
            continue
        c = counted[r]
        if c == 0:
            continue
        s = scale[r]
        line = lines[t]
        if r < v:
            for d in range(dim):
                out[line, d] += np.float32(vectors[r, d] * s)
        else:
            for d in range(dim):
                out[line, d] += np.float32(extra[r - v, d] * s)
        counts[line] += c
    for line in range(n_lines):
        c = counts[line]
        if c > 0:
            if reciprocal:
                f = np.float32(1.0 / c)
                for d in range(dim):
                    out[line, d] *= f
            else:
                g = np.float32(c)
                for d in range(dim):
                    out[line, d] /= g
