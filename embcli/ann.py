"""Approximate nearest neighbours: an HNSW graph kept in the model folder, built by faiss.

``emb index MODEL --kind hnsw`` builds the graph over the model's unit rows with faiss (the ``index``
extra) and saves it in the folder's ``ann-index/``: the graph as ``.npy`` matrices (``embcli.hnsw``)
and ``index.json`` (the settings, the model it was built for, the graph's entry point and the recall@10
measured against the exact search on sampled words). The folder is written atomically; the model's
own files are not touched.

Queries map the graph (memory-mapped, not loaded) and search it in numpy (``embcli.hnsw``), without
faiss, scoring the nodes they meet with the model's own rows: exact cosines for stored rows, the
centroid products of PQ codes. The best nodes are then ranked as the exact search ranks them, so the
scores are the exact search's (computed a row at a time, they may differ from a batched scan's in the
last bit) and only the choice of candidates is approximate. Cosine queries
over the whole vocabulary use the graph when it is there, ``k`` is a short list (up to about half the
vocabulary: ``answers``; a graph need not reach every row) and the batch is small (a scan of every
row serves many queries at once faster); ``--exact`` (``exact=True``), ``--restrict``, other metrics
and analogies search exactly. A graph built for another model (a folder replaced since) or by an
earlier emb (usearch's file) is ignored: the answers stay right, only slower.
"""

from __future__ import annotations

import json
import os
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from embcli import hnsw
from embcli.errors import MAX_THREADS, EmbError, ModelError, UsageError
from embcli.folder import ModelFolder
from embcli.folder.layout import ANN_DIR, ANN_INFO
from embcli.topk import topk

KINDS = ("hnsw",)
RECALL_K = 10
SAMPLE = 1000
# Graph settings: links a node keeps (faiss's M), candidates kept while inserting and searching.
# Measured (recall@10 of 1,000 words, at expansion 128 when searching): 16/128 gave 0.970 on a
# 300-dimension CBOW model of the benchmark corpus and 0.995 on its 100-dimension fastText model;
# 16/256 0.980 and 0.999 (24/200: 0.984, a graph half again as large).
CONNECTIVITY = 16
EXPANSION_ADD = 256
EXPANSION_SEARCH = 128
# The shortlist asked of the graph: k + the excluded rows + this many, ranked again exactly.
MARGIN = 16
# Rows given to faiss at once while building: Ctrl-C and progress are seen between two calls.
ADD_ROWS = 4096
# Queries searched one by one through the graph; a larger batch scans every row once for all.
MAX_QUERIES = 16
# index.json's "format": 2 is emb's own graph files; 1 (or none) was usearch's file, no longer read.
FORMAT = 2
# A PQ model's codes are column-major (a scan reads each subquantizer's codes at once); its index
# keeps a row-major copy, so that a node's codes are one read, not M (see ``_scorer``).
PQ_ROWS = "pq.codes.rows.npy"
# Settings past these are mistakes, not choices (the graph of a 6,000-word model at connectivity
# 100,000 would ask for 5 GB).
LIMITS = {"--connectivity": 512, "--expansion-add": 1 << 16, "--expansion-search": 1 << 16, "--threads": MAX_THREADS}
# Rows whose norms make the model's check (``model_check``).
CHECK_ROWS = 64

Progress = Callable[[str, int, int], None]


@dataclass
class IndexInfo:
    """What ``index.json`` holds: the graph's settings, the model it belongs to, and its measured recall."""

    kind: str
    library: str
    rows: int
    dim: int
    model_created: str | None
    connectivity: int
    expansion_add: int
    expansion_search: int
    dtype: str
    recall_at_10: float | None
    sampled: int
    seconds: float
    bytes: int = 0
    format: int = 1
    entry_point: int = -1
    max_level: int = 0
    model_check: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _faiss():
    from embcli.extras import require

    return require("faiss", "index", "an HNSW index (emb index --kind hnsw)")


