"""FastText's n-gram rows when they are compressed or pruned (``emb compress``).

A plain fastText folder holds ``ngrams.npy`` (float32 [buckets, D]). ``emb compress`` may store the
rows as float16 (``ngrams.float16.npy``) or int8 with a scale a row (``ngrams.int8.npy`` +
``ngrams.scales.npy``), and ``--prune-ngrams N`` keeps N rows only: ``ngrams.buckets.npy`` (int64,
sorted) lists the bucket each kept row belongs to. ``meta["ngram_storage"]`` says which::

    {"kind": "float32" | "float16" | "int8", "rows": N, "pruned": true, "by": "usage"}

``meta["fasttext"]["buckets"]`` stays the hashing's modulus, so an unseen word hashes to the same
buckets as before; a bucket that was pruned maps to nothing (``present`` is False for it and the
word's vector is the mean of its kept n-grams). ``NgramRows`` indexes like the [buckets, D] float32
matrix (a pruned bucket reads as a zero row), so every reader of ``model.ngrams`` keeps working.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embcli.errors import ModelError
from embcli.folder.layout import NGRAM_BUCKETS, NGRAMS_F16, NGRAMS_I8, NGRAMS_SCALES
from embcli.folder.storage import StoredRows, encode_int8
KINDS = ("float32", "float16", "int8")


class NgramRows:
    """The n-gram matrix [buckets, D] of a compressed or pruned folder, decoded on demand."""

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, rows, buckets: int, kept: np.ndarray | None):
        self.rows = rows  # float32 ndarray or StoredRows, one row per kept bucket
        self.kept = kept  # sorted bucket ids of the rows, or None: row i is bucket i
        self.shape = (int(buckets), int(rows.shape[1]))

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def stored_rows(self) -> int:
        return int(self.rows.shape[0])

    @property
    def nbytes(self) -> int:
        own = self.rows.nbytes if isinstance(self.rows, (np.ndarray, StoredRows)) else 0
        return int(own) + (0 if self.kept is None else int(self.kept.nbytes))

    def positions(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """For bucket ``ids``: the stored row of each and whether it is there (kept)."""
        ids = np.asarray(ids, dtype=np.int64)
        if self.kept is None:
            return ids, (ids >= 0) & (ids < self.shape[0])
        pos = np.minimum(np.searchsorted(self.kept, ids), max(0, len(self.kept) - 1))
        found = self.kept[pos] == ids if len(self.kept) else np.zeros(ids.shape, dtype=bool)
        return pos, found

    def present(self, ids) -> np.ndarray:
        """Whether each bucket of ``ids`` has a row (False for pruned buckets)."""
        return self.positions(ids)[1]

    def __getitem__(self, key):
        if isinstance(key, tuple):
            out = self[key[0]]
            return out[(slice(None),) + key[1:]] if out.ndim == 2 else out[key[1:]]
        if isinstance(key, (int, np.integer)):
            return self[np.asarray([int(key)])][0]
        if isinstance(key, slice):
            key = np.arange(*key.indices(self.shape[0]))
        ids = np.asarray(key, dtype=np.int64)
        flat = ids.reshape(-1)
        pos, found = self.positions(flat)
        out = np.zeros((len(flat), self.shape[1]), dtype=np.float32)
        if found.any():
            out[found] = np.asarray(self.rows[pos[found]], dtype=np.float32)
        return out.reshape(ids.shape + (self.shape[1],))

    def __array__(self, dtype=None, copy=None):
        out = self[slice(0, self.shape[0])]
        return out if dtype is None else out.astype(dtype, copy=False)


def open_ngrams(folder: Path, meta: dict, dim: int, load_array) -> NgramRows:
    """The n-gram rows a folder's ``meta["ngram_storage"]`` describes."""
    folder = Path(folder)
    spec = meta.get("ngram_storage")
    kind = spec.get("kind") if isinstance(spec, dict) else None
    buckets = (meta.get("fasttext") or {}).get("buckets")
    if kind not in KINDS or not isinstance(buckets, int) or buckets < 1:
        raise ModelError(f"{folder / 'meta.json'}: unknown n-gram storage {spec!r}: the folder is damaged or from a newer emb")
    if kind == "float32":
        rows = load_array(folder / "ngrams.npy", "n-gram vectors")
        ok = rows.dtype == np.float32
    elif kind == "float16":
        rows = load_array(folder / NGRAMS_F16, "float16 n-gram vectors")
        ok = rows.dtype == np.float16
        rows = StoredRows("float16", {"vectors": rows}, tuple(int(n) for n in rows.shape)) if ok and rows.ndim == 2 else rows
    else:
        codes = load_array(folder / NGRAMS_I8, "int8 n-gram vectors")
        scales = load_array(folder / NGRAMS_SCALES, "n-gram row scales")
        ok = codes.dtype == np.int8 and codes.ndim == 2 and scales.shape == codes.shape[:1] and scales.dtype == np.float32
        rows = StoredRows("int8", {"codes": codes, "scales": scales}, tuple(int(n) for n in codes.shape)) if ok else codes
    if not ok or len(rows.shape) != 2 or rows.shape[1] != dim or rows.shape[0] == 0:
        raise ModelError(f"{folder}: {kind} n-gram rows of shape {rows.shape} do not fit dimension {dim}:"
                         " the model folder is damaged")
    kept = None
    if spec.get("pruned"):
        kept = load_array(folder / NGRAM_BUCKETS, "kept n-gram buckets")
        if kept.shape != (rows.shape[0],) or kept.dtype != np.int64 or (
                len(kept) and (kept[0] < 0 or kept[-1] >= buckets or np.any(np.diff(kept) <= 0))):
            raise ModelError(f"{folder / NGRAM_BUCKETS}: not {rows.shape[0]} increasing bucket ids below {buckets}:"
                             " the model folder is damaged; compress it again")
    elif rows.shape[0] != buckets:
        raise ModelError(f"{folder}: {rows.shape[0]} n-gram rows for {buckets} buckets: the model folder is damaged")
    return NgramRows(rows, buckets, kept)


