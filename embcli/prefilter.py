"""Exact cosine neighbours for large batches: an int8 copy of the unit rows finds the candidates.

A float32 product of 1,000 queries with a million 300-dimensional rows is 600 GFLOP, seconds of
work even on a fast CPU. An int8 product of the same shape runs several times faster (onnxruntime's
VNNI kernels), and its error has a hard bound, so it can select candidates without losing any answer:

- The index holds every unit row ``u = x / |x|`` as ``a * X8`` (int8, one scale ``a`` a block of
  rows), the largest error ``max |u - a X8|`` and the largest ``max |a X8|`` over all rows.
- A query ``q`` is rounded the same way to ``b * Q8`` with error ``e``. By Cauchy-Schwarz the int8
  estimate ``A = a b (Q8 . X8)`` is within ``B = |q| max|u - aX8| + e max|aX8|`` of the true cosine.
- With ``t`` the k-th best estimate, every row whose true cosine can reach the true k-th best has
  ``A >= t - 2B``. Those candidates (a few hundred a query) are scored again exactly, in float32
  as gensim does (dot / norm), and the best k are kept, ties broken by row as the plain search does.

The answers are therefore the same as ``embcli.topk.topk``'s; only the work differs. The index is
built on the first large batch and kept in the model folder (``search-index/``); when it cannot be
written, or onnxruntime is missing, the caller falls back to the plain float32 search.

A saved index is never trusted blindly: ``index.json`` holds a CRC-32 of every block, and each block
is read from the file (not memory-mapped, so a file cut short while in use is a short read, not a
``SIGBUS``) and checked as the search reaches it. A damaged index is rebuilt in memory for the batch
at hand and removed, so that the next batch saves a good one.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embcli.errors import FormatError, ModelError, damaged_rows

BLOCK = 4096  # rows per int8 product: its int32 result (queries x BLOCK) stays in the CPU's cache
GROUP = 64  # columns per maximum: runs of 64 rows below every threshold are skipped unread
MIN_ROWS = 4 * BLOCK  # smaller models are searched in float32: the index would not pay for itself
MIN_QUERIES = 32  # fewer queries are bound by reading the matrix, not by arithmetic
MAX_K = BLOCK // 8  # the first block sets the thresholds: it must hold many more than k rows
INDEX_DIR = "search-index"
_FORMAT = 1
# Absolute slack for float32 rounding in the exact scores and float64 rounding of the estimates.
_MARGIN = 1e-4
_INT_MIN = np.iinfo(np.int32).min
_INT_MAX = np.iinfo(np.int32).max


class IndexDamaged(Exception):
    """A saved index whose content is not what it was (a block's checksum, a short read)."""


class BlockFile:
    """The blocks of a saved ``int8.npy``, read one at a time and checked against their CRC-32.

    ``blocks[b]`` reads block ``b`` into one reused buffer (the search uses a block and is done with
    it before it asks for the next). ``np.asarray(blocks)`` reads them all.
    """

    def __init__(self, path: Path, offset: int, shape: tuple[int, int, int], crcs: list[int]):
        self.shape, self.dtype, self.offset, self.crcs = shape, np.dtype(np.int8), offset, crcs
        self.nbytes = shape[1] * shape[2]
        self.fd = os.open(path, os.O_RDONLY)
        self._buf = np.empty(shape[1:], dtype=np.int8)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, b: int) -> np.ndarray:
        buf = self._buf
        try:
            got = os.preadv(self.fd, [memoryview(buf).cast("B")], self.offset + b * self.nbytes)
        except OSError as exc:
            raise IndexDamaged(f"block {b}: {exc}") from None
        if got != self.nbytes or zlib.crc32(buf) != self.crcs[b]:
            raise IndexDamaged(f"block {b} is damaged")
        return buf

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.stack([self[b].copy() for b in range(len(self))])
        return out if dtype is None else out.astype(dtype)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self):
        self.close()


@dataclass
class Int8Index:
    """The int8 unit rows in blocks [n_blocks, dim, BLOCK], one scale a block, and the error bounds.

    ``blocks`` is an array (an index just built) or a ``BlockFile`` (a saved one, checked as read);
    ``crcs`` holds each block's CRC-32; ``folder`` is the model folder a saved index belongs to.
    """

    blocks: np.ndarray | BlockFile
    scales: np.ndarray
    err_max: float
    rnorm_max: float
    rows: int
    crcs: list[int] = field(default_factory=list)
    folder: Path | None = None


