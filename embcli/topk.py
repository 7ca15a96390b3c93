"""Exact top-k search over a memory-mapped matrix: neighbours and analogies for batches of queries.

The matrix's rows are read in blocks, each block is multiplied with all the query vectors at once,
and a running top-k per query keeps only the rows that beat its current k-th score. Scores follow
gensim's definitions (``most_similar``, ``most_similar_cosmul``), so the answers agree with gensim's.
These functions take arrays, not words: ``embcli.query`` (commands) and ``embcli.evaluation`` (batch
analogy accuracy) both call them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from embcli.errors import UsageError, damaged_rows
from embcli.names import METHODS, METRICS

__all__ = ["METHODS", "METRICS", "analogy_topk", "analogy_topk_rows", "topk"]
# Scores held per block (float32): bounds the memory of a batch whatever its size.
_BLOCK_CELLS = 1 << 24
# The first block is small so that ranking it fully is cheap; its k-th score then filters the next,
# which is _GROWTH times larger, and so on up to the full block size: few candidates ever need sorting.
_FIRST_ROWS = 32
_GROWTH = 8
_MAX_ROWS = 1 << 21


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values of ascending ``values``, each once, ascending: ``np.unique`` of a sorted
    array without its import of numpy.ma, which a cold query would pay for."""
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


class _TopK:
    """A running top-k per query over blocks of scores (higher is better)."""

    def __init__(self, nq: int, k: int):
        self.k = k
        self.scores = np.full((nq, k), -np.inf, dtype=np.float32)
        self.rows = np.full((nq, k), -1, dtype=np.int64)
        self.floor = np.full((nq, 1), -np.inf, dtype=np.float32)

    def add(self, block: np.ndarray, start: int) -> None:
        """Merge a [Q, B] block of scores for rows ``start..start+B`` (NaN never enters)."""
        nq, width = block.shape
        hit = np.flatnonzero(block > self.floor)
        if hit.size == 0:
            return
        k = self.k
        # Only the queries with new candidates are merged: their current k, then the candidates.
        owners = hit // width  # ascending, as ``hit`` is
        active = distinct_sorted(owners)
        slot = np.zeros(nq, dtype=np.int64)
        slot[active] = np.arange(len(active))
        owner = np.concatenate([np.repeat(np.arange(len(active)), k), slot[owners]])
        score = np.concatenate([self.scores[active].ravel(), block.ravel()[hit]])
        row = np.concatenate([self.rows[active].ravel(), hit % width + start])
        # By query, then score descending, then row ascending (a stable choice among equal scores).
        order = np.lexsort((row, -score, owner))
        owner, score, row = owner[order], score[order], row[order]
        counts = np.bincount(owner, minlength=len(active))
        first = np.cumsum(counts) - counts
        pos = np.arange(owner.size) - first[owner]
        keep = pos < k
        self.scores[active[owner[keep]], pos[keep]] = score[keep]
        self.rows[active[owner[keep]], pos[keep]] = row[keep]
        self.floor[active, 0] = self.scores[active, -1]


