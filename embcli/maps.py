"""2-D maps of words: which words, their projection, two models aligned, which labels fit.

Words are taken from a list, the most frequent rows, or a word and its neighbours; their unit
vectors are projected to two dimensions by PCA (exact: an SVD of the centred matrix), t-SNE
(scikit-learn) or UMAP (umap-learn), seeded so that a map is the same on every run. Two models are
compared after rotating the second onto the first by orthogonal Procrustes on the words they share.
``place_labels`` keeps the labels that do not overlap, most frequent first. Nothing here draws:
``embcli.render`` turns a ``WordMap`` into PNG, SVG or HTML.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from embcli.clusters import kmeans, unit_rows
from embcli.errors import UnknownWordError, UsageError, check_seed
from embcli.extras import require
from embcli.folder import ModelFolder
from embcli.lookup import lookup_many
from embcli.query import neighbors

METHODS = ("pca", "tsne", "umap")
MIN_WORDS = 3
DEFAULT_TOP = 300
# t-SNE and UMAP of more points than this take minutes: refused with a hint rather than left to run.
MAX_EMBED = 20_000
# Above this many words the HTML's hover text leaves out the nearest words (a search per word).
HOVER_NEIGHBOURS_UP_TO = 5_000
TSNE_ITERATIONS = 500
# Words whose vectors fit Procrustes: the most frequent shared words, at most this many.
ALIGN_WORDS = 20_000


@dataclass
class Selection:
    """Words of one model and their unit vectors (rows are None for FastText's unseen words)."""

    words: list[str]
    units: np.ndarray = field(repr=False)
    rows: list[int | None]
    counts: list[int | None]
    unknown: list[str] = field(default_factory=list)
    center: str | None = None


@dataclass
class Panel:
    """One model's projection of the words: a title and an [n, 2] array of coordinates."""

    title: str
    xy: np.ndarray = field(repr=False)


@dataclass
class WordMap:
    """Everything a picture of words needs; ``notes`` are messages for the person who asked."""

    words: list[str]
    panels: list[Panel]
    counts: list[int | None]
    method: str
    clusters: np.ndarray | None = None
    neighbours: list[list[str]] | None = None
    moved: list[tuple[str, float]] | None = None
    center: str | None = None
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------- which words


def _counts(model: ModelFolder, rows: Sequence[int | None]) -> list[int | None]:
    if model.counts is None:
        return [None] * len(rows)
    return [None if r is None else int(model.counts[r]) for r in rows]


def from_words(model: ModelFolder, texts: Sequence[str]) -> Selection:
    """The words of ``texts`` the model has a vector for (each once); the others in ``unknown``."""
    words, vectors, rows, unknown, seen = [], [], [], [], set()
    for text, term in zip(texts, lookup_many(model, texts)):
        if isinstance(term, Exception):
            if text not in unknown:
                unknown.append(text)
            continue
        if term.word in seen:
            continue
        seen.add(term.word)
        words.append(term.word)
        vectors.append(term.unit() if term.norm > 0 else np.zeros(model.dim, np.float32))
        rows.append(term.index)
    if not words:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise UnknownWordError(f"none of the words is in model {model.name!r} ({shown}): check the words or the model")
    units = np.stack(vectors).astype(np.float32)
    return Selection(words, units, rows, _counts(model, rows), unknown)


def from_top(model: ModelFolder, top: int) -> Selection:
    """The ``top`` most frequent words."""
    if top < 1:
        raise UsageError(f"--top must be at least 1 (got {top})")
    n = min(top, model.vocab_size)
    rows = list(range(n))
    return Selection(model.words[:n], unit_rows(model, slice(0, n)), rows, _counts(model, rows))


def from_neighbours(model: ModelFolder, word: str, k: int) -> Selection:
    """``word`` and its ``k`` nearest neighbours."""
    if k < 1:
        raise UsageError(f"-k must be at least 1 (got {k})")
    result = neighbors(model, [word], k=k)[0]
    if result.error is not None:
        raise result.error
    selection = from_words(model, [result.terms[0].word] + [h.word for h in result.hits])
    selection.center = result.terms[0].word
    return selection


def read_words_file(path: str) -> list[str]:
    """The words of a file: whitespace-separated, any number a line (``-`` reads stdin)."""
    import sys

    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file: check the path given to --file") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder: --file takes a text file of words") from None
    return text.split()