def build(vectors: np.ndarray, norms: np.ndarray, out: np.ndarray | None = None) -> Int8Index:
    """Quantize the unit rows, BLOCK rows at a time (``out`` may be a writable memory map)."""
    n, dim = vectors.shape
    nb = -(-n // BLOCK)
    blocks = np.zeros((nb, dim, BLOCK), dtype=np.int8) if out is None else out
    scales = np.ones(nb, dtype=np.float64)
    err_max = rnorm_max = 0.0
    crcs: list[int] = []
    for b in range(nb):
        s, e = b * BLOCK, min(n, (b + 1) * BLOCK)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = vectors[s:e] * (np.float32(1) / norms[s:e])[:, None]
        bad = ~np.isfinite(u).all(axis=1)
        if bad.any():
            # Damage is in the stored data; a row of zeros, or one so short that 1 / norm overflows,
            # just has no usable direction here.
            stored = np.isfinite(vectors[s:e]).all(axis=1) & np.isfinite(norms[s:e])
            damaged = np.flatnonzero(bad & ~stored)
            if damaged.size:
                raise damaged_rows(s + int(damaged[0]))
            u[bad] = 0  # never an answer of the prefilter (their cosine is NaN or meaningless)
        top = float(np.abs(u).max()) if e > s else 0.0
        a = top / 127 if top > 0 else 1.0
        q = np.rint(u / np.float32(a))
        blocks[b, :, : e - s] = q.T.astype(np.int8)
        if e - s < BLOCK:
            blocks[b, :, e - s :] = 0
        r = q * np.float32(a)
        err_max = max(err_max, float(np.sqrt(np.einsum("ij,ij->i", u - r, u - r).max())))
        rnorm_max = max(rnorm_max, float(np.sqrt(np.einsum("ij,ij->i", r, r).max())))
        scales[b] = a
        crcs.append(zlib.crc32(blocks[b]))
    # The norms above were summed in float32: widen them a little so that they stay upper bounds.
    return Int8Index(blocks, scales, err_max * (1 + 1e-4) + 1e-6, rnorm_max * (1 + 1e-4) + 1e-6, n, crcs)


def _stamp(vectors_path: Path) -> dict:
    st = vectors_path.stat()
    return {"vectors_bytes": st.st_size, "vectors_mtime_ns": st.st_mtime_ns}


def load(folder: Path, vectors: np.ndarray) -> Int8Index | None:
    """The saved index of a model folder, or None when there is none or it does not fit the vectors.

    The blocks are not read here: each is read and checked against its CRC-32 when the search
    reaches it (``BlockFile``).
    """
    from embcli.folder.atomic import clean_stale
    from embcli.wire.npy import read_npy_header

    where = Path(folder) / INDEX_DIR
    clean_stale(where)
    nb = -(-len(vectors) // BLOCK)
    shape = (nb, int(vectors.shape[1]), BLOCK)
    try:
        info = json.loads((where / "index.json").read_text())
        crcs = info.get("crc32")
        if (
            info.get("format") != _FORMAT
            or info.get("block") != BLOCK
            or info.get("rows") != len(vectors)
            or info.get("dim") != vectors.shape[1]
            or {k: info.get(k) for k in ("vectors_bytes", "vectors_mtime_ns")} != _stamp(Path(folder) / "vectors.npy")
            or not isinstance(crcs, list)
            or len(crcs) != nb
            or not all(isinstance(c, int) for c in crcs)
        ):
            return None
        path = where / "int8.npy"
        with open(path, "rb") as fh:
            got, fortran, dtype, offset = read_npy_header(fh)
        if tuple(got) != shape or fortran or dtype != np.int8 or path.stat().st_size != offset + nb * shape[1] * BLOCK:
            return None
        scales = np.asarray(info.get("scales", []), dtype=np.float64)
        if scales.shape != (nb,):
            return None
        blocks = BlockFile(path, offset, shape, crcs)
        return Int8Index(blocks, scales, float(info["err_max"]), float(info["rnorm_max"]), len(vectors), crcs, Path(folder))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, FormatError, ModelError):
        return None  # a damaged index is built again, never trusted


def discard(folder: Path) -> None:
    """Remove a model's saved index (found damaged): the next large batch builds it again."""
    where = Path(folder) / INDEX_DIR
    for name in ("index.json", "int8.npy"):
        try:
            (where / name).unlink()
        except OSError:
            pass


def build_and_save(folder: Path, vectors: np.ndarray, norms: np.ndarray) -> Int8Index | None:
    """Build the index into ``folder/search-index`` (written to temporary names, then renamed).

    Returns None when the folder cannot be written (someone else's model): the caller searches in
    float32 instead.
    """
    import tempfile

    from embcli.folder.atomic import apply_umask

    where = Path(folder) / INDEX_DIR
    try:
        where.mkdir(exist_ok=True)
        fd, tmp_npy = tempfile.mkstemp(prefix=f".int8-{os.getpid()}-", suffix=".npy", dir=where)
        os.close(fd)
    except OSError:
        return None
    tmp_json = None
    try:
        nb = -(-len(vectors) // BLOCK)
        out = np.lib.format.open_memmap(tmp_npy, mode="w+", dtype=np.int8, shape=(nb, vectors.shape[1], BLOCK))
        index = build(vectors, norms, out)
        out.flush()
        del out
        info = {
            "format": _FORMAT,
            "block": BLOCK,
            "rows": len(vectors),
            "dim": int(vectors.shape[1]),
            "scales": [float(a) for a in index.scales],
            "err_max": index.err_max,
            "rnorm_max": index.rnorm_max,
            "crc32": index.crcs,
            **_stamp(Path(folder) / "vectors.npy"),
        }
        fd, tmp_json = tempfile.mkstemp(prefix=f".index-{os.getpid()}-", suffix=".json", dir=where)
        with os.fdopen(fd, "w") as fh:
            json.dump(info, fh)
        apply_umask(Path(tmp_npy), folder=False)
        apply_umask(Path(tmp_json), folder=False)
        os.replace(tmp_npy, where / "int8.npy")
        os.replace(tmp_json, where / "index.json")
    except OSError:
        return None
    finally:
        for tmp in (tmp_npy, tmp_json):
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
    return load(folder, vectors)


def _session(dim: int):
    import onnxruntime as ort

    from embcli.onnxgraph import int8_products_model

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # Between two products numpy works on the results: idle pool threads must not spin on its cores.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(int8_products_model(dim, BLOCK, GROUP), opts, providers=["CPUExecutionProvider"])


def _merge_best(best: np.ndarray, q: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The k best of ``best`` [M, k] and the new (query, value) pairs, per query."""
    m, k = best.shape
    better = values > best.min(axis=1)[q]  # most candidates are not among the k best
    q, values = q[better], values[better]
    order = np.lexsort((-values, q))
    q, values = q[order], values[order]
    counts = np.bincount(q, minlength=m)
    pos = np.arange(len(q)) - (np.cumsum(counts) - counts)[q]
    keep = pos < k
    new = np.full((m, k), -np.inf)
    new[q[keep], pos[keep]] = values[keep]
    both = np.concatenate([best, new], axis=1)
    return -np.partition(-both, k - 1, axis=1)[:, :k]


class _Products:
    """The int8 products of the queries with each block, one block ahead in a helper thread.

    onnxruntime releases the GIL while it multiplies, so block b + 1 is being multiplied while
    numpy picks the candidates of block b; each of the two result buffers is used in turn.
    """

    def __init__(self, index: Int8Index, a_u8: np.ndarray, blocks: int):
        from concurrent.futures import ThreadPoolExecutor

        self.index, self.blocks = index, blocks
        self.session = _session(a_u8.shape[1])
        self.buffers = []
        for _ in range(2):
            y = np.empty((len(a_u8), BLOCK), dtype=np.int32)
            g = np.empty((len(a_u8), BLOCK // GROUP), dtype=np.int32)
            binding = self.session.io_binding()
            binding.bind_cpu_input("A", a_u8)
            binding.bind_output("Y", "cpu", 0, np.int32, y.shape, y.ctypes.data)
            binding.bind_output("G", "cpu", 0, np.int32, g.shape, g.ctypes.data)
            self.buffers.append((y, g, binding))
        self.pool = ThreadPoolExecutor(1)

    def _run(self, b: int) -> None:
        block = self.index.blocks[b]  # a saved index's block is read and checked here
        binding = self.buffers[b % 2][2]
        binding.bind_input("B", "cpu", 0, np.int8, block.shape, block.ctypes.data)
        self.session.run_with_iobinding(binding)

    def __iter__(self):
        try:
            pending = self.pool.submit(self._run, 0)
            for b in range(self.blocks):
                pending.result()
                if b + 1 < self.blocks:
                    pending = self.pool.submit(self._run, b + 1)
                y, g, _ = self.buffers[b % 2]
                yield b, y, g
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


def topk_cosine(
    index: Int8Index,
    vectors: np.ndarray,
    norms: np.ndarray,
    queries: np.ndarray,
    k: int,
    stop: int,
    exclude: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best rows by cosine for each unit query vector, as ``search.topk(..., "cosine")``.

    A saved index found damaged on the way is removed and the batch is searched again with an
    index built in memory: the answers never depend on the index's file being sound.
    """
    try:
        return _topk_cosine(index, vectors, norms, queries, k, stop, exclude)
    except IndexDamaged:
        if index.folder is not None:
            discard(index.folder)
        return _topk_cosine(build(vectors, norms), vectors, norms, queries, k, stop, exclude)


def _topk_cosine(index, vectors, norms, queries, k, stop, exclude):
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    m = len(queries)
    k = max(1, min(k, stop))
    q64 = queries.astype(np.float64)
    top = np.abs(q64).max(axis=1)
    bq = np.where(top > 0, top / 127, 1.0)
    q8 = np.rint(q64 / bq[:, None])
    eq = np.sqrt(((q64 - q8 * bq[:, None]) ** 2).sum(axis=1))
    bound = np.sqrt((q64**2).sum(axis=1)) * index.err_max + eq * index.rnorm_max
    slack = 2 * bound + _MARGIN
    excl = None if exclude is None else np.asarray(exclude, dtype=np.int64).reshape(m, -1)

    best = np.full((m, k), -np.inf)
    threshold = np.full(m, -np.inf)
    found_q, found_r, found_a = [], [], []
    merged = 0
    products = _Products(index, np.ascontiguousarray(q8 + 128, dtype=np.uint8), -(-stop // BLOCK))
    for b, y, g in products:
        s = b * BLOCK
        valid = min(stop, s + BLOCK) - s
        if valid < BLOCK:
            y[:, valid:] = _INT_MIN
        if excl is not None:
            eq_, ej = np.nonzero((excl >= s) & (excl < s + valid))
            y[eq_, excl[eq_, ej] - s] = _INT_MIN
        scale = index.scales[b] * bq
        if b == 0:
            # The first block's own k best estimates set the thresholds.
            first = np.partition(y[:, :valid], valid - k, axis=1)[:, valid - k :]
            best = np.where(first > _INT_MIN, first * scale[:, None], -np.inf)
            threshold = best.min(axis=1) - slack
        qi, col = _above(y, g, threshold, scale, full=b == 0)
        if qi.size == 0:
            continue
        found_q.append(qi)
        found_r.append(col + s)
        found_a.append(y[qi, col] * scale[qi])
        if b == 0:
            merged = len(found_q)  # already in ``best``
        elif (b < 4 or b % 8 == 0) and len(found_q) > merged:
            # Raise the thresholds with the candidates found since the last time (not every
            # block: a threshold a little too low only lets a few more candidates through).
            fresh = slice(merged, None)
            best = _merge_best(best, np.concatenate(found_q[fresh]), np.concatenate(found_a[fresh]))
            threshold = np.maximum(threshold, best.min(axis=1) - slack)
            merged = len(found_q)
    return _rescore(vectors, norms, queries, k, found_q, found_r, found_a, threshold)


def _above(y: np.ndarray, g: np.ndarray, threshold: np.ndarray, scale: np.ndarray, full: bool):
    """(query, column) of the products whose estimate ``y * scale`` can reach the query's threshold.

    Only the runs of GROUP columns whose maximum reaches it are read, unless ``full``.
    """
    with np.errstate(invalid="ignore"):
        limit = np.clip(np.floor(threshold / scale), _INT_MIN, _INT_MAX).astype(np.int64)
    if full:
        qi, col = np.nonzero(y >= limit[:, None])
    else:
        hq, hg = np.nonzero(g >= limit[:, None])
        segments = y.reshape(len(y), -1, GROUP)[hq, hg]
        hi, off = np.nonzero(segments >= limit[hq][:, None])
        qi, col = hq[hi], hg[hi] * GROUP + off
    keep = y[qi, col] > _INT_MIN  # padding and excluded rows
    return qi[keep], col[keep]


def _rescore(vectors, norms, queries, k, found_q, found_r, found_a, threshold):
    """Score the candidates above the final thresholds exactly and keep the best k of each query."""
    m = len(queries)
    rows_out = np.full((m, k), -1, dtype=np.int64)
    scores_out = np.full((m, k), -np.inf, dtype=np.float32)
    if not found_q:
        return rows_out, scores_out
    q = np.concatenate(found_q)
    r = np.concatenate(found_r)
    keep = np.concatenate(found_a) >= threshold[q]
    q, r = q[keep], r[keep]
    order = np.lexsort((r, q))
    q, r = q[order], r[order]
    bounds = np.searchsorted(q, np.arange(m + 1))

    def score(part: range) -> None:
        for i in part:
            rows = r[bounds[i] : bounds[i + 1]]
            if rows.size == 0:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                scores = (vectors[rows] @ queries[i]) / norms[rows]
            ok = ~np.isnan(scores)
            rows, scores = rows[ok], scores[ok]
            best = np.lexsort((rows, -scores))[:k]  # score descending, then row ascending
            rows_out[i, : best.size] = rows[best]
            scores_out[i, : best.size] = scores[best]

    # Reading the candidate rows is mostly page faults and copies, which numpy does without the GIL.
    from concurrent.futures import ThreadPoolExecutor

    half = m // 2
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(score, range(half, m))
        score(range(half))
        other.result()
    return rows_out, scores_out


def index_for(folder: Path, vectors: np.ndarray, norms: np.ndarray) -> Int8Index | None:
    """The model's int8 index: loaded, or built and saved now; None if it cannot be had."""
    return load(folder, vectors) or build_and_save(folder, vectors, norms)


def available() -> bool:
    """True when onnxruntime can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
