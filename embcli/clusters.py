"""k-means clusters of a model's most frequent words.

The unit vectors are clustered (so Euclidean k-means ranks words as cosine does) by
scikit-learn's ``KMeans``: k-means++ seeding, a fixed ``random_state`` (the same clusters on every
run), and its compiled Lloyd iterations. scikit-learn is in the ``plot`` extra, which t-SNE needs as
well. A word's distance is its cosine distance to its cluster's centre (the mean direction).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from embcli.errors import UsageError, check_seed
from embcli.extras import require
from embcli.folder import ModelFolder


def unit_rows(model: ModelFolder, rows: np.ndarray | slice) -> np.ndarray:
    """The unit vectors of ``rows`` (zero vectors stay zero), float32."""
    vectors = np.asarray(model.vectors[rows], dtype=np.float32)
    norms = np.asarray(model.norms[rows], dtype=np.float32)[:, None]
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


@dataclass
class Clusters:
    """Words, their cluster numbers and cosine distances to their cluster's centre."""

    words: list[str]
    labels: np.ndarray
    distances: np.ndarray
    centers: np.ndarray = field(repr=False)
    counts: np.ndarray | None = field(default=None, repr=False)

    @property
    def k(self) -> int:
        return len(self.centers)

    def sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.k)

    def central(self, n: int = 8) -> list[list[str]]:
        """The ``n`` words nearest each cluster's centre, nearest first, cluster by cluster."""
        order = np.lexsort((self.distances, self.labels))
        out: list[list[str]] = [[] for _ in range(self.k)]
        for i in order.tolist():
            c = int(self.labels[i])
            if len(out[c]) < n:
                out[c].append(self.words[i])
        return out


def kmeans(units: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, cosine distances to the centre, unit centres) of k-means on unit vectors."""
    KMeans = require("sklearn.cluster", extra="plot", feature="clustering").KMeans

    n = len(units)
    if k < 1:
        raise UsageError(f"-k must be at least 1 (got {k})")
    if k > n:
        raise UsageError(f"-k {k} is more clusters than the {n} words: use a smaller -k or a larger --top")
    model = KMeans(n_clusters=k, n_init=1, random_state=seed, max_iter=100)
    labels = model.fit_predict(units.astype(np.float32, copy=False)).astype(np.int64)
    centers = np.asarray(model.cluster_centers_, dtype=np.float32)
    lengths = np.linalg.norm(centers, axis=1, keepdims=True)
    centers = np.divide(centers, lengths, out=np.zeros_like(centers), where=lengths > 0)
    cosines = np.einsum("ij,ij->i", units, centers[labels])
    return labels, np.clip(1.0 - cosines, 0.0, 2.0).astype(np.float32), centers


def cluster_model(model: ModelFolder, k: int = 100, top: int | None = 10_000, seed: int = 0) -> Clusters:
    """k-means of the unit vectors of the ``top`` most frequent words of ``model``."""
    check_seed(seed)
    if top is not None and top < 1:
        raise UsageError(f"--top must be at least 1 (got {top})")
    n = model.vocab_size if top is None else min(top, model.vocab_size)
    units = unit_rows(model, slice(0, n))
    labels, distances, centers = kmeans(units, k, seed)
    counts = None if model.counts is None else np.asarray(model.counts[:n])
    return Clusters(model.words[:n], labels, distances, centers, counts)