def select(model: ModelFolder, words: Sequence[str] | None = None, top: int | None = None,
           neighbours_of: str | None = None, k: int = 30) -> Selection:
    """Words to map: a list, the ``top`` most frequent, or a word and its ``k`` neighbours.

    With none of the three, the ``DEFAULT_TOP`` most frequent words.
    """
    given = sum([bool(words), top is not None, neighbours_of is not None])
    if given > 1:
        raise UsageError("give words (or --file), --top or --neighbors-of, not several")
    if words:
        selection = from_words(model, words)
    elif neighbours_of is not None:
        selection = from_neighbours(model, neighbours_of, k)
    else:
        selection = from_top(model, DEFAULT_TOP if top is None else top)
    if len(selection.words) < MIN_WORDS:
        raise UsageError(
            f"a map needs at least {MIN_WORDS} words, found {len(selection.words)} in model {model.name!r}:"
            " give more words"
        )
    return selection


# -------------------------------------------------------------------------------------- projection


def pca(units: np.ndarray) -> np.ndarray:
    """The first two principal components, exact, signs fixed so a map never flips.

    The top eigenvectors of the d x d covariance (or of the n x n Gram matrix when there are fewer
    words than dimensions) in float64: the same components as an SVD of the centred matrix, several
    times faster for a few thousand words.
    """
    from scipy.linalg import eigh

    x = np.asarray(units, dtype=np.float64)
    x = x - x.mean(axis=0)
    n, d = x.shape
    m = min(n, d)
    if m < 2:
        return np.zeros((n, 2))
    if d <= n:
        _, vecs = eigh(x.T @ x, subset_by_index=[d - 2, d - 1])
        xy = x @ vecs[:, ::-1]
    else:
        vals, vecs = eigh(x @ x.T, subset_by_index=[n - 2, n - 1])
        xy = vecs[:, ::-1] * np.sqrt(np.maximum(vals[::-1], 0.0))
    # The sign of a component is arbitrary: make the largest coordinate of each positive.
    big = np.argmax(np.abs(xy), axis=0)
    signs = np.sign(xy[big, [0, 1]])
    signs[signs == 0] = 1
    return xy * signs


def _tsne(units: np.ndarray, seed: int) -> np.ndarray:
    TSNE = require("sklearn.manifold", extra="plot", feature="--method tsne").TSNE
    n = len(units)
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
    # 500 iterations (250 of them early exaggeration) rather than scikit-learn's 1,000: half the time.
    # On the 2,000 most frequent words of a word2vec model of the sample corpus, the map keeps as much
    # of the space: trustworthiness@10 0.930 against 0.931 (1,000) and 0.931 (750); the share of each
    # word's 10 nearest words that are among its 10 nearest on the map 0.382 against 0.386 and 0.385.
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, max_iter=TSNE_ITERATIONS,
                learning_rate="auto", metric="cosine").fit_transform(units.astype(np.float32))


