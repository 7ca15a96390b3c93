"""FNV-1a over UTF-8 bytes, and the byte comparison of an open-addressing table's probe: the
compiled hash tables of words share them (``embcli.sentence_kernels``, whose vocabulary table
``training.id_kernels`` also reads, and ``embcli.wakati_kernels``)."""

from __future__ import annotations

import numba
import numpy as np

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@numba.njit(cache=True, nogil=True, inline="always")
def fnv1a(data, start, end, lower):  # pragma: no cover - compiled
    """FNV-1a of ``data[start:end]``; ``lower``: ASCII capitals hashed as small letters."""
    h = _FNV_OFFSET
    for i in range(start, end):
        b = data[i]
        if lower and 65 <= b <= 90:
            b += 32
        h = (h ^ np.uint64(b)) * _FNV_PRIME
    return h


@numba.njit(cache=True, nogil=True, inline="always")
def same_bytes(a, a0, a1, b, b0, b1, lower):  # pragma: no cover - compiled
    """Whether ``a[a0:a1]`` equals ``b[b0:b1]`` (``lower``: with ``b``'s ASCII capitals as small letters)."""
    if a1 - a0 != b1 - b0:
        return False
    for i in range(a1 - a0):
        x = b[b0 + i]
        if lower and 65 <= x <= 90:
            x += 32
        if a[a0 + i] != x:
            return False
    return True
