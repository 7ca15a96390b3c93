"""Approximate nearest neighbours: an HNSW graph (usearch) kept in the model folder.

``emb index MODEL --kind hnsw`` builds the graph over the model's unit rows and saves it in the
folder's ``ann-index/`` (``hnsw.usearch``, usearch's own file, and ``index.json``: the settings, the
model it was built for and the recall@10 measured against the exact search on sampled words). The
folder is written atomically; the model's own files are not touched.

Queries map the graph (``Index.restore(view=True)``: the file is memory-mapped, not loaded), ask it
for a shortlist a little longer than ``k`` and rank the shortlist by the exact cosine from the model's
own rows, so the scores are those of the exact search and only the choice of candidates is
approximate. Cosine queries over the whole vocabulary use the graph when it is there and ``k`` is a
short list (up to about half the vocabulary: ``answers``; a graph need not reach every row); ``--exact``
(``exact=True``), ``--restrict``, other metrics and analogies search exactly. A graph built for
another model (a folder replaced since) is ignored, and a folder without usearch installed searches
exactly: the answers stay right, only slower.
"""

from __future__ import annotations

import json
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from embcli.errors import ModelError, UsageError, raise_if_interrupted
from embcli.folder import ModelFolder, atomic_dir
from embcli.topk import distinct_sorted
from embcli.folder.layout import ANN_DIR, ANN_GRAPH, ANN_INFO
from embcli.topk import topk

KINDS = ("hnsw",)
RECALL_K = 10
SAMPLE = 1000
# Graph settings (usearch's names): links a node keeps, candidates kept while inserting and searching.
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 128
# The graph stores rows as float16: half the file of float32, with the same candidates.
DTYPE = "f16"
# The shortlist asked of the graph: k + the excluded rows + this many, ranked again exactly.
MARGIN = 16
BLOCK_ROWS = 1 << 16

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

    def as_dict(self) -> dict:
        return asdict(self)


def _usearch():
    from embcli.extras import require

    return require("usearch.index", "index", "an HNSW index (emb index --kind hnsw)")


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
    if kind not in KINDS:
        raise UsageError(f"unknown index kind {kind!r}: use --kind {' or '.join(KINDS)}")
    for name, value in (("--connectivity", connectivity), ("--expansion-add", expansion_add),
                        ("--expansion-search", expansion_search)):
        if value < 2:
            raise UsageError(f"{name} must be at least 2 (got {value})")
    n = model.vocab_size
    if n < 2:
        raise UsageError(f"model {model.name!r} has {n} word(s): an index needs at least 2")
    usearch = _usearch()
    progress = on_progress or (lambda *_: None)
    started = time.perf_counter()
    graph = usearch.Index(ndim=model.dim, metric="cos", dtype=DTYPE, connectivity=connectivity,
                          expansion_add=expansion_add, expansion_search=expansion_search)
    for s in range(0, n, BLOCK_ROWS):
        e = min(n, s + BLOCK_ROWS)
        units = _units(model, s, e)
        keep = np.flatnonzero(np.any(units != 0, axis=1))  # a zero row has no direction: never an answer
        if len(keep):
            try:
                graph.add(keep + s, units[keep], threads=threads)
            except RuntimeError:
                raise_if_interrupted()  # usearch turns a Ctrl-C inside its loop into a RuntimeError
                raise
        progress("add", e, n)
    info = IndexInfo("hnsw", f"usearch {_version()}", n, model.dim, model.meta.get("created"),
                     connectivity, expansion_add, expansion_search, DTYPE, None, 0, 0.0)
    info.recall_at_10, info.sampled = recall(model, _Opened(graph, info), sample, seed, progress)
    info.seconds = round(time.perf_counter() - started, 2)
    target = model.path / ANN_DIR
    with atomic_dir(target, force=True) as tmp:
        graph.save(str(tmp / ANN_GRAPH))
        info.bytes = (tmp / ANN_GRAPH).stat().st_size
        (tmp / ANN_INFO).write_text(json.dumps(info.as_dict(), indent=2) + "\n", encoding="utf-8")
    _CACHE.pop(model, None)
    return info


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("usearch")
    except Exception:  # noqa: BLE001 - only a label
        return "?"


def recall(model: ModelFolder, opened: "_Opened", sample: int, seed: int, progress: Progress) -> tuple[float | None, int]:
    """Recall@10 of the graph's answers against the exact search, for ``sample`` random words."""
    n = model.vocab_size
    k = min(RECALL_K, n - 1)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(sample, n), replace=False))
    rows = rows[np.asarray(model.norms[rows]) > 0]
    if not len(rows) or k < 1:
        return None, 0
    hits = 0
    for s in range(0, len(rows), 256):
        part = rows[s : s + 256]
        units = np.stack([_units(model, int(r), int(r) + 1)[0] for r in part])
        exclude = part[:, None]
        exact, _ = topk(model.vectors, model.norms, units, k, exclude=exclude)
        found, _ = search(model, opened, units, k, exclude)
        hits += sum(len(set(a[a >= 0].tolist()) & set(b[b >= 0].tolist())) for a, b in zip(exact, found))
        progress("recall", min(len(rows), s + 256), len(rows))
    return round(hits / (k * len(rows)), 4), int(len(rows))


