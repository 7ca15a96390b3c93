"""Compiled fastText n-gram hashing for many words at once (imported only where it is needed).

The same n-grams and hashes as ``embcli.subwords.ngram_buckets``, computed incrementally (each
n-gram's hash extends the previous one's from the same start) over the UTF-8 bytes of a block of
words, so importing a model of millions of words takes seconds instead of minutes.
"""

from __future__ import annotations

import numba
import numpy as np

_OFFSET = np.uint64(2166136261)
_PRIME = np.uint64(16777619)
_MASK = np.uint64(0xFFFFFFFF)
_SIGN = np.uint64(0xFFFFFF00)


@numba.njit(cache=True, nogil=True)
def _hash_block(data, offsets, minn, maxn, buckets, out, lengths):  # pragma: no cover - compiled
    nb = np.uint64(buckets)
    n = 0
    for w in range(len(offsets) - 1):
        start = offsets[w]
        end = offsets[w + 1]
        count = 0
        for i in range(start, end):
            if (data[i] & 0xC0) == 0x80:
                continue
            h = _OFFSET
            j = i
            chars = 1
            while j < end and chars <= maxn:
                b = np.uint64(data[j])
                h = ((h ^ (b | _SIGN if b >= 128 else b)) * _PRIME) & _MASK
                j += 1
                while j < end and (data[j] & 0xC0) == 0x80:
                    b = np.uint64(data[j])
                    h = ((h ^ (b | _SIGN)) * _PRIME) & _MASK
                    j += 1
                if chars >= minn and not (chars == 1 and (i == start or j == end)):
                    out[n] = np.int64(h % nb)
                    n += 1
                    count += 1
                chars += 1
        lengths[w] = count
    return n


def ngram_buckets_block(words: list[str], minn: int, maxn: int, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket rows of the n-grams of every word, concatenated, and how many belong to each word."""
    encoded = [f"<{w}>".encode("utf-8") for w in words]
    sizes = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    # Each start byte of a word begins at most min(maxn - minn + 1, the word's length) n-grams.
    most = int((sizes * np.minimum(sizes, max(maxn - minn + 1, 0))).sum())
    out = np.empty(max(1, most), dtype=np.int64)
    lengths = np.empty(len(encoded), dtype=np.int64)
    n = _hash_block(data, offsets, minn, maxn, buckets, out, lengths)
    return out[:n], lengths