def exact_knn(units: np.ndarray, k: int, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows (itself first) and their Euclidean distances, for unit rows."""
    n = len(units)
    rows = np.empty((n, k), dtype=np.int64)
    dists = np.empty((n, k), dtype=np.float32)
    for a in range(0, n, block):
        sims = units[a : a + block] @ units.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        best = np.take_along_axis(sims, part, 1)
        order = np.argsort(-best, axis=1, kind="stable")
        rows[a : a + block] = np.take_along_axis(part, order, 1)
        dists[a : a + block] = np.sqrt(np.maximum(2.0 - 2.0 * np.take_along_axis(best, order, 1), 0.0))
    return rows, dists


def _umap(units: np.ndarray, seed: int) -> np.ndarray:
    umap = require("umap", extra="plot", feature="--method umap")
    import warnings

    n = len(units)
    k = min(15, n - 1)
    units = units.astype(np.float32)
    # The exact neighbour graph of the unit vectors (cosine order), so UMAP need not approximate it.
    knn = exact_knn(units, k)
    with warnings.catch_warnings():
        # umap says that a seed turns its parallel steps off: that is the point of the seed.
        warnings.simplefilter("ignore")
        reducer = umap.UMAP(n_components=2, n_neighbors=k, random_state=seed, precomputed_knn=(*knn, None),
                            init="spectral" if n > 16 else "random")
        return reducer.fit_transform(units)


def project(units: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """[n, 2] coordinates of the rows of ``units`` by PCA, t-SNE or UMAP."""
    check_seed(seed)
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    n = len(units)
    if n < MIN_WORDS:
        raise UsageError(f"a map needs at least {MIN_WORDS} words, got {n}")
    if method == "pca":
        return pca(units)
    if n > MAX_EMBED:
        raise UsageError(
            f"--method {method} of {n:,} words would take many minutes: map at most {MAX_EMBED:,} words"
            " (--top) or use --method pca"
        )
    xy = _tsne(units, seed) if method == "tsne" else _umap(units, seed)
    return np.asarray(xy, dtype=np.float64)


# ------------------------------------------------------------------------------- two models aligned


def _padded(units: np.ndarray, dim: int) -> np.ndarray:
    if units.shape[1] == dim:
        return units
    return np.hstack([units, np.zeros((len(units), dim - units.shape[1]), dtype=units.dtype)])


def procrustes_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The orthogonal matrix R that brings ``b`` nearest ``a`` (min ||b R - a||), same row order."""
    from scipy.linalg import orthogonal_procrustes

    rotation, _ = orthogonal_procrustes(np.asarray(b, np.float64), np.asarray(a, np.float64))
    return rotation


def align(model_a: ModelFolder, model_b: ModelFolder, selection: Selection, fit_words: int = ALIGN_WORDS):
    """Rotate ``model_b`` onto ``model_a`` by orthogonal Procrustes on their shared frequent words.

    Returns (selection restricted to words both models have, A's unit vectors, B's rotated unit
    vectors, words only A has). Models of different dimensions are padded with zeros to the larger.
    """
    n_fit = min(fit_words, model_a.vocab_size)
    fit_rows_b = model_b.index_many(model_a.words[:n_fit])
    pairs = [(i, j) for i, j in enumerate(fit_rows_b) if j is not None]
    if len(pairs) < MIN_WORDS:
        raise UsageError(
            f"models {model_a.name!r} and {model_b.name!r} share {len(pairs)} of A's {n_fit:,} most frequent"
            " words: too few to align them; compare models of the same language and tokenizer"
        )
    dim = max(model_a.dim, model_b.dim)
    ia = np.array([p[0] for p in pairs])
    jb = np.array([p[1] for p in pairs])
    rotation = procrustes_rotation(_padded(unit_rows(model_a, ia), dim), _padded(unit_rows(model_b, jb), dim))
    rows_b = model_b.index_many(selection.words)
    keep = [i for i, r in enumerate(rows_b) if r is not None]
    only_a = [selection.words[i] for i, r in enumerate(rows_b) if r is None]
    if len(keep) < MIN_WORDS:
        raise UsageError(
            f"only {len(keep)} of the words are in both models: a comparison needs at least {MIN_WORDS}"
        )
    kept = Selection(
        [selection.words[i] for i in keep], selection.units[keep], [selection.rows[i] for i in keep],
        [selection.counts[i] for i in keep], selection.unknown, selection.center,
    )
    ua = _padded(kept.units.astype(np.float64), dim)
    ub = _padded(unit_rows(model_b, np.array([rows_b[i] for i in keep])).astype(np.float64), dim) @ rotation
    return kept, ua, ub, only_a


def moved_most(words: Sequence[str], ua: np.ndarray, ub: np.ndarray) -> list[tuple[str, float]]:
    """Words by the cosine distance between their two aligned vectors, largest first."""
    cos = np.einsum("ij,ij->i", ua, ub) / np.maximum(
        np.linalg.norm(ua, axis=1) * np.linalg.norm(ub, axis=1), 1e-12
    )
    distance = 1.0 - cos
    order = np.argsort(-distance, kind="stable")
    return [(words[i], float(distance[i])) for i in order.tolist()]


# ------------------------------------------------------------------------------------------ labels


def text_width(text: str) -> float:
    """A label's width in ems: wide (CJK) characters one em, others about 0.62."""
    width = 0.0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.62
    return width


def _cells(a0: float, b0: float, a1: float, b1: float, cell: float):
    for cx in range(int(a0 // cell), int(a1 // cell) + 1):
        for cy in range(int(b0 // cell), int(b1 // cell) + 1):
            yield cx, cy


# Beyond this many points every label would cover some point: only label-label overlaps are checked.
AVOID_POINTS_UP_TO = 20_000


def place_labels(xy: np.ndarray, sizes: np.ndarray, order: Sequence[int] | None = None,
                 pad: float = 1.0, point: float = 0.0, try_left: bool = False):
    """Which labels to draw so that none overlaps another: a greedy pass in ``order``.

    ``xy`` are the anchor points in display units; a label's box starts just right of its point
    and is ``sizes[i] = (width, height)``. With ``point`` (a marker's radius) a label may not cover
    another word's point either (up to ``AVOID_POINTS_UP_TO`` points). With ``try_left`` a label
    that does not fit on the right is tried on the left of its point, and the result is (keep,
    left): two boolean arrays. Boxes are kept in a grid of cells, so each test looks at a few
    neighbours only: a pass over 100,000 labels takes seconds.
    """
    n = len(xy)
    keep = np.zeros(n, dtype=bool)
    left = np.zeros(n, dtype=bool)
    if n == 0:
        return (keep, left) if try_left else keep
    order = range(n) if order is None else order
    boxes: dict[int, tuple[float, float, float, float]] = {}
    cell = max(float(np.median(sizes[:, 0])), float(np.max(sizes[:, 1])), 1e-9)
    grid: dict[tuple[int, int], list[int]] = {}
    points: dict[tuple[int, int], list[int]] = {}
    if point > 0 and n <= AVOID_POINTS_UP_TO:
        for j, (px, py) in enumerate(xy.tolist()):
            points.setdefault((int(px // cell), int(py // cell)), []).append(j)
    r = point
    px, py = xy[:, 0].tolist(), xy[:, 1].tolist()

    def fits(i: int, a0: float, b0: float, a1: float, b1: float) -> bool:
        cells = list(_cells(a0 - r, b0 - r, a1 + r, b1 + r, cell))
        for c in cells:
            for j in grid.get(c, ()):
                c0, d0, c1, d1 = boxes[j]
                if a0 < c1 and c0 < a1 and b0 < d1 and d0 < b1:
                    return False
        for c in cells:
            for j in points.get(c, ()):
                if j != i and a0 < px[j] + r and px[j] - r < a1 and b0 < py[j] + r and py[j] - r < b1:
                    return False
        return True

    for i in order:
        w, h = float(sizes[i, 0]), float(sizes[i, 1])
        y0, y1 = py[i] - h / 2, py[i] + h / 2
        sides = [(px[i] + 2 * pad, px[i] + 2 * pad + w, False)]
        if try_left:
            sides.append((px[i] - 2 * pad - w, px[i] - 2 * pad, True))
        for x0, x1, on_left in sides:
            if fits(i, x0 - pad, y0 - pad, x1 + pad, y1 + pad):
                keep[i], left[i] = True, on_left
                boxes[i] = (x0, y0, x1, y1)
                for c in _cells(x0, y0, x1, y1, cell):
                    grid.setdefault(c, []).append(i)
                break
    return (keep, left) if try_left else keep


def label_order(counts: Sequence[int | None], center: int | None = None) -> list[int]:
    """Labels by priority: the centre word, then the most frequent (vocabulary order otherwise)."""
    order = sorted(range(len(counts)), key=lambda i: (-(counts[i] or 0), i))
    if center is not None:
        order.remove(center)
        order.insert(0, center)
    return order


# --------------------------------------------------------------------------------------- the whole


def build_map(models: Sequence[ModelFolder], words: Sequence[str] | None = None, top: int | None = None,
              neighbours_of: str | None = None, k: int = 30, method: str = "pca", seed: int = 0,
              clusters: int | None = None, hover_neighbours: int = 0) -> WordMap:
    """A map of words of one model, or of two models aligned by Procrustes (same words in both).

    ``clusters`` colours the words by k-means into that many clusters; ``hover_neighbours`` finds
    each word's nearest words in its model (for the HTML's hover text).
    """
    if not 1 <= len(models) <= 2:
        raise UsageError(f"a map shows one or two models, got {len(models)}")
    check_seed(seed)
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    first = models[0]
    selection = select(first, words, top, neighbours_of, k)
    notes = []
    if len(models) == 1:
        xy = project(selection.units, method, seed)
        panels = [Panel(first.name, xy)]
        units, moved = selection.units, None
    else:
        second = models[1]
        selection, ua, ub, only_a = align(first, second, selection)
        if only_a:
            shown = ", ".join(only_a[:10]) + (" ..." if len(only_a) > 10 else "")
            notes.append(f"{len(only_a):,} word(s) not in model {second.name!r}, left out: {shown}")
        n = len(selection.words)
        both = project(np.vstack([ua, ub]), method, seed)  # one projection: the panels share axes
        panels = [Panel(first.name, both[:n]), Panel(second.name, both[n:])]
        units, moved = selection.units, moved_most(selection.words, ua, ub)
    labels = None
    if clusters is not None:
        labels, _, _ = kmeans(units, min(clusters, len(selection.words)), seed)
    near = None
    if hover_neighbours > 0 and len(selection.words) > HOVER_NEIGHBOURS_UP_TO:
        notes.append(
            f"nearest words are shown on hover for maps of up to {HOVER_NEIGHBOURS_UP_TO:,} words;"
            f" this one has {len(selection.words):,}"
        )
    elif hover_neighbours > 0:
        near = []
        for r in neighbors(first, selection.words, k=hover_neighbours):
            near.append([h.word for h in r.hits])
    return WordMap(selection.words, panels, selection.counts, method, labels, near, moved,
                   selection.center, selection.unknown, notes)