class _Opened:
    """A graph and its info, ready for searching."""

    def __init__(self, graph, info: IndexInfo):
        self.graph = graph
        self.info = info


# Open graphs by model (a model folder object opens its graph once).
_CACHE: "weakref.WeakKeyDictionary[ModelFolder, _Opened | None]" = weakref.WeakKeyDictionary()


def read_info(folder: Path) -> IndexInfo | None:
    """The ``index.json`` of a model folder's index, or None when it has none."""
    path = Path(folder) / ANN_DIR / ANN_INFO
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return IndexInfo(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise ModelError(f"{path}: unreadable index settings ({exc}): build the index again with emb index") from None


def opened(model: ModelFolder) -> _Opened | None:
    """``model``'s graph, memory-mapped (once per model object); None when there is none to use."""
    if model in _CACHE:
        return _CACHE[model]
    found = _open(model)
    _CACHE[model] = found
    return found


def _open(model: ModelFolder) -> _Opened | None:
    info = read_info(model.path)
    if info is None:
        return None
    if (info.rows, info.dim, info.model_created) != (model.vocab_size, model.dim, model.meta.get("created")):
        return None  # built for another model that had this folder: stale, searched exactly
    from embcli.extras import available

    if not available("usearch"):
        return None
    usearch = _usearch()
    path = model.path / ANN_DIR / ANN_GRAPH
    try:
        graph = _view(usearch, path)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable HNSW index ({exc}): build it again with emb index") from None
    if graph is None or graph.ndim != model.dim or len(graph) > model.vocab_size:
        raise ModelError(f"{path}: the HNSW index does not fit the model: build it again with emb index")
    graph.expansion_search = info.expansion_search
    return _Opened(graph, info)


def _view(usearch, path: Path):
    """The graph file memory-mapped, without usearch's key -> node table (the nodes' keys are their rows).

    usearch builds that table by visiting every node: on a million rows it is most of the time of
    opening the graph, and searching does not need it (measured in bench/compress.py --index).
    """
    try:
        return usearch.Index.restore(str(path), view=True, enable_key_lookups=False)
    except TypeError:  # a usearch without the setting
        return usearch.Index.restore(str(path), view=True)


def answers(rows: int, k: int, excluded: int = 0) -> bool:
    """Whether the graph is the way to the ``k`` best of ``rows``: a short list, not a large share of the
    vocabulary, which the graph may not reach in full (and a scan answers as fast)."""
    return k + excluded + MARGIN <= rows // 2


def search(model: ModelFolder, index: _Opened, units: np.ndarray, k: int,
           exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cosine top-k of unit ``units`` [Q, D]: the graph's shortlist ranked by the exact cosine.

    Returns (rows [Q, k], scores [Q, k]) as ``topk`` does: -1 and -inf pad a short answer.
    """
    units = np.ascontiguousarray(np.atleast_2d(units), dtype=np.float32)
    nq = len(units)
    width = 0 if exclude is None else exclude.shape[1]
    count = min(len(index.graph), k + width + MARGIN)
    graph = index.graph
    if count > graph.expansion_search:
        graph.expansion_search = count
    matches = graph.search(units, count, threads=1)
    if hasattr(matches, "counts"):  # several queries: padded [Q, count] keys and a count each
        keys = np.asarray(matches.keys, dtype=np.int64).reshape(nq, -1)
        counts = np.asarray(matches.counts).reshape(nq)
    else:  # one query: its keys alone
        keys = np.asarray(matches.keys, dtype=np.int64).reshape(1, -1)
        counts = np.array([keys.shape[1]])
    rows = np.full((nq, k), -1, dtype=np.int64)
    scores = np.full((nq, k), -np.inf, dtype=np.float32)
    for i in range(nq):
        cand = keys[i, : counts[i]]
        cand = cand[(cand >= 0) & (cand < model.vocab_size)]
        if exclude is not None:
            cand = cand[~np.isin(cand, exclude[i])]
        if not len(cand):
            continue
        # Sorted, once each: equal scores keep the lower row first, as the exact search does.
        cand = distinct_sorted(np.sort(cand))
        vecs = np.asarray(model.vectors[cand], dtype=np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (vecs @ units[i]) / model.norms[cand]
        s = np.where(np.isnan(s), -np.inf, s).astype(np.float32)
        order = np.argsort(-s, kind="stable")[:k]
        rows[i, : len(order)] = cand[order]
        scores[i, : len(order)] = s[order]
    return rows, scores


def remove(model: ModelFolder) -> bool:
    """Remove ``model``'s index; whether there was one."""
    import shutil

    target = model.path / ANN_DIR
    if not target.exists():
        return False
    shutil.rmtree(target)
    _CACHE.pop(model, None)
    return True
