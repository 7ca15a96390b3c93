"""FastText character n-grams and their bucket hashes, as Facebook's fastText and gensim compute them.

A word is wrapped as ``<word>``; its n-grams are runs of ``minn``..``maxn`` UTF-8 characters (the
lone ``<`` and ``>`` excluded), hashed with 32-bit FNV-1a over the bytes read as *signed* chars (the
C++ code's quirk, kept by gensim's ``ft_hash_bytes``), modulo the number of buckets.
"""

from __future__ import annotations

import numpy as np

_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619
_MASK = 0xFFFFFFFF


def ft_hash(data: bytes) -> int:
    """fastText's hash of a byte string (unsigned 32-bit)."""
    h = _FNV_OFFSET
    for b in data:
        h ^= (b - 256) & _MASK if b >= 128 else b
        h = (h * _FNV_PRIME) & _MASK
    return h


def char_ngrams(word: str, minn: int, maxn: int) -> list[bytes]:
    """The n-grams of ``<word>`` as UTF-8 byte strings, in fastText's order."""
    data = f"<{word}>".encode("utf-8")
    size = len(data)
    grams: list[bytes] = []
    for i in range(size):
        if data[i] & 0xC0 == 0x80:
            continue
        j, n = i, 1
        while j < size and n <= maxn:
            j += 1
            while j < size and data[j] & 0xC0 == 0x80:
                j += 1
            if n >= minn and not (n == 1 and (i == 0 or j == size)):
                grams.append(data[i:j])
            n += 1
    return grams


def ngram_buckets(word: str, minn: int, maxn: int, buckets: int) -> list[int]:
    """Bucket rows of the n-grams of ``word`` (gensim's ``ft_ngram_hashes``)."""
    return [ft_hash(g) % buckets for g in char_ngrams(word, minn, maxn)]


def oov_vector(word: str, ngrams: np.ndarray, minn: int, maxn: int) -> np.ndarray | None:
    """The vector of an out-of-vocabulary word: the mean of its n-gram rows (None without n-grams).

    A pruned model's n-grams (``present``, see ``embcli.folder.ngram_rows``) count only the buckets it
    kept; None when none of the word's n-grams was kept.
    """
    rows = ngram_buckets(word, minn, maxn, ngrams.shape[0])
    present = getattr(ngrams, "present", None)
    if rows and present is not None:
        rows = [r for r, keep in zip(rows, present(rows).tolist()) if keep]
    if not rows:
        return None
    return np.asarray(ngrams[np.asarray(rows)], dtype=np.float32).mean(axis=0, dtype=np.float32)