def _scan(
    stop: int,
    nq: int,
    k: int,
    block_scores: Callable[[int, int], np.ndarray],
    exclude: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``block_scores(start, end)`` over rows ``0..stop`` and keep each query's best k."""
    k = max(1, min(k, stop))
    top = _TopK(nq, k)
    rows_per_block = int(min(_MAX_ROWS, max(1024, _BLOCK_CELLS // max(nq, 1))))
    start, size = 0, _FIRST_ROWS
    while start < stop:
        end = min(stop, start + min(size, rows_per_block))
        size *= _GROWTH
        block = np.ascontiguousarray(block_scores(start, end), dtype=np.float32)
        if exclude is not None:
            q, j = np.nonzero((exclude >= start) & (exclude < end))
            block[q, exclude[q, j] - start] = -np.inf
        top.add(block, start)
        start = end
    return top.rows, top.scores


class _Scratch:
    """Reusable work arrays: a fresh 64 MB array per block would cost a page fault per 4 KB."""

    def __init__(self):
        self._flat: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, int]) -> np.ndarray:
        size = shape[0] * shape[1]
        flat = self._flat.get(name)
        if flat is None or flat.size < size:
            flat = self._flat[name] = np.empty(size, dtype=np.float32)
        return flat[:size].reshape(shape)


def _products(vectors: np.ndarray, queries: np.ndarray, scratch: _Scratch, start: int, end: int) -> np.ndarray:
    """``queries @ vectors[start:end].T`` into a reused [Q, B] array."""
    out = scratch.get("scores", (len(queries), end - start))
    with np.errstate(invalid="ignore", over="ignore"):
        if not isinstance(vectors, np.ndarray):
            # Compressed rows (embcli.folder.storage.StoredRows) are decoded a block at a time.
            out = vectors.products(queries, start, end, out)
        else:
            out = np.matmul(queries, vectors[start:end].T, out=out)
    fine = np.isfinite(out)
    if not fine.all():
        # Every row emb writes is finite: a row holding NaN or an infinity (a non-finite product with
        # every finite query) was damaged later, and leaving it out would answer without saying so.
        # A finite row's product can still overflow float32 (values near 1e19 and more, raw dot
        # products): that is the query's arithmetic, not damage. A query that is not finite itself
        # (a zero vector's direction) just finds nothing.
        bad = ~fine[np.isfinite(queries).all(axis=1)].all(axis=0)
        if bad.any():
            row = start + int(np.flatnonzero(bad)[0])
            if np.isfinite(np.asarray(vectors[row], dtype=np.float32)).all():
                raise UsageError(f"the scores overflow float32 (row {row + 1} and the query hold values too large"
                                 " to multiply): use --metric cosine, or scale the vectors down")
            raise damaged_rows(row)
    return out


def _cosine_blocks(vectors: np.ndarray, norms: np.ndarray, units: np.ndarray):
    """Cosine of every row with each unit query vector, as gensim computes it: dot / row norm."""
    scratch = _Scratch()

    def block(start: int, end: int) -> np.ndarray:
        # Always the product divided by the norm, as gensim and the int8 prefilter's rescoring
        # compute it: scaling the rows by reciprocals first would save a little time on large
        # batches but make scores (and the order of near-ties) differ between the two searches.
        scores = _products(vectors, units, scratch, start, end)
        with np.errstate(divide="ignore", invalid="ignore"):
            scores /= norms[start:end]
        return scores

    return block


def topk(
    vectors: np.ndarray,
    norms: np.ndarray,
    queries: np.ndarray,
    k: int,
    restrict: int | None = None,
    metric: str = "cosine",
    exclude: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best rows for each query vector: (rows [Q, k], scores [Q, k]), best first.

    ``queries`` is [Q, D]: unit vectors for ``cosine``, raw ones for ``dot`` and ``euclidean``.
    Only the first ``restrict`` rows are searched. ``exclude`` [Q, E] lists rows never to return
    (-1 pads). Scores are cosines, dot products, or Euclidean distances (smallest first). A row
    of -1 with score -inf (cosine, dot) or inf (euclidean) pads a query that has fewer than k answers.
    """
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    stop = len(vectors) if restrict is None else min(int(restrict), len(vectors))
    if metric == "cosine":
        block = _cosine_blocks(vectors, norms, queries)
    elif metric == "dot":
        scratch = _Scratch()

        def block(start: int, end: int) -> np.ndarray:
            return _products(vectors, queries, scratch, start, end)

    elif metric == "euclidean":
        scratch = _Scratch()

        # |r - q|^2 = |q|^2 - (2 r.q - |r|^2): rank by the bracket, highest first.
        def block(start: int, end: int) -> np.ndarray:
            scores = _products(vectors, queries, scratch, start, end)
            with np.errstate(over="ignore", invalid="ignore"):
                scores *= 2
                n = norms[start:end]
                scores -= n * n
            if not np.isfinite(scores).all():
                raise UsageError("the distances overflow float32 (rows of lengths past about 1e19): use --metric"
                                 " cosine, or scale the vectors down")
            return scores

    else:
        raise UsageError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    rows, scores = _scan(stop, len(queries), k, block, exclude)
    if metric == "euclidean":
        q2 = np.einsum("ij,ij->i", queries, queries)[:, None]
        scores = np.sqrt(np.maximum(q2 - scores, 0, dtype=np.float32), dtype=np.float32)
        scores[rows < 0] = np.inf
    return rows, scores


def analogy_topk(
    vectors: np.ndarray,
    norms: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    k: int,
    restrict: int | None = None,
    method: str = "add",
    exclude: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best answers to A - B + C for each row of the unit-vector batches ``a``, ``b``, ``c``.

    ``add`` is 3CosAdd: the cosine with the unit vector of (a - b + c), gensim's ``most_similar(
    positive=[A, C], negative=[B])``. ``mul`` is 3CosMul (Levy and Goldberg 2014), gensim's
    ``most_similar_cosmul``: cos' = (1 + cos) / 2, score = cos'(A) cos'(C) / (cos'(B) + 1e-6).
    Only the first ``restrict`` rows are searched; ``exclude`` [Q, E] rows are never returned.
    Returns (rows [Q, k], scores [Q, k]), best first.
    """
    a, b, c = (np.ascontiguousarray(np.atleast_2d(x), dtype=np.float32) for x in (a, b, c))
    stop = len(vectors) if restrict is None else min(int(restrict), len(vectors))
    nq = len(a)
    if method == "add":
        target = (a + c - b) / np.float32(3)
        with np.errstate(divide="ignore", invalid="ignore"):
            target /= np.linalg.norm(target, axis=1, keepdims=True)
        return _scan(stop, nq, k, _cosine_blocks(vectors, norms, target), exclude)
    if method != "mul":
        raise UsageError(f"unknown analogy method {method!r}: use one of {', '.join(METHODS)}")
    cosines = _cosine_blocks(vectors, norms, np.concatenate([a, c, b]))

    def block(start: int, end: int) -> np.ndarray:
        s = cosines(start, end)
        s += 1
        s /= 2
        pos_a, pos_c, neg_b = s[:nq], s[nq : 2 * nq], s[2 * nq :]
        pos_a *= pos_c
        neg_b += np.float32(1e-6)
        pos_a /= neg_b
        return pos_a

    return _scan(stop, nq, k, block, exclude)


def analogy_topk_rows(
    vectors: np.ndarray,
    norms: np.ndarray,
    triples: np.ndarray,
    k: int,
    restrict: int | None = None,
    method: str = "add",
) -> tuple[np.ndarray, np.ndarray]:
    """``analogy_topk`` for vocabulary rows: ``triples`` [Q, 3] holds the rows of A, B, C.

    The three query words are excluded from the answers. For an analogy file's line ``a b c d``
    (a is to b as c is to d), pass the rows of (b, a, c): gensim's ``evaluate_word_analogies`` asks
    ``most_similar(positive=[b, c], negative=[a])``.
    """
    triples = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        units = [vectors[triples[:, j]] / norms[triples[:, j], None] for j in range(3)]
    return analogy_topk(vectors, norms, *units, k=k, restrict=restrict, method=method, exclude=triples)