def _units(model: ModelFolder, start: int, stop: int) -> np.ndarray:
    block = np.asarray(model.vectors[start:stop], dtype=np.float32)
    norms = np.asarray(model.norms[start:stop], dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.ascontiguousarray(np.nan_to_num(block / norms[:, None]))


def build(
    model: ModelFolder,
    kind: str = "hnsw",
    connectivity: int = CONNECTIVITY,
    expansion_add: int = EXPANSION_ADD,
    expansion_search: int = EXPANSION_SEARCH,
    sample: int = SAMPLE,
    seed: int = 0,
    threads: int = 0,
    on_progress: Progress | None = None,
) -> IndexInfo:
    """Build ``model``'s HNSW graph into its folder (``ann-index/``, replaced atomically); return its info.

    ``on_progress(stage, done, total)``: stage ``add`` (rows inserted) and ``recall`` (sampled words).
    ``threads``: 0 for all cores.
    """
    from embcli.folder.atomic import atomic_dir  # (here: a query never writes)

    if kind not in KINDS:
        raise UsageError(f"unknown index kind {kind!r}: use --kind {' or '.join(KINDS)}")
    for name, value, least in (("--sample", sample, 1), ("--seed", seed, 0), ("--threads", threads, 0),
                               ("--connectivity", connectivity, 2), ("--expansion-add", expansion_add, 2),
                               ("--expansion-search", expansion_search, 2)):
        if value < least:
            raise UsageError(f"{name} must be at least {least} (got {value})")
        if value > LIMITS.get(name, value):
            raise UsageError(f"{name} must be at most {LIMITS[name]:,} (got {value:,})")
    n = model.vocab_size
    if n < 2:
        raise UsageError(f"model {model.name!r} has {n} word(s): an index needs at least 2")
    target = model.path / ANN_DIR
    _check_writable(model, target)
    check = model_check(model)
    unchanged = _unchanged(model, check)
    faiss = _faiss()
    progress = on_progress or (lambda *_: None)
    started = time.perf_counter()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads or os.cpu_count() or 1)
    try:
        graph = _graph(faiss, model, connectivity, expansion_add, progress)
    finally:
        faiss.omp_set_num_threads(before)
    info = IndexInfo("hnsw", f"faiss {faiss.__version__}", n, model.dim, model.meta.get("created"),
                     connectivity, expansion_add, expansion_search, "float32", None, 0, 0.0,
                     format=FORMAT, entry_point=graph.entry, max_level=graph.max_level, model_check=check)
    pq_rows = np.ascontiguousarray(model.vectors.parts["codes"]) if model.storage == "pq" else None
    info.recall_at_10, info.sampled = recall(model, _Opened(graph, info, pq_rows), sample, seed, progress)
    info.seconds = round(time.perf_counter() - started, 2)
    unchanged()  # (a folder removed meanwhile is not made again for the index alone)
    with atomic_dir(target, force=True, expect=unchanged) as tmp:
        for name, array in zip(hnsw.FILES, (graph.base, graph.upper, graph.upper_ids)):
            _save(tmp / name, array)
        if pq_rows is not None:
            _save(tmp / PQ_ROWS, pq_rows)
        info.bytes = sum(path.stat().st_size for path in tmp.iterdir() if path.suffix == ".npy")
        (tmp / ANN_INFO).write_text(json.dumps(info.as_dict(), indent=2) + "\n", encoding="utf-8")
    _CACHE.pop(model, None)
    return info


