"""Queries over a model: neighbours, analogies, similarity and vectors, exact and batched.

Everything works on the memory-mapped matrix and the stored norms; the matrix is never copied or
normalised as a whole. Queries asked together share one pass over the matrix: its rows are read in
blocks, each block is multiplied with all the query vectors at once, and a running top-k per query
keeps only the rows that beat its current k-th score. Scores follow gensim's definitions
(``most_similar``, ``most_similar_cosmul``, ``similarity``), so the answers agree with gensim's.
The search itself is in ``embcli.topk``; large batches of cosine neighbours take the exact int8
prefilter of ``embcli.prefilter`` instead. Query words become rows in ``embcli.lookup``; this
module turns them into results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from embcli.errors import EmbError, UsageError, check_whole
from embcli.folder import ModelFolder
from embcli.lookup import Term, check_direction, check_words, lookup_groups, lookup_many, names_damage, terms_of
from embcli.topk import METHODS, METRICS, analogy_topk, topk


@dataclass
class Hit:
    """One answer: 1-based rank, word, score (cosine, distance or dot product) and row."""

    rank: int
    word: str
    score: float
    index: int


@dataclass
class QueryResult:
    """The answers to one neighbours or analogy query, or the error that stopped it."""

    query: str
    terms: list[Term] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    error: EmbError | None = None

    @property
    def oov(self) -> bool:
        return any(t.oov for t in self.terms)


@dataclass
class SimilarityResult:
    """The cosine similarity of two words, or the error that stopped it."""

    query: tuple[str, ...]
    terms: list[Term] = field(default_factory=list)
    score: float | None = None
    error: EmbError | None = None

    @property
    def oov(self) -> bool:
        return any(t.oov for t in self.terms)


@dataclass
class VectorResult:
    """The vector of one word (raw, or unit length when asked), or the error that stopped it."""

    query: str
    term: Term | None = None
    vector: np.ndarray | None = field(default=None, repr=False)
    error: EmbError | None = None

    @property
    def oov(self) -> bool:
        return self.term is not None and self.term.oov


def check_options(k: int = 1, restrict: int | None = None, metric: str = "cosine", method: str = "add") -> None:
    """Raise ``UsageError`` for query settings no query can use (before a stream of queries starts)."""
    _check_k(k, restrict)
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    if method not in METHODS:
        raise UsageError(f"unknown analogy method {method!r}: use one of {', '.join(METHODS)}")


#: Answers (query x k) computed in one pass at most: bounds the memory of a batch whatever ``k`` is
#: (100 queries with k = 10^9 on a 300k-word model would otherwise hold 30M answers at once).
ANSWERS_PER_PASS = 1 << 20


def queries_per_pass(model: ModelFolder, k: int, restrict: int | None = None) -> int:
    """How many queries of ``k`` answers to answer together: all their answers fit ``ANSWERS_PER_PASS``."""
    stop = model.vocab_size if restrict is None else min(max(int(restrict), 1), model.vocab_size)
    return max(1, ANSWERS_PER_PASS // max(1, min(int(k), stop)))


def _check_k(k: int, restrict: int | None) -> None:
    check_whole("k", k, optional=False)
    check_whole("restrict", restrict)
    if k < 1:
        raise UsageError(f"-k must be at least 1 (got {k})")
    if restrict is not None and restrict < 1:
        raise UsageError(f"--restrict must be at least 1 (got {restrict})")


# ------------------------------------------------------------------------------------- commands


def _hits(model: ModelFolder, rows: np.ndarray, scores: np.ndarray) -> list[Hit]:
    hits = []
    for r, s in zip(rows.tolist(), scores.tolist()):
        if r < 0:
            break
        hits.append(Hit(len(hits) + 1, model.word_at(r), float(s), r))
    return hits


def _exclude(terms_per_query: list[list[Term]]) -> np.ndarray:
    width = max((len(t) for t in terms_per_query), default=1)
    out = np.full((len(terms_per_query), width), -1, dtype=np.int64)
    for i, terms in enumerate(terms_per_query):
        for j, t in enumerate(terms):
            if t.index is not None:
                out[i, j] = t.index
    return out


def _prefiltered(model: ModelFolder, units: np.ndarray, k: int, restrict: int | None, exclude: np.ndarray):
    """Cosine top-k of a large batch through the int8 index (same answers), or None to search in float32."""
    from embcli import prefilter

    stop = model.vocab_size if restrict is None else min(int(restrict), model.vocab_size)
    if (
        model.storage != "float32"  # compressed rows: the int8 index would be built from decoded rows
        or len(units) < prefilter.MIN_QUERIES
        or stop < prefilter.MIN_ROWS
        or k > prefilter.MAX_K
        or not prefilter.available()
    ):
        return None
    index = prefilter.index_for(model.path, model.vectors, model.norms)
    if index is None:
        return None
    return prefilter.topk_cosine(index, model.vectors, model.norms, units, k, stop, exclude)


def _indexed(model: ModelFolder, units: np.ndarray, k: int, restrict: int | None, exclude: np.ndarray, exact: bool):
    """Cosine top-k through the model's HNSW index (``emb index``), or None to search exactly."""
    if exact or restrict is not None:
        return None
    from embcli import ann

    if not ann.answers(model.vocab_size, k, 0 if exclude is None else exclude.shape[1], len(units)):
        return None
    index = ann.opened(model)
    if index is None:
        return None
    return ann.search(model, index, units, k, exclude)


