"""Compressed vector storage: float16, int8 with a scale per row, product-quantized codes.

A compressed folder has no ``vectors.npy``; ``meta.json`` says how its rows are stored
(``meta["storage"] = {"kind": ...}``) and these ``.npy`` files hold them:

- ``float16``: ``vectors.float16.npy`` [V, D].
- ``int8``: ``vectors.int8.npy`` [V, D] and ``scales.npy`` (float32 [V]); a row is ``codes * scale``,
  the scale being the row's largest magnitude / 127, so every value is within ``scale / 2`` of the
  original.
- ``pq``: ``pq.codes.npy`` (uint8 [V, M], one byte a subquantizer, written column-major),
  ``pq.codebooks.npy`` (float32 [M, K, D / M]) and, for optimized PQ, ``pq.rotation.npy`` (float32
  [D, D], orthonormal): a row is the concatenated centroids of its codes, times the rotation. With
  ``"unit": true`` (what emb writes) the codes are of the unit rows and the norms are kept apart: a
  row is that direction scaled to its length in ``norms.npy``, which then holds the original norms.
  (A folder without it, from an earlier build, quantized the raw rows: a row is the centroids as
  they are.)

``StoredRows`` decodes them on demand: indexing it gives float32 rows like ``vectors.npy`` would, a
block at a time, so one query on a million-row model never decodes the whole matrix. Everything here
is numpy only: a compressed folder is read without the library that trained its codebooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from embcli.errors import ModelError

from embcli.folder.layout import NORMS, PQ_CODEBOOKS, PQ_CODES, PQ_ROTATION, SCALES
from embcli.folder.layout import VECTORS_F16 as F16
from embcli.folder.layout import VECTORS_I8 as I8

KINDS = ("float32", "float16", "int8", "pq")
# Rows decoded at once by ``products``: 16,384 x 300 float32 is 20 MB.
BLOCK_ROWS = 1 << 14


def storage_kind(meta: dict, where: str = "meta.json") -> str:
    """The storage kind a folder's ``meta.json`` declares (``float32`` when it declares none)."""
    storage = meta.get("storage")
    if storage is None:
        return "float32"
    kind = storage.get("kind") if isinstance(storage, dict) else None
    if kind not in KINDS:
        raise ModelError(
            f"{where}: unknown vector storage {storage!r}: this emb reads {', '.join(KINDS)};"
            " the folder is damaged or from a newer emb"
        )
    return kind


def required_files(kind: str) -> tuple[str, ...]:
    """The files a folder of this storage kind cannot be read without (besides meta.json and vocab.txt)."""
    from embcli.folder.layout import VECTORS

    return {"float32": (VECTORS,), "float16": (F16,), "int8": (I8, SCALES), "pq": (PQ_CODES, PQ_CODEBOOKS)}.get(kind, ())