def _graph(faiss, model: ModelFolder, connectivity: int, expansion_add: int, progress: Progress) -> hnsw.Graph:
    """faiss's graph of the rows that have a direction, as emb's (a zero row: a node without links).

    A zero row given to faiss would score 0 with every query, above every row pointing away, and
    gather links that lead nowhere (a model of mostly zero rows lost true neighbours that way).
    """
    n = model.vocab_size
    norms = np.asarray(model.norms, dtype=np.float32)
    rows = np.flatnonzero(norms > 0)
    if not len(rows):
        raise UsageError(f"model {model.name!r} has only zero vectors: there is nothing to index")
    index = faiss.IndexHNSWFlat(model.dim, connectivity, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = expansion_add
    for s in range(0, len(rows), ADD_ROWS):
        part = rows[s : s + ADD_ROWS]
        index.add(np.ascontiguousarray(np.asarray(model.vectors[part], dtype=np.float32) / norms[part][:, None]))
        progress("add", int(part[-1]) + 1 if s + ADD_ROWS < len(rows) else n, n)
    h = index.hnsw
    arrays = (faiss.vector_to_array(h.levels), faiss.vector_to_array(h.offsets), faiss.vector_to_array(h.neighbors))
    cum = [int(h.cum_nb_neighbors(level)) for level in range(int(h.max_level) + 2)]
    entry, top = int(h.entry_point), int(h.max_level)
    del index, h
    return hnsw.from_faiss(*arrays, cum, entry, top, rows=None if len(rows) == n else rows, size=n)


def model_check(model: ModelFolder) -> int:
    """A number that tells this model from another that took its folder: a CRC of the norms of
    ``CHECK_ROWS`` rows spread over the vocabulary (with the size and the creation time, which
    ``usable`` compares too, a replaced model is seen even when it was made in the same second)."""
    import zlib

    n = model.vocab_size
    rows = np.linspace(0, n - 1, min(n, CHECK_ROWS)).astype(np.int64)  # (np.unique's first call: 8 ms)
    return zlib.crc32(np.ascontiguousarray(np.asarray(model.norms[rows], dtype=np.float32)).tobytes())


def _unchanged(model: ModelFolder, check: int) -> Callable[[], None]:
    """A check that the folder still holds the model the graph is built from (raises ModelError)."""

    def unchanged() -> None:
        try:
            now = ModelFolder(model.path)
            same = now.meta.get("created") == model.meta.get("created") and now.vocab_size == model.vocab_size \
                and model_check(now) == check
        except (OSError, EmbError):
            same = False
        if not same:
            raise ModelError(f"{model.path}: the model was replaced or removed while its index was built:"
                             " nothing written; run emb index again")

    return unchanged


def _check_writable(model: ModelFolder, target: Path) -> None:
    """Refuse, before the build, a folder the index cannot be written into."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ModelError(f"{target}: not the index folder emb writes: remove or rename it yourself")
    if not os.access(model.path, os.W_OK):
        raise ModelError(f"{model.path}: the model folder is not writable, and its index is written inside it:"
                         " copy the model somewhere writable (emb export --format folder) and index the copy")


def _save(path: Path, array: np.ndarray) -> None:
    """``np.save`` whose write of a full disk fails with the system's error (numpy's own ``tofile``
    reports a short write with no error number, which reads as a crash)."""
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(array))
        if array.size:
            fh.write(memoryview(np.ascontiguousarray(array).reshape(-1)).cast("B"))


def recall(model: ModelFolder, opened: "_Opened", sample: int, seed: int, progress: Progress) -> tuple[float | None, int]:
    """Recall@10 of the graph's answers against the exact search, for ``sample`` random words."""
    n = model.vocab_size
    k = min(RECALL_K, n - 1)
    rng = np.random.default_rng(seed)
    live = np.flatnonzero(np.asarray(model.norms) > 0)  # a zero row has no neighbours to find
    rows = np.sort(rng.choice(live, size=min(sample, len(live)), replace=False))
    if not len(rows) or k < 1:
        return None, 0
    hits = wanted = 0
    for s in range(0, len(rows), 256):
        part = rows[s : s + 256]
        units = np.stack([_units(model, int(r), int(r) + 1)[0] for r in part])
        exclude = part[:, None]
        exact, scores = topk(model.vectors, model.norms, units, k, exclude=exclude)
        found, _ = search(model, opened, units, k, exclude)
        for a, b, sc in zip(exact, found, scores):
            a = a[(a >= 0) & np.isfinite(sc)]  # (fewer than k rows with a direction: fewer to find)
            wanted += len(a)
            hits += len(set(a.tolist()) & set(b[b >= 0].tolist()))
        progress("recall", min(len(rows), s + 256), len(rows))
    return (round(hits / wanted, 4) if wanted else None), int(len(rows))


class _Opened:
    """A graph and its info, ready for searching; for a PQ model, the row-major copy of its codes."""

    def __init__(self, graph: hnsw.Graph, info: IndexInfo, pq_rows: np.ndarray | None = None):
        self.graph = graph
        self.info = info
        self.pq_rows = pq_rows


# Open graphs by model (a model folder object opens its graph once).
_CACHE: "weakref.WeakKeyDictionary[ModelFolder, _Opened | None]" = weakref.WeakKeyDictionary()