def _cosine_topk(model: ModelFolder, units: np.ndarray, k: int, restrict: int | None, exclude: np.ndarray,
                 exact: bool):
    """Cosine top-k by the HNSW index, the int8 prefilter (large batches) or the exact scan."""
    found = _indexed(model, units, k, restrict, exclude, exact)
    if found is None:
        found = _prefiltered(model, units, k, restrict, exclude)
    return found if found is not None else topk(model.vectors, model.norms, units, k, restrict, "cosine", exclude)


@names_damage
def neighbors(
    model: ModelFolder,
    queries: Sequence[str],
    k: int = 10,
    metric: str = "cosine",
    restrict: int | None = None,
    exact: bool = False,
) -> list[QueryResult]:
    """The k nearest words of each query word, the word itself excluded, in one pass for all.

    ``cosine`` matches gensim's ``most_similar``; ``dot`` ranks by raw dot product; ``euclidean``
    by distance between raw vectors, nearest first. A failed query carries its error; the rest run.
    Cosine queries use the model's HNSW index when it has one (``emb index``), unless ``exact``.
    """
    _check_k(k, restrict)
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    results = [QueryResult(q) for q in queries]
    live = []
    for res, found in zip(results, lookup_many(model, queries)):
        try:
            res.terms = terms_of([found], directed=metric == "cosine")
            live.append(res)
        except EmbError as exc:
            res.error = exc
    step = queries_per_pass(model, k, restrict)
    for at in range(0, len(live), step):
        part = live[at : at + step]
        terms = [r.terms[0] for r in part]
        qv = np.stack([t.unit() if metric == "cosine" else t.vector for t in terms])
        exclude = _exclude([[t] for t in terms])
        if metric == "cosine":
            rows, scores = _cosine_topk(model, qv, k, restrict, exclude, exact)
        else:
            rows, scores = topk(model.vectors, model.norms, qv, k, restrict, metric, exclude)
        for i, res in enumerate(part):
            res.hits = _hits(model, rows[i], scores[i])
    return results