def encode_int8(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows as int8 codes and one float32 scale a row (largest magnitude / 127; zero rows get 1)."""
    block = np.asarray(block, dtype=np.float32)
    top = np.abs(block).max(axis=1) if block.size else np.zeros(len(block), dtype=np.float32)
    scales = np.where(top > 0, top / np.float32(127), np.float32(1)).astype(np.float32)
    codes = np.clip(np.rint(block / scales[:, None]), -127, 127).astype(np.int8)
    return codes, scales


class StoredRows:
    """Float32 rows decoded from compressed storage on demand; indexes like a [V, D] array."""

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, kind: str, parts: dict[str, np.ndarray], shape: tuple[int, int],
                 lengths: np.ndarray | None = None):
        self.kind = kind
        self.parts = parts
        self.shape = shape
        # PQ of unit rows: each row's length (norms.npy, a file of its own: not one of ``parts``).
        self.lengths = lengths

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.parts.values())

    def __getitem__(self, key):
        if isinstance(key, tuple):
            rows = self[key[0]]
            return rows[(slice(None),) + key[1:]] if rows.ndim == 2 else rows[key[1:]]
        if isinstance(key, (int, np.integer)):
            return self._decode(np.asarray([int(key)]))[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step == 1:
                return self._decode(slice(start, stop))
            key = np.arange(start, stop, step)
        return self._decode(np.asarray(key))

    def __array__(self, dtype=None, copy=None):
        out = self._decode(slice(0, self.shape[0]))
        return out if dtype is None else out.astype(dtype, copy=False)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start..stop`` as a new float32 array."""
        return self._decode(slice(start, stop))

    def _decode(self, rows, rotate: bool = True) -> np.ndarray:
        p = self.parts
        if self.kind in ("float16", "float32"):
            return np.array(p["vectors"][rows], dtype=np.float32)
        if self.kind == "int8":
            out = p["codes"][rows].astype(np.float32)
            out *= p["scales"][rows][..., None]
            return out
        codes = np.asarray(p["codes"][rows])
        books = p["codebooks"]
        m, _, dsub = books.shape
        out = np.empty(codes.shape[:-1] + (m * dsub,), dtype=np.float32)
        for j in range(m):
            out[..., j * dsub : (j + 1) * dsub] = books[j][codes[..., j]]
        if self.lengths is not None:  # the decoded direction at the row's own length (a rotation keeps it)
            out *= _to_length(self.lengths[rows], np.sqrt(np.einsum("...d,...d->...", out, out)))[..., None]
        rotation = p.get("rotation") if rotate else None
        return out if rotation is None else out @ rotation

    def products(self, queries: np.ndarray, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """``queries @ rows[start:stop].T`` into ``out`` [Q, stop - start], a block of rows at a time.

        For product-quantized rows and few queries, the products are sums of looked-up centroid
        products (asymmetric distance computation): no row is decoded.
        """
        if self.kind == "pq" and len(queries) <= 8:
            return self._pq_products(queries, start, stop, out)
        rotation = self.parts.get("rotation") if self.kind == "pq" else None
        if rotation is not None:  # q . (c R) = (q R^T) . c: rotate the queries, not every row
            queries = np.ascontiguousarray(queries @ rotation.T, dtype=np.float32)
        for s in range(start, stop, BLOCK_ROWS):
            e = min(stop, s + BLOCK_ROWS)
            out[:, s - start : e - start] = queries @ self._decode(slice(s, e), rotate=False).T
        return out

    def dot_scorer(self, query: np.ndarray, rows: np.ndarray | None = None) -> Callable[[np.ndarray], np.ndarray]:
        """A function of row ids [n] that gives ``rows[ids] @ query`` [n] for one float32 ``query`` [D].

        PQ codes are not decoded: the query's product with every centroid is computed once here, and a
        row's product is the sum of its codes' entries (at the row's length, for unit codes). ``rows``:
        the same codes row-major (an index's copy), whose row is one read where the column-major
        file's is M.
        """
        if self.kind != "pq":
            return lambda ids: self._decode(ids) @ query
        books = self.parts["codebooks"]
        m, k, dsub = books.shape
        rotation = self.parts.get("rotation")
        q = query if rotation is None else query @ rotation.T
        # table[j, c]: the query's product with centroid c of subquantizer j; flat, a row's codes
        # plus each subquantizer's offset pick its entries in one take
        table = np.einsum("jd,jcd->jc", q.reshape(m, dsub), books).astype(np.float32).ravel()
        squares = None if self.lengths is None else np.einsum("jcd,jcd->jc", books, books).astype(np.float32).ravel()
        codes, offsets, lengths = self.parts["codes"] if rows is None else rows, np.arange(m) * k, self.lengths

        def dots(ids: np.ndarray) -> np.ndarray:
            picked = codes[ids] + offsets  # [n, M]
            out = np.take(table, picked).sum(axis=1, dtype=np.float32)
            if squares is not None:
                out *= _to_length(lengths[ids], np.sqrt(np.take(squares, picked).sum(axis=1, dtype=np.float32)))
            return out

        return dots

    def pq_norms(self) -> np.ndarray:
        """The norms of the decoded rows of PQ storage from the centroids' norms (the subspaces are
        orthogonal and the rotation keeps lengths), without decoding a row."""
        if self.lengths is not None:
            return np.asarray(self.lengths, dtype=np.float32)
        books, codes = self.parts["codebooks"], self.parts["codes"]
        squares = np.einsum("jcd,jcd->jc", books, books, dtype=np.float64)
        out = np.empty(len(codes), dtype=np.float32)
        for s in range(0, len(codes), 1 << 16):
            block = codes[s : s + (1 << 16)]
            acc = np.zeros(len(block), dtype=np.float64)
            for j in range(books.shape[0]):
                acc += squares[j][block[:, j]]
            out[s : s + len(block)] = np.sqrt(acc)
        return out

    def _pq_products(self, queries: np.ndarray, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        books = self.parts["codebooks"]
        m, k, dsub = books.shape
        rotation = self.parts.get("rotation")
        q = queries if rotation is None else queries @ rotation.T
        # tables[q, j, c]: query q's product with centroid c of subquantizer j. Unit rows add one
        # table, the centroids' squared norms, for the length of each decoded direction.
        tables = np.einsum("qjd,jcd->qjc", q.reshape(len(q), m, dsub), books).astype(np.float32)
        if self.lengths is not None:
            tables = np.concatenate([tables, np.einsum("jcd,jcd->jc", books, books)[None]]).astype(np.float32)
        # Two tables at a time as one complex64 table: one gather a subquantizer serves both.
        if len(tables) % 2:
            tables = np.concatenate([tables, np.zeros_like(tables[:1])])
        pairs = np.ascontiguousarray(tables[0::2] + 1j * tables[1::2], dtype=np.complex64)  # [T/2, M, K]
        step = 1 << 16
        buf = np.empty(min(step, max(0, stop - start)), dtype=np.complex64)
        for s in range(start, stop, step):
            e = min(stop, s + step)
            columns = self.parts["codes"][s:e].T  # [M, rows]: each code column contiguous (the file is
            if not columns.flags.c_contiguous:  # column-major as written; a C-order file is transposed here)
                columns = np.ascontiguousarray(columns)
            sums = np.zeros((len(pairs), e - s), dtype=np.complex64)
            part = buf[: e - s]
            for j in range(m):
                for i in range(len(pairs)):
                    np.take(pairs[i, j], columns[j], out=part)
                    sums[i] += part
            flat = np.empty((2 * len(pairs), e - s), dtype=np.float32)
            flat[0::2], flat[1::2] = sums.real, sums.imag
            if self.lengths is not None:
                out[:, s - start : e - start] = flat[: len(q)] * _to_length(self.lengths[s:e], np.sqrt(flat[len(q)]))
            else:
                out[:, s - start : e - start] = flat[: len(q)]
        return out


def _to_length(lengths: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The factors that take decoded directions of norm ``sizes`` to the rows' ``lengths`` (0 for a
    zero direction), float32."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sizes > 0, lengths / sizes, np.float32(0)).astype(np.float32)


def open_storage(folder: Path, storage: dict, load_array) -> StoredRows:
    """The ``StoredRows`` of a compressed folder; ``load_array(path, what)`` maps one ``.npy`` file."""
    folder = Path(folder)
    kind = storage_kind({"storage": storage})
    if kind == "float16":
        vectors = load_array(folder / F16, "float16 vectors")
        _check(vectors.ndim == 2 and vectors.dtype == np.float16, folder / F16, "a float16 matrix", vectors)
        return StoredRows(kind, {"vectors": vectors}, tuple(int(n) for n in vectors.shape))
    if kind == "int8":
        codes = load_array(folder / I8, "int8 vectors")
        scales = load_array(folder / SCALES, "row scales")
        _check(codes.ndim == 2 and codes.dtype == np.int8, folder / I8, "an int8 matrix", codes)
        _check(scales.shape == codes.shape[:1] and scales.dtype == np.float32, folder / SCALES,
               f"{codes.shape[0]} float32 scales", scales)
        return StoredRows(kind, {"codes": codes, "scales": scales}, tuple(int(n) for n in codes.shape))
    codes = load_array(folder / PQ_CODES, "PQ codes")
    books = load_array(folder / PQ_CODEBOOKS, "PQ codebooks")
    _check(codes.ndim == 2 and codes.dtype == np.uint8, folder / PQ_CODES, "a uint8 matrix", codes)
    _check(books.ndim == 3 and books.dtype == np.float32 and books.shape[0] == codes.shape[1],
           folder / PQ_CODEBOOKS, f"float32 [{codes.shape[1]}, K, D/M] codebooks", books)
    books = np.ascontiguousarray(books)
    # Every byte is a valid code of 256 centroids: only fewer need the codes read (all of them).
    if len(codes) and books.shape[1] < 256 and int(codes.max(initial=0)) >= books.shape[1]:
        raise ModelError(
            f"{folder / PQ_CODES}: a code is {int(codes.max())} but the codebooks have {books.shape[1]}"
            " centroids: the model folder is damaged; compress it again"
        )
    dim = books.shape[0] * books.shape[2]
    parts = {"codes": codes, "codebooks": books}
    if (folder / PQ_ROTATION).is_file():
        rotation = load_array(folder / PQ_ROTATION, "OPQ rotation")
        _check(rotation.shape == (dim, dim) and rotation.dtype == np.float32, folder / PQ_ROTATION,
               f"a float32 {dim} x {dim} matrix", rotation)
        parts["rotation"] = np.ascontiguousarray(rotation)
    lengths = None
    if storage.get("unit"):
        lengths = load_array(folder / NORMS, "norms")
        _check(lengths.shape == codes.shape[:1] and lengths.dtype == np.float32, folder / NORMS,
               f"{codes.shape[0]} float32 norms", lengths)
    return StoredRows(kind, parts, (int(codes.shape[0]), dim), lengths)


def _check(ok: bool, path: Path, expected: str, found: np.ndarray) -> None:
    if not ok:
        raise ModelError(
            f"{path}: expected {expected}, found {found.dtype} {found.shape}: the model folder is damaged"
        )


def encode_rows(model, kind: str, pq: dict | None = None, block_rows: int = 1 << 16) -> tuple[StoredRows, dict]:
    """``model``'s rows (an open ``ModelFolder``, read a block at a time) in ``kind`` storage, in memory.

    Returns the ``StoredRows`` and the ``meta["storage"]`` entry describing them. ``pq`` holds the
    trained ``codes``, ``codebooks``, ``bits``, optional ``rotation`` and, when the codes are of the unit
    rows, their ``lengths`` (the rows' norms) for ``kind="pq"``.
    """
    n, dim = model.vocab_size, model.dim
    if kind == "float32":  # rows kept as they are (a pruned vocabulary): the source's own array
        vectors = model.vectors
        if isinstance(vectors, StoredRows):
            vectors = np.concatenate([vectors.rows(s, min(n, s + block_rows)) for s in range(0, n, block_rows)])
        return StoredRows(kind, {"vectors": vectors}, (n, dim)), {"kind": kind}
    if kind == "float16":
        half = np.empty((n, dim), dtype=np.float16)
        for s in range(0, n, block_rows):
            block = np.asarray(model.vectors[s : s + block_rows], dtype=np.float32)
            half[s : s + len(block)] = block
            if not np.isfinite(half[s : s + len(block)]).all() and np.isfinite(block).all():
                raise ModelError(
                    f"values beyond float16's range (65504) near row {s}: use --to int8, which scales each row"
                )
        return StoredRows(kind, {"vectors": half}, (n, dim)), {"kind": kind}
    if kind == "int8":
        codes = np.empty((n, dim), dtype=np.int8)
        scales = np.empty(n, dtype=np.float32)
        for s in range(0, n, block_rows):
            c, sc = encode_int8(model.vectors[s : s + block_rows])
            codes[s : s + len(c)] = c
            scales[s : s + len(c)] = sc
        return StoredRows(kind, {"codes": codes, "scales": scales}, (n, dim)), {
            "kind": kind, "scale": "per row: largest magnitude / 127"}
    if kind == "pq":
        parts = {"codes": np.ascontiguousarray(pq["codes"], np.uint8),
                 "codebooks": np.ascontiguousarray(pq["codebooks"], np.float32)}
        if pq.get("rotation") is not None:
            parts["rotation"] = np.ascontiguousarray(pq["rotation"], np.float32)
        books = parts["codebooks"]
        lengths = pq.get("lengths")
        entry = {"kind": kind, "subquantizers": int(books.shape[0]), "bits": int(pq["bits"]), "opq": "rotation" in parts}
        if lengths is not None:
            lengths = np.ascontiguousarray(lengths, dtype=np.float32)
            entry["unit"] = True
        return StoredRows(kind, parts, (n, dim), lengths), entry
    raise ModelError(f"unknown vector storage {kind!r}: use one of float16, int8, pq")


def stored_norms(stored: StoredRows, block_rows: int = 1 << 16) -> np.ndarray:
    """The norms of the decoded rows (so cosines are those of the vectors the folder gives back)."""
    from embcli.folder.rows import row_norms

    if stored.kind == "pq":
        return stored.pq_norms()
    n = len(stored)
    norms = np.empty(n, dtype=np.float32)
    for s in range(0, n, block_rows):
        norms[s : s + block_rows] = row_norms(stored.rows(s, min(n, s + block_rows)))
    return norms


def save_compressed(folder: Path, model, stored: StoredRows, storage: dict, norms: np.ndarray, meta: dict,
                    ngrams: tuple[dict, dict] | None = None) -> None:
    """Write a compressed model into the empty ``folder`` (inside ``atomic_dir``).

    The stored arrays, ``norms.npy`` (of the decoded rows), ``model``'s vocabulary and counts (as many
    as it has rows: a pruned twin gives its first words), its phrase table, ``meta.json`` by the one
    metadata policy with ``storage`` set. ``ngrams``: the n-gram files and ``meta["ngram_storage"]``
    (``embcli.folder.ngram_rows.encode_ngrams``); without it a fastText model's ``ngrams.npy`` is copied.
    """
    import shutil

    from embcli.folder.layout import COUNTS, NGRAMS, NORMS, PHRASES, VECTORS, VOCAB, complete_meta, write_meta

    folder = Path(folder)
    names = {"float32": {"vectors": VECTORS}, "float16": {"vectors": F16}, "int8": {"codes": I8, "scales": SCALES},
             "pq": {"codes": PQ_CODES, "codebooks": PQ_CODEBOOKS, "rotation": PQ_ROTATION}}[stored.kind]
    for part, array in stored.parts.items():
        if stored.kind == "pq" and part == "codes":
            # Column-major (the .npy header says so; np.load gives the same [V, M] array): a scan
            # reads each subquantizer's codes as one contiguous run.
            array = np.asfortranarray(array)
        np.save(folder / names[part], array)
    np.save(folder / NORMS, np.asarray(norms, dtype=np.float32))
    (folder / VOCAB).write_bytes(model._vocab_bytes)
    if model.counts is not None:
        counts = np.asarray(model.counts)
        if len(counts) and counts.min() >= 0 and counts.max() < 1 << 32:
            counts = counts.astype(np.uint32)  # half the bytes of int64 whenever the counts fit
        np.save(folder / COUNTS, counts)
    if ngrams is not None:
        for name, array in ngrams[0].items():
            np.save(folder / name, array)
    elif (model.path / NGRAMS).is_file() and "ngram_storage" not in model.meta:
        shutil.copyfile(model.path / NGRAMS, folder / NGRAMS)
    if (model.path / PHRASES).is_file():
        shutil.copyfile(model.path / PHRASES, folder / PHRASES)
    compression = meta.get("compression")
    meta = complete_meta(meta, len(stored), stored.shape[1])
    if stored.kind != "float32":
        meta["storage"] = dict(storage)
    if ngrams is not None:
        meta["ngram_storage"] = dict(ngrams[1])
    if compression is not None:
        meta["compression"] = compression
    write_meta(folder, meta)