def read_info(folder: Path) -> IndexInfo | None:
    """The ``index.json`` of a model folder's index, or None when it has none."""
    path = Path(folder) / ANN_DIR / ANN_INFO
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        # Keys a later emb may add are left out: its "format" says whether this emb can use the graph.
        known = set(IndexInfo.__dataclass_fields__)
        info = IndexInfo(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ModelError(f"{path}: unreadable index settings ({exc}): build the index again with emb index") from None
    for name in ("rows", "dim", "connectivity", "expansion_add", "expansion_search", "format", "entry_point", "max_level"):
        value = getattr(info, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < (-1 if name == "entry_point" else 0):
            raise ModelError(f"{path}: {name} {value!r} is not a setting emb writes: build the index again with emb index")
    return info


def opened(model: ModelFolder) -> _Opened | None:
    """``model``'s graph, memory-mapped (once per model object); None when there is none to use."""
    if model in _CACHE:
        return _CACHE[model]
    found = _open(model)
    _CACHE[model] = found
    return found


def usable(info: IndexInfo, model: ModelFolder) -> bool:
    """Whether the index is emb's own graph, built for this model (not for one the folder held before)."""
    return info.format == FORMAT and (info.rows, info.dim, info.model_created) == (
        model.vocab_size, model.dim, model.meta.get("created")) and info.model_check == model_check(model)


def _open(model: ModelFolder) -> _Opened | None:
    info = read_info(model.path)
    if info is None or not usable(info, model):
        return None  # stale or an earlier emb's: searched exactly
    from embcli.folder.reader import load_array

    folder = model.path / ANN_DIR
    with_copy = model.storage == "pq" and (folder / PQ_ROWS).is_file()  # (an index without one scores the model's)
    try:
        arrays = [load_array(folder / name, "HNSW index") for name in hnsw.FILES]
        pq_rows = load_array(folder / PQ_ROWS, "HNSW index") if with_copy else None
    except ModelError as exc:  # its message names the file and the fault; the fix is a new index
        raise ModelError(f"{str(exc).split(': the ')[0]}: build the index again with emb index") from None
    graph = hnsw.Graph(*arrays, info.entry_point, info.max_level)
    try:
        graph.check()
        if graph.size != model.vocab_size:
            raise hnsw.Damaged(f"{graph.size} nodes for {model.vocab_size} rows")
        if pq_rows is not None:
            codes, centroids = model.vectors.parts["codes"], model.vectors.parts["codebooks"].shape[1]
            if pq_rows.shape != codes.shape or pq_rows.dtype != codes.dtype:
                raise hnsw.Damaged(f"{PQ_ROWS} holds {pq_rows.dtype} {pq_rows.shape}, the model {codes.dtype} {codes.shape}")
            # (as the model's codes are checked when it opens: with 256 centroids every byte is a code)
            if centroids < 256 and len(pq_rows) and int(pq_rows.max()) >= centroids:
                raise hnsw.Damaged(f"{PQ_ROWS} holds a code {int(pq_rows.max())} for {centroids} centroids")
    except hnsw.Damaged as exc:
        raise _damaged(model, exc) from None
    return _Opened(graph, info, pq_rows)


def _damaged(model: ModelFolder, exc: Exception) -> ModelError:
    return ModelError(f"{model.path / ANN_DIR}: damaged HNSW index ({exc}): build it again with emb index")


def answers(rows: int, k: int, excluded: int = 0, queries: int = 1) -> bool:
    """Whether the graph is the way to the ``k`` best of ``rows``: a short list, not a large share of the
    vocabulary, which the graph may not reach in full (and a scan answers as fast), for a small batch."""
    return k + excluded + MARGIN <= rows // 2 and queries <= MAX_QUERIES


def _scorer(model: ModelFolder, unit: np.ndarray, rows: "_RowFile | None", pq_rows: np.ndarray | None = None) -> hnsw.Scores:
    """Cosines of ``unit`` with rows, as the exact search computes them (-inf for a zero row); a PQ
    model's with the codes of ``pq_rows`` when given (the index's row-major copy of them)."""
    vectors, norms = model.vectors, model.norms
    if rows is not None:
        dots = rows.dots(unit)
    elif hasattr(vectors, "dot_scorer"):
        dots = vectors.dot_scorer(unit, pq_rows)
    else:
        dots = lambda ids: vectors[ids] @ unit  # noqa: E731

    def scores(ids: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (dots(ids) / norms[ids]).astype(np.float32)
        s[~np.isfinite(s)] = -np.inf
        return s

    return scores


class _RowFile:
    """The rows of ``vectors.npy`` read by ``pread``, a row a call.

    A graph search meets a few thousand rows scattered over the file, most of them once: through the
    memory map each costs a page fault, which takes longer than reading the row (a first search of a
    1M x 300 model: 0.019 s mapped, 0.010 s read; bench/compress.py --index).
    """

    def __init__(self, fd: int, offset: int, dim: int, path: Path):
        self.fd, self.offset, self.dim, self.path = fd, offset, dim, path

    @classmethod
    def of(cls, model: ModelFolder) -> "_RowFile | None":
        """The reader of a float32 model's ``vectors.npy`` (None for other storage, without ``preadv``, or
        when the file there is no longer the one the model mapped: the folder was replaced since)."""
        if model.storage != "float32" or not hasattr(os, "preadv"):
            return None
        from embcli.folder.layout import VECTORS
        from embcli.wire.npy import read_npy_header

        try:
            with open(model.path / VECTORS, "rb") as fh:
                st = os.fstat(fh.fileno())
                if (st.st_dev, st.st_ino) != getattr(model, "vectors_file", None):
                    return None
                shape, fortran, dtype, offset = read_npy_header(fh)
                if fortran or dtype != np.float32 or tuple(shape) != (model.vocab_size, model.dim):
                    return None
                return cls(os.dup(fh.fileno()), offset, model.dim, model.path / VECTORS)
        except (OSError, ValueError, EmbError):
            return None  # the map the model opened answers instead

    def dots(self, unit: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        size = self.dim * 4

        def dots(ids: np.ndarray) -> np.ndarray:
            block = np.empty((len(ids), self.dim), dtype=np.float32)
            view = memoryview(block).cast("B")
            for j, row in enumerate(ids.tolist()):
                if os.preadv(self.fd, [view[j * size : (j + 1) * size]], self.offset + row * size) != size:
                    raise ModelError(f"{self.path}: row {row} is past the end of the file: the model folder is"
                                     " damaged; train or import it again")
            return block @ unit

        return dots

    def close(self) -> None:
        os.close(self.fd)


def search(model: ModelFolder, index: _Opened, units: np.ndarray, k: int,
           exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cosine top-k of unit ``units`` [Q, D]: the best nodes the graph search meets, ranked as the exact
    search ranks them (equal scores: the lower row first; a zero row never).

    Returns (rows [Q, k], scores [Q, k]) as ``topk`` does: -1 and -inf pad a short answer.
    """
    units = np.ascontiguousarray(np.atleast_2d(units), dtype=np.float32)
    nq = len(units)
    width = 0 if exclude is None else exclude.shape[1]
    ef = max(index.info.expansion_search, k + width + MARGIN)
    rows = np.full((nq, k), -1, dtype=np.int64)
    scores = np.full((nq, k), -np.inf, dtype=np.float32)
    reader = _RowFile.of(model)
    try:
        for i in range(nq):
            cand, s = hnsw.search(index.graph, _scorer(model, units[i], reader, index.pq_rows), ef)
            if index.pq_rows is not None:
                # The copy guides the walk; the answers are scored with the model's own codes, so a
                # damaged copy costs recall, as a damaged link does, never a wrong score.
                s = _scorer(model, units[i], None)(cand)
                order = np.lexsort((cand, -s))
                cand, s = cand[order], s[order]
            _keep(cand, s, exclude, i, k, rows, scores)
    except hnsw.Damaged as exc:
        raise _damaged(model, exc) from None
    finally:
        if reader is not None:
            reader.close()
    return rows, scores


def _keep(cand, s, exclude, i: int, k: int, rows: np.ndarray, scores: np.ndarray) -> None:
    """The ``k`` best of query ``i``'s candidates into its rows of ``rows`` and ``scores``."""
    keep = np.isfinite(s)
    if exclude is not None:
        keep &= ~np.isin(cand, exclude[i])
    cand, s = cand[keep][:k], s[keep][:k]
    rows[i, : len(cand)] = cand
    scores[i, : len(cand)] = s


def remove(model: ModelFolder) -> bool:
    """Remove ``model``'s index; whether there was one."""
    import shutil

    target = model.path / ANN_DIR
    if not target.exists() and not target.is_symlink():
        return False
    if target.is_symlink() or not target.is_dir():
        raise ModelError(f"{target}: not the index folder emb writes: remove or rename it yourself")
    if not os.access(model.path, os.W_OK) or not os.access(target, os.W_OK):
        raise ModelError(f"{target}: the model folder is not writable: the index cannot be removed")
    shutil.rmtree(target)
    _CACHE.pop(model, None)
    return True