@names_damage
def analogy(
    model: ModelFolder,
    queries: Sequence[Sequence[str]],
    k: int = 5,
    method: str = "add",
    restrict: int | None = None,
) -> list[QueryResult]:
    """Answers to A - B + C for each query (A, B, C): ``king man woman`` gives queen.

    ``add`` (3CosAdd) matches gensim's ``most_similar(positive=[A, C], negative=[B])``, ``mul``
    (3CosMul) its ``most_similar_cosmul``. The three query words are never answers.
    """
    _check_k(k, restrict)
    if method not in METHODS:
        raise UsageError(f"unknown analogy method {method!r}: use one of {', '.join(METHODS)}")
    for q in queries:
        check_words(q)
    results = [QueryResult(" ".join(q) if len(q) <= 3 else " ".join(q[:3]) + " ...") for q in queries]
    live = []
    # Only queries of the right size are looked up: a runaway line of words costs no lookups.
    sized = [q if len(q) == 3 else [] for q in queries]
    for res, words, found in zip(results, queries, lookup_groups(model, sized)):
        try:
            if len(words) != 3:
                raise UsageError(f"an analogy takes 3 words (A B C for A - B + C), got {len(words)}")
            res.terms = terms_of(found, directed=True)
            live.append(res)
        except EmbError as exc:
            res.error = exc
    step = queries_per_pass(model, k, restrict)
    for at in range(0, len(live), step):
        part = live[at : at + step]
        a, b, c = (np.stack([r.terms[j].unit() for r in part]) for j in range(3))
        exclude = _exclude([r.terms for r in part])
        rows, scores = analogy_topk(model.vectors, model.norms, a, b, c, k, restrict, method, exclude)
        for i, res in enumerate(part):
            res.hits = _hits(model, rows[i], scores[i])
    return results


def similarity(model: ModelFolder, pairs: Sequence[Sequence[str]]) -> list[SimilarityResult]:
    """The cosine similarity of each pair of words (gensim's ``similarity``)."""
    results = []
    for pair, found in zip(pairs, lookup_groups(model, [p if len(p) == 2 else [] for p in pairs])):
        res = SimilarityResult(tuple(pair))
        try:
            if len(pair) != 2:
                raise UsageError(f"similarity takes 2 words, got {len(pair)}")
            res.terms = terms_of(found, directed=True)
            u, v = (t.unit() for t in res.terms)
            res.score = min(1.0, max(-1.0, float(np.dot(u, v))))  # float32 rounding: not 1.0000001
        except EmbError as exc:
            res.error = exc
        results.append(res)
    return results


def vectors(model: ModelFolder, queries: Sequence[str], normalize: bool = False) -> list[VectorResult]:
    """The vector of each word: raw as stored (or from n-grams), or of unit length."""
    results = []
    for q, found in zip(queries, lookup_many(model, queries)):
        res = VectorResult(q)
        try:
            (res.term,) = terms_of([found], directed=normalize)
            res.vector = res.term.unit() if normalize else np.asarray(res.term.vector, dtype=np.float32)
        except EmbError as exc:
            res.error = exc
        results.append(res)
    return results


# --------------------------------------------------------------------- vectors and free arithmetic


def query_vector(model: ModelFolder, vector, what: str = "query vector") -> np.ndarray:
    """``vector`` as a float32 array of the model's dimension, or a ``UsageError`` saying what is wrong."""
    try:
        out = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError):
        raise UsageError(f"{what}: not a vector of numbers") from None
    if out.ndim != 1 or out.shape[0] != model.dim:
        shape = " x ".join(str(n) for n in out.shape) or "a scalar"
        raise UsageError(f"{what} has dimension {shape} but model {model.name!r} has {model.dim}: give {model.dim} numbers")
    if not np.all(np.isfinite(out)):
        raise UsageError(f"{what} holds NaN or infinite values")
    return out


