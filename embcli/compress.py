"""Smaller models: float16, int8 or product-quantized vectors, and what the shrinking cost.

``compress`` encodes a model's rows (``embcli.folder.storage``), measures the result against the
original and writes a new model folder atomically; the original is only read. ``measure`` gives
the cost: sizes, recall@10 of the nearest neighbours of sampled words against the original's, and
the change in analogy accuracy and word-pair correlations on the default sets. ``dry_run`` measures
several settings without writing anything. Product quantization (PQ, and optimized PQ with a learned
rotation) trains its codebooks with faiss (the ``compress`` extra); the folder stores codes and
codebooks as ``.npy``, so reading it needs numpy only.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from embcli.errors import UsageError, check_threads, check_whole
from embcli.folder import ModelFolder, atomic_dir
from embcli.folder.atomic import check_folder_target
from embcli.folder.layout import MODEL_FILES, read_meta, write_meta
from embcli.folder.storage import StoredRows, encode_rows, save_compressed, stored_norms
from embcli.topk import topk

KINDS = ("float32", "float16", "int8", "pq")
# The storage of a fastText model's n-gram rows for each storage of its vectors (PQ: int8, a scale a row).
NGRAM_KIND = {"float32": "float32", "float16": "float16", "int8": "int8", "pq": "int8"}
RECALL_K = 10
SAMPLE = 1000
# k-means needs several rows per centroid: fewer words than this many per centroid are refused.
ROWS_PER_CENTROID = 4
# Rows the PQ codebooks are trained on at most (a sample of the vocabulary, seeded).
TRAIN_ROWS = 1 << 16
BYTES = {"float32": 4, "float16": 2, "int8": 1}

Stage = Callable[[str], None]


@dataclass
class Setting:
    """One way to compress: ``to`` (float16, int8, pq) and, for PQ, subquantizers, bits, OPQ."""

    to: str
    subquantizers: int | None = None
    bits: int = 8
    opq: bool = False

    @property
    def label(self) -> str:
        if self.to != "pq":
            return self.to
        return f"{'opq' if self.opq else 'pq'} M={self.subquantizers} bits={self.bits}"

    def check(self, model: ModelFolder, max_vocab: int | None = None) -> "Setting":
        """This setting with PQ's defaults filled in; a ``UsageError`` for one that cannot work."""
        if self.to not in KINDS:
            raise UsageError(f"unknown storage {self.to!r}: use --to float32, float16, int8 or pq")
        if self.to != "pq":
            if self.subquantizers is not None or self.opq or self.bits != 8:
                raise UsageError("--subquantizers, --bits and --opq are for --to pq")
            return self
        dim = model.dim
        check_whole("--subquantizers", self.subquantizers)
        check_whole("--bits", self.bits, optional=False)
        m = self.subquantizers if self.subquantizers is not None else default_subquantizers(dim)
        if m < 1 or dim % m:
            fits = ", ".join(str(d) for d in divisors(dim) if d <= 512)
            raise UsageError(f"--subquantizers {m} does not divide the dimension {dim}: use one of {fits}")
        if not 1 <= self.bits <= 8:
            raise UsageError(f"--bits {self.bits}: use 1 to 8 (one byte a code)")
        from embcli.extras import require

        require("faiss", "compress", "product quantization (--to pq)")
        need = ROWS_PER_CENTROID << self.bits
        words = model.vocab_size if max_vocab is None else min(model.vocab_size, max_vocab)
        if words < need:
            raise UsageError(
                f"{words} words are too few to train {1 << self.bits} centroids a subquantizer:"
                f" --bits {self.bits} needs at least {need} words; lower --bits"
                f"{', raise --max-vocab' if words < model.vocab_size else ''} or use --to int8"
            )
        return Setting("pq", m, self.bits, self.opq)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def default_subquantizers(dim: int) -> int:
    """The most subquantizers that still make 8-bit codes 16 times smaller than float32 (D/4 bytes)."""
    return max(d for d in divisors(dim) if d <= max(1, dim // 4))


@dataclass
class Cost:
    """What compressing cost: sizes, recall@10 against the original, benchmark scores before and after."""

    setting: str
    bytes_before: int
    bytes_after: int
    recall_at_10: float | None
    sampled: int
    scores: dict = field(default_factory=dict)  # name -> {"before": x, "after": y}
    seconds: float = 0.0
    source_storage: str = "float32"
    vector_bytes_before: int = 0  # the rows alone (vectors.npy, or the stored arrays)
    vector_bytes_after: int = 0
    vocab_before: int = 0
    vocab_after: int = 0
    ngrams: dict | None = None  # fastText n-gram rows: storage, rows before/after, unseen-word cosines

    @property
    def ratio(self) -> float:
        return self.bytes_before / self.bytes_after if self.bytes_after else float("inf")

    def as_dict(self) -> dict:
        return {
            "setting": self.setting,
            "from_storage": self.source_storage,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "ratio": round(self.ratio, 2),
            "vector_bytes_before": self.vector_bytes_before,
            "vector_bytes_after": self.vector_bytes_after,
            f"recall_at_{RECALL_K}": None if self.recall_at_10 is None else round(self.recall_at_10, 4),
            "sampled_words": self.sampled,
            "scores": self.scores,
            "seconds": round(self.seconds, 2),
            "vocab_before": self.vocab_before,
            "vocab_after": self.vocab_after,
            "ngrams": self.ngrams,
        }


class Baseline:
    """The original model's side of every measurement, computed once for several settings."""

    def __init__(self, model: ModelFolder, sample: int = SAMPLE, seed: int = 0, benchmarks: bool = True):
        self.model = model
        n = model.vocab_size
        self.k = min(RECALL_K, n - 1)
        rng = np.random.default_rng(seed)
        self.rows = np.sort(rng.choice(n, size=min(sample, n), replace=False)) if self.k > 0 else np.zeros(0, np.int64)
        self.neighbours = _neighbours(model.vectors, model.norms, self.rows, self.k)
        self.scores = benchmark_scores(model) if benchmarks else {}
        self.bytes = model_bytes(model)


def _neighbours(vectors, norms: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """The k nearest rows (cosine) of each of ``rows``, the row itself excluded."""
    if not len(rows) or k < 1:
        return np.zeros((len(rows), 0), dtype=np.int64)
    queries = np.asarray(vectors[rows], dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        queries = np.nan_to_num(queries / norms[rows][:, None])
    found, _ = topk(vectors, norms, queries, k, exclude=rows[:, None])
    return found


def benchmark_scores(model: ModelFolder) -> dict:
    """Analogy accuracy and WS353/SimLex Spearman correlations on the default sets (None: no word known)."""
    from embcli.evaluation import ANALOGY_SETS, SIMILARITY_SETS, default_dataset, evaluate_analogies, evaluate_pairs

    out: dict = {}
    for name in ANALOGY_SETS:
        total = evaluate_analogies(model, default_dataset(name)).total
        out[f"analogy:{name}"] = None if total is None or total.accuracy is None else round(100 * total.accuracy, 3)
    for name in SIMILARITY_SETS:
        rho = evaluate_pairs(model, default_dataset(name)).spearman
        out[f"spearman:{name}"] = None if rho is None else round(float(rho), 4)
    return out


def model_bytes(model: ModelFolder) -> int:
    """Bytes of a model's own files (search indexes and caches left out)."""
    return folder_bytes(model.path)


def folder_bytes(path: Path) -> int:
    """Bytes of the model files in the folder ``path``."""
    return sum((path / f).stat().st_size for f in MODEL_FILES if (path / f).is_file())


def _record_size(folder: Path, cost: Cost) -> None:
    """Make ``cost.bytes_after`` the written folder's own size, and its meta.json say so (the file
    counts itself, so the figure settles in a round or two)."""
    for _ in range(4):
        size = folder_bytes(folder)
        if size == cost.bytes_after:
            return
        cost.bytes_after = size
        meta = read_meta(folder)
        meta["compression"] = {**meta["compression"], **cost.as_dict()}
        write_meta(folder, meta)


def _vector_bytes(model: ModelFolder) -> int:
    """Bytes of a model's rows alone: ``vectors.npy``, or its stored arrays (with their headers)."""
    if model.storage == "float32":
        vectors = model.path / "vectors.npy"
        return vectors.stat().st_size if vectors.is_file() else 0
    return int(model.vectors.nbytes) + 128 * len(model.vectors.parts)


def _stored_bytes(model: ModelFolder, stored: StoredRows) -> int:
    """The size the compressed folder will have: the original's files with the vectors replaced, and
    the counts as ``save_compressed`` writes them (4 bytes a count where they fit)."""
    counts, saved = model.counts, 0
    if counts is not None and counts.dtype.itemsize == 8 and len(counts):
        if counts.min() >= 0 and counts.max() < 1 << 32:
            saved = counts.nbytes // 2
    return model_bytes(model) - _vector_bytes(model) - saved + stored.nbytes + 128 * len(stored.parts)


def encode(model: ModelFolder, setting: Setting, seed: int = 0, threads: int | None = None) -> tuple[StoredRows, dict]:
    """``model``'s rows in ``setting``'s storage, in memory, and the ``meta["storage"]`` entry."""
    pq = train_pq(model, setting, seed, threads) if setting.to == "pq" else None
    return encode_rows(model, setting.to, pq)


def train_pq(model: ModelFolder, setting: Setting, seed: int = 0, threads: int | None = None) -> dict:
    """Train PQ (or OPQ) codebooks with faiss on a sample of rows and encode every row, in ``threads``
    threads. The same seed and thread count give the same codes; another thread count may not (faiss
    sums in another order)."""
    from embcli.extras import require

    faiss = require("faiss", "compress", "product quantization (--to pq)")
    # All cores unless asked (None), as training and indexing: on an idle 2-core machine 2 threads took
    # OPQ M=60 of 1M x 300 from 198 s to 117 s. On a busy machine faiss's OpenMP barriers spin against
    # the other processes (k-means measured 6x slower with 2 threads than with 1 on a loaded 2-core
    # machine): --threads 1 is then faster.
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads or os.cpu_count() or 1)
    try:
        return _train_pq(faiss, model, setting, seed)
    finally:
        faiss.omp_set_num_threads(before)


def _train_pq(faiss, model: ModelFolder, setting: Setting, seed: int) -> dict:
    n, dim = model.vocab_size, model.dim
    m, bits = setting.subquantizers, setting.bits
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(n, TRAIN_ROWS), replace=False))
    lengths = np.asarray(model.norms, dtype=np.float32)
    # The unit rows are quantized and the norms kept apart (norms.npy): the codebooks spend nothing on
    # the spread of the lengths, and a row's cosines depend on its direction alone. On a word2vec
    # model (300 dims, M=75) recall@10 rose from 0.57 to 0.71, and with OPQ from 0.75 to 0.84.
    train = _unit(model.vectors[rows], lengths[rows])
    rotation = None
    if setting.opq:
        opq = faiss.OPQMatrix(dim, m)
        opq.verbose = False
        opq.niter = 25
        inner = faiss.ProductQuantizer(dim, m, bits)  # OPQ's own PQ: our bits, no warning from faiss
        inner.cp.min_points_per_centroid = ROWS_PER_CENTROID
        opq.pq = inner
        opq.train(train)
        del inner
        rotation = faiss.vector_to_array(opq.A).reshape(dim, dim).astype(np.float32)
        train = train @ rotation.T
    pq = faiss.ProductQuantizer(dim, m, bits)
    pq.cp.seed = seed
    pq.cp.min_points_per_centroid = ROWS_PER_CENTROID  # the minimum was checked: no warning from faiss
    pq.train(np.ascontiguousarray(train))
    books = faiss.vector_to_array(pq.centroids).reshape(m, 1 << bits, dim // m).astype(np.float32)
    codes = np.empty((n, m), dtype=np.uint8)
    for s in range(0, n, 1 << 16):
        block = _unit(model.vectors[s : s + (1 << 16)], lengths[s : s + (1 << 16)])
        if rotation is not None:
            block = np.ascontiguousarray(block @ rotation.T)
        codes[s : s + len(block)] = _unpack(pq.compute_codes(block), m, bits)
    return {"codes": codes, "codebooks": books, "rotation": rotation, "bits": bits, "lengths": lengths}


def _unit(block, lengths: np.ndarray) -> np.ndarray:
    """Rows divided by their norms (a zero row stays zero), float32 and contiguous for faiss."""
    block = np.asarray(block, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.ascontiguousarray(np.where(lengths[:, None] > 0, block / lengths[:, None], np.float32(0)),
                                    dtype=np.float32)


def _unpack(packed: np.ndarray, m: int, bits: int) -> np.ndarray:
    """faiss's packed codes (``bits`` per subquantizer, least significant bit first) as one byte each."""
    if bits == 8:
        return packed
    flat = np.unpackbits(packed, axis=1, bitorder="little")[:, : m * bits].reshape(len(packed), m, bits)
    return (flat.astype(np.uint8) << np.arange(bits, dtype=np.uint8)).sum(axis=2).astype(np.uint8)


def measure(baseline: Baseline, setting: Setting, stored: StoredRows, benchmarks: bool = True) -> tuple[Cost, np.ndarray]:
    """The cost of ``stored`` against the original: returns the ``Cost`` and the stored rows' norms."""
    model = baseline.model
    norms = stored_norms(stored)
    recall = None
    if len(baseline.rows):
        found = _neighbours(stored, norms, baseline.rows, baseline.k)
        hits = [len(set(a[a >= 0].tolist()) & set(b[b >= 0].tolist())) for a, b in zip(baseline.neighbours, found)]
        recall = float(np.mean(hits)) / baseline.k
    scores = {}
    if benchmarks:
        after = benchmark_scores(as_model(model, stored, norms))
        scores = {k: {"before": baseline.scores.get(k), "after": v} for k, v in after.items()}
    cost = Cost(setting.label, baseline.bytes, _stored_bytes(model, stored), recall, len(baseline.rows), scores,
                source_storage=model.storage, vector_bytes_before=_vector_bytes(model),
                vector_bytes_after=stored.nbytes + 128 * len(stored.parts))
    return cost, norms


def as_model(model: ModelFolder, stored: StoredRows, norms: np.ndarray) -> ModelFolder:
    """``model`` (its vocabulary and metadata) answering from ``stored`` rows held in memory."""
    twin = copy.copy(model)
    twin.__dict__.update(vectors=stored, norms=norms, storage=stored.kind)
    return twin


def compress(
    model: ModelFolder,
    target: Path,
    setting: Setting,
    force: bool = False,
    sample: int = SAMPLE,
    seed: int = 0,
    benchmarks: bool = True,
    on_stage: Stage | None = None,
    baseline: Baseline | None = None,
    max_vocab: int | None = None,
    prune_ngrams: int | None = None,
    prune_by: str = "auto",
    threads: int | None = None,
) -> Cost:
    """Write ``model`` compressed by ``setting`` as the model folder ``target``; return what it cost.

    The cost is measured before anything is written and kept in ``meta.json`` under
    ``compression``. ``target`` is written atomically; ``model``'s folder is only read. A model that
    is itself compressed is compressed again from its stored (decoded) values. ``max_vocab`` keeps
    the N most frequent words (recall@10 is then measured among them); ``prune_ngrams`` keeps N of a
    fastText model's n-gram rows, chosen by ``prune_by`` (``embcli.prune``). A fastText model's
    n-gram rows are stored as its vectors are (int8 for PQ). PQ trains and encodes in ``threads``
    threads (``train_pq``).
    """
    from embcli import prune

    if Path(target).resolve() == model.path.resolve():
        raise UsageError("the compressed model would replace its original: give another --name or --output")
    for name, value in (("--max-vocab", max_vocab), ("--prune-ngrams", prune_ngrams), ("--sample", sample),
                        ("--seed", seed)):
        check_whole(name, value)
    setting = setting.check(model, max_vocab)
    check_threads(threads)
    started = time.perf_counter()
    stage = on_stage or (lambda _: None)
    if prune_ngrams is not None and (model.ngrams is None or not model.meta.get("fasttext")):
        raise UsageError(f"--prune-ngrams is for fastText models: model {model.name!r} has no character n-grams")
    work = prune.truncated(model, max_vocab) if max_vocab is not None else model
    if baseline is None:  # several settings of one model may share one (see dry_run)
        stage("measuring the original")
        baseline = Baseline(work, sample, seed, benchmarks)
    stage(f"encoding {setting.label}")
    stored, storage = encode(work, setting, seed, threads)
    ngrams, ngram_report = None, None
    if work.ngrams is not None and work.meta.get("fasttext"):
        # An already pruned model keeps its pruning: a bucket it dropped stays without a row (written
        # out as a zero row, it made every unseen word's mean shorter, and the folder 3-10x larger).
        kept = getattr(work.ngrams, "kept", None)
        if prune_ngrams is not None:
            stage(f"choosing {prune_ngrams:,} n-gram rows")
            kept, ngram_report = prune.choose_ngrams(work, prune_ngrams, prune_by, seed)
        kind = NGRAM_KIND[setting.to]
        if kept is not None or kind != "float32" or "ngram_storage" in model.meta:
            from embcli.folder.ngram_rows import encode_ngrams

            stage(f"encoding the n-gram rows ({kind})")
            ngrams = encode_ngrams(work.ngrams, kind, kept)  # ``kept`` are bucket ids, as the hashing gives
        ngram_report = {**(ngram_report or {}), "storage": kind}
    stage("measuring the cost")
    cost, norms = measure(baseline, setting, stored, benchmarks)
    cost.vocab_before, cost.vocab_after, cost.ngrams = model.vocab_size, work.vocab_size, ngram_report
    cost.bytes_before = model_bytes(model)
    cost.seconds = time.perf_counter() - started
    meta = dict(model.meta)
    meta.pop("state", None)  # the training state (state/) is not carried over: a smaller copy is not continued
    meta["compression"] = {**cost.as_dict(), "source": str(model.path)}
    stage("writing")
    with atomic_dir(Path(target), force=force) as tmp:
        save_compressed(tmp, work, stored, storage, norms, meta, ngrams)
        _record_size(tmp, cost)
    return cost


def target_path(model: ModelFolder, to: str, name: str | None = None, output: Path | None = None,
                force: bool = False) -> Path:
    """Where the compressed model goes: ``output``, or the store's ``name`` (default ``MODEL-KIND``)."""
    from embcli.store import ModelStore

    if name is not None and output is not None:
        raise UsageError("give --name or --output, not both")
    if output is not None:
        check_folder_target(Path(output), True)  # '-', a file, the current folder: refused before the work
    target = Path(output) if output is not None else ModelStore().path(name or f"{model.name}-{to}")
    if target.exists() and not force:
        raise UsageError(f"{target} exists: pass --force to replace it, or choose another --name/--output")
    return target


def dry_run_settings(model: ModelFolder, with_pq: bool = True) -> list[Setting]:
    """The settings ``--dry-run`` compares: float16, int8 and PQ over several subquantizer counts."""
    out = [Setting("float16"), Setting("int8")]
    if with_pq:
        dim = model.dim
        for m in sorted({d for d in divisors(dim) if d in (25, 50, 100, 150)} or {default_subquantizers(dim)}):
            if model.vocab_size >= ROWS_PER_CENTROID << 8:
                out.append(Setting("pq", m, 8))
    return out


def dry_run(
    model: ModelFolder,
    settings: list[Setting],
    sample: int = SAMPLE,
    seed: int = 0,
    benchmarks: bool = True,
    on_result: Callable[[Cost], None] | None = None,
    threads: int | None = None,
) -> list[Cost]:
    """Measure each setting without writing anything (the original is measured once)."""
    checked = [s.check(model) for s in settings]
    check_threads(threads)
    baseline = Baseline(model, sample, seed, benchmarks)
    costs = []
    for setting in checked:
        started = time.perf_counter()
        stored, _ = encode(model, setting, seed, threads)
        cost, _ = measure(baseline, setting, stored, benchmarks)
        cost.seconds = time.perf_counter() - started
        costs.append(cost)
        if on_result:
            on_result(cost)
    return costs