def encode_ngrams(source, kind: str, kept: np.ndarray | None, block_rows: int = 1 << 16) -> tuple[dict[str, np.ndarray], dict]:
    """The files (name -> array) holding ``source``'s n-gram rows (the ``kept`` buckets, or all) in ``kind``,
    and the ``meta["ngram_storage"]`` entry."""
    ids = np.arange(source.shape[0], dtype=np.int64) if kept is None else np.asarray(kept, dtype=np.int64)
    n, dim = len(ids), source.shape[1]
    files: dict[str, np.ndarray] = {}
    if kind == "float32":
        out = np.empty((n, dim), dtype=np.float32)
    elif kind == "float16":
        out = np.empty((n, dim), dtype=np.float16)
    else:
        out, scales = np.empty((n, dim), dtype=np.int8), np.empty(n, dtype=np.float32)
    for s in range(0, n, block_rows):
        part = ids[s : s + block_rows]
        contiguous = kept is None
        block = np.asarray(source[int(part[0]) : int(part[-1]) + 1] if contiguous else source[part], dtype=np.float32)
        if kind == "int8":
            out[s : s + len(part)], scales[s : s + len(part)] = encode_int8(block)
        else:
            out[s : s + len(part)] = block
    files[{"float32": "ngrams.npy", "float16": NGRAMS_F16, "int8": NGRAMS_I8}[kind]] = out
    if kind == "int8":
        files[NGRAMS_SCALES] = scales
    spec = {"kind": kind, "rows": int(n), "pruned": kept is not None}
    if kept is not None:
        files[NGRAM_BUCKETS] = np.asarray(kept, dtype=np.int64)
    return files, spec