@names_damage
def neighbors_of_vectors(
    model: ModelFolder,
    vectors: Sequence,
    k: int = 10,
    metric: str = "cosine",
    restrict: int | None = None,
    exact: bool = False,
) -> list[list[Hit]]:
    """The k nearest words of each query vector (nothing excluded), in one pass for all.

    Scores as in ``neighbors``; with ``cosine`` a zero vector is refused (it has no direction).
    """
    _check_k(k, restrict)
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    qv = np.stack([query_vector(model, v) for v in vectors]) if len(vectors) else np.zeros((0, model.dim), np.float32)
    if metric == "cosine":
        # In float64: the squares of values past about 1e19 overflow float32 (a length of inf, a unit of 0).
        wide = qv.astype(np.float64)
        norms = np.linalg.norm(wide, axis=1)
        if not np.all(norms > 0):
            raise UsageError("a query vector is all zeros: it has no direction to compare")
        qv = (wide / norms[:, None]).astype(np.float32)
    if not len(qv):
        return []
    out: list[list[Hit]] = []
    step = queries_per_pass(model, k, restrict)
    for at in range(0, len(qv), step):
        part = qv[at : at + step]
        exclude = np.full((len(part), 1), -1, dtype=np.int64)
        if metric == "cosine":
            rows, scores = _cosine_topk(model, part, k, restrict, exclude, exact)
        else:
            rows, scores = topk(model.vectors, model.norms, part, k, restrict, metric, exclude)
        out.extend(_hits(model, rows[i], scores[i]) for i in range(len(part)))
    return out


def weighted_mean(model: ModelFolder, items: Sequence[tuple[object, float]]) -> tuple[np.ndarray, list[Term]]:
    """The unit-length weighted mean of words (as unit vectors) and raw vectors, as gensim's
    ``get_mean_vector(..., pre_normalize=True, post_normalize=True)``; and the word terms used."""
    total = np.zeros(model.dim, dtype=np.float32)
    weight_sum = 0.0
    terms: list[Term] = []
    words = [item for item, _ in items if isinstance(item, str)]
    found = iter(lookup_many(model, words))
    for item, weight in items:
        if isinstance(item, str):
            term = next(found)
            if isinstance(term, EmbError):
                raise term
            check_direction(term)
            terms.append(term)
            vec = term.unit()
        else:
            vec = query_vector(model, item)
        total += np.float32(weight) * vec
        weight_sum += abs(weight)
    if weight_sum > 0:
        total = total / np.float32(weight_sum)
    total = total.astype(np.float64)  # its length in float64: squares past about 1e19 overflow float32
    norm = np.linalg.norm(total)
    if not norm > 0:
        raise UsageError("the words and vectors add up to a zero vector: there is no direction to search")
    return (total / norm).astype(np.float32), terms


@names_damage
def most_similar(
    model: ModelFolder,
    positive: Sequence = (),
    negative: Sequence = (),
    k: int = 10,
    restrict: int | None = None,
) -> list[Hit]:
    """gensim's ``most_similar(positive, negative, topn=k)``: the words nearest (cosine) to the mean
    of the positive items minus the negative ones; items are words (taken at unit length) or raw
    vectors, weighted +1 and -1; the input words are never answers."""
    _check_k(k, restrict)
    if not len(positive):
        raise UsageError("give at least one positive word or vector (the words to add)")
    items = [(p, 1.0) for p in positive] + [(n, -1.0) for n in negative]
    mean, terms = weighted_mean(model, items)
    exclude = _exclude([terms]) if terms else np.full((1, 1), -1, dtype=np.int64)
    rows, scores = topk(model.vectors, model.norms, mean[None, :], k, restrict, "cosine", exclude)
    return _hits(model, rows[0], scores[0])


def rank_by_centrality(model: ModelFolder, words: Sequence[str]) -> list[tuple[float, str]]:
    """gensim's ``rank_by_centrality``: (cosine to the mean of the unit vectors, word), most central
    first; the last is gensim's ``doesnt_match``. Every word must be known (FastText: or built)."""
    if len(words) < 2:
        raise UsageError(f"doesnt-match takes at least 2 words, got {len(words)}")
    found = lookup_many(model, list(words))
    terms = terms_of(found, directed=True)
    units = np.stack([t.unit() for t in terms])
    mean = units.mean(axis=0)
    mean = (mean / np.linalg.norm(mean)).astype(np.float32)
    dists = units @ mean
    return sorted(((float(d), t.text) for d, t in zip(dists, terms)), reverse=True)
