"""numba kernels of the Japanese corpus pass (``embcli.wakati``): MeCab called on each line from
compiled code, its tokens counted in one table, the lines written.

MeCab's C functions and libc's ``strlen`` and ``memcpy`` come in as function pointers (arguments, so
that the kernels can be cached). MeCab's space-separated output (``-Owakati``) is cut into tokens at
white space as ``str.split`` cuts (``KINDS``, ``_wide_space``); each token is looked up in an open-addressing
table (``table`` holds token ids, -1 marks a free slot) keyed by its bytes, which ``store`` keeps
(``starts``, ``lengths``). The table lives as long as its process: a token's bytes are cleaned in
Python once, when it is first seen.

``state`` holds: the distinct tokens, the bytes of ``store`` used, and where ``analyse`` stopped
(the piece, and the ids written before it).
"""

from __future__ import annotations

import numba
import numpy as np

from embcli.byte_hash import fnv1a, same_bytes

DISTINCT, STORED, PIECE, WRITTEN = range(4)
STATE_SIZE = 4
# What ``analyse`` returns besides the ids it wrote (>= 0).
FAILED = -1  # MeCab gave no output for piece state[PIECE]
FULL = -2  # the table, the store or the scratch buffer is full: grow them and go on from state[PIECE]
# The table is grown before it is more than half full.
MAX_LOAD = 0.5


# For each byte: 0 when no white space character (as ``str.split`` cuts at) starts with it; 1 for
# ASCII white space; else (the lead byte of a 2- or 3-byte character) the largest second byte of a
# white space character starting with it, a quick test before ``_wide_space``. Passed to ``analyse``
# as an argument, so that it can be cached. (A test derives it from ``str.split``.)
KINDS = np.zeros(256, np.uint8)
KINDS[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = 1
KINDS[[0xC2, 0xE1, 0xE2, 0xE3]] = [0xA0, 0x9A, 0x81, 0x80]


@numba.njit(cache=True, nogil=True)
def _wide_space(buf, j, n):
    """The length of the white space character of 2 or 3 bytes at ``buf[j]``, or 0 (U+0085, U+00A0,
    U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000)."""
    c = buf[j]
    if c == 0xC2:
        return 2 if j + 1 < n and (buf[j + 1] == 0x85 or buf[j + 1] == 0xA0) else 0
    if j + 2 >= n:
        return 0
    c1 = buf[j + 1]
    c2 = buf[j + 2]
    if c == 0xE3:
        return 3 if c1 == 0x80 and c2 == 0x80 else 0
    if c == 0xE1:
        return 3 if c1 == 0x9A and c2 == 0x80 else 0
    if c == 0xE2 and c1 == 0x80:
        return 3 if c2 <= 0x8A or c2 == 0xA8 or c2 == 0xA9 or c2 == 0xAF else 0
    return 3 if c == 0xE2 and c1 == 0x81 and c2 == 0x9F else 0


@numba.njit(cache=True, nogil=True, inline="always")
def _first_slot(h, mask):
    return np.int64(h >> np.uint64(11)) & mask


# Not ``nogil``: the process has one MeCab tagger (``morph._mecab``), which parses one text at a time;
# holding the GIL, threads running the pass at once take turns (with nogil, two of them hung).
@numba.njit(cache=True)
def analyse(parse, strlen, memcpy, tagger, data, bounds, line_ends, kinds, scratch, ids, table, starts, lengths, store,
            state):
    """MeCab's tokens of each piece ``data[bounds[i]:bounds[i + 1] - 1]`` (each piece is followed by
    one byte that is not its own, a line break) from ``state[PIECE]`` on, as
    token ids into ``ids`` from ``state[WRITTEN]`` on, with -1 after each piece that ends a line
    (``line_ends[i]``). New tokens are added to the table. Returns the ids written in all, or FAILED
    or FULL, with ``state[PIECE]`` the piece to go on from and ``state[WRITTEN]`` the ids before it."""
    base = data.ctypes.data
    out = scratch.ctypes.data
    mask = table.shape[0] - 1
    most = int(table.shape[0] * MAX_LOAD)
    distinct = state[DISTINCT]
    used = state[STORED]
    k = state[WRITTEN]
    for i in range(state[PIECE], bounds.shape[0] - 1):
        state[PIECE], state[WRITTEN] = i, k
        at = bounds[i]
        p = parse(tagger, base + at, bounds[i + 1] - 1 - at)
        if p == 0:
            state[DISTINCT], state[STORED] = distinct, used
            return FAILED
        n = strlen(p)
        if n > scratch.shape[0]:
            state[DISTINCT], state[STORED] = distinct, used
            return FULL
        memcpy(out, p, n)
        # (The tests of white space are written out here: as a function inlined by numba, the loop
        # took several times longer.)
        j = 0
        while j < n:
            kind = kinds[scratch[j]]
            if kind:
                w = 1 if kind == 1 else (_wide_space(scratch, j, n) if scratch[j + 1] <= kind else 0)
                if w:
                    j += w
                    continue
            s = j
            j += 1
            while j < n:
                kind = kinds[scratch[j]]
                if kind and (kind == 1 or (scratch[j + 1] <= kind and _wide_space(scratch, j, n))):
                    break
                j += 1
            length = j - s
            slot = _first_slot(fnv1a(scratch, s, j, False), mask)
            while True:
                d = table[slot]
                if d < 0:
                    if distinct >= most or used + length > store.shape[0]:
                        state[DISTINCT], state[STORED] = distinct, used
                        return FULL
                    d = distinct
                    table[slot] = d
                    starts[d] = used
                    lengths[d] = length
                    store[used : used + length] = scratch[s:j]
                    used += length
                    distinct += 1
                    break
                if same_bytes(store, starts[d], starts[d] + lengths[d], scratch, s, j, False):
                    break
                slot = (slot + 1) & mask
            ids[k] = d
            k += 1
        if line_ends[i]:
            ids[k] = -1
            k += 1
    state[DISTINCT], state[STORED] = distinct, used
    state[PIECE], state[WRITTEN] = bounds.shape[0] - 1, k
    return k


@numba.njit(cache=True, nogil=True)
def write(ids, k, kept, kept_starts, kept_lengths, store, counts, out, max_tokens):
    """The kept tokens (``kept[id]``, their bytes ``store[kept_starts[id]:][:kept_lengths[id]]``) of
    each line of ``ids[:k]`` into ``out``, separated by spaces, each line with a token ending in a line
    break, and one more after each ``max_tokens`` tokens; each kept token counted in ``counts``.
    Returns (bytes written, tokens, lines)."""
    w = 0
    tokens = 0
    lines = 0
    on_line = 0
    for q in range(k):
        d = ids[q]
        if d < 0:
            if on_line:
                out[w - 1] = 10
                lines += 1
                on_line = 0
            continue
        if not kept[d]:
            continue
        if on_line == max_tokens:
            out[w - 1] = 10
            lines += 1
            on_line = 0
        on_line += 1
        tokens += 1
        counts[d] += 1
        o = kept_starts[d]
        for e in range(kept_lengths[d]):  # (a loop: numba's slice assignment took twice as long)
            out[w] = store[o + e]
            w += 1
        out[w] = 32
        w += 1
    return w, tokens, lines


@numba.njit(cache=True, nogil=True)
def rehash(table, starts, lengths, store, distinct):
    """Put tokens ``0 .. distinct - 1`` into the empty ``table`` (grown)."""
    mask = table.shape[0] - 1
    for d in range(distinct):
        slot = _first_slot(fnv1a(store, starts[d], starts[d] + lengths[d], False), mask)
        while table[slot] >= 0:
            slot = (slot + 1) & mask
        table[slot] = d
