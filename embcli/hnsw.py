"""An HNSW graph as emb keeps it (``.npy`` files, memory-mapped) and its search, in numpy.

faiss builds the graph (``embcli.ann``); ``from_faiss`` turns its arrays into two matrices that a
query reads a few rows of, without faiss:

- ``hnsw.base.npy``: int32 [N, 2M], the links of every node on the bottom level (-1 pads a short list);
- ``hnsw.upper.npy``: int32 [U, L, M], the links on levels 1..L of the U nodes that reach above the
  bottom, whose node ids ``hnsw.upper-ids.npy`` (int32 [U], ascending) lists; a node's rows past its
  own top level are -1.

A node is a row of the model. ``search`` is the usual HNSW search: a greedy walk down the upper levels
from the entry point, then a best-first search of the bottom level that keeps the ``ef`` best nodes
met. Scores come from a function the caller gives (the model's own rows: exact cosines for float32
rows, looked-up centroid products for PQ codes), so the search needs no copy of the vectors.

Why not faiss's or usearch's own search: a fresh ``emb neighbors`` would import the library (0.05 to
0.2 s) and open its index file (usearch's view visits every node: 0.035 s on a million), more than
the whole search here (measured in bench/compress.py --index). tests/test_ann.py checks this search
against faiss's on the same graph.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Callable

import numpy as np

Scores = Callable[[np.ndarray], np.ndarray]

BASE = "hnsw.base.npy"
UPPER = "hnsw.upper.npy"
UPPER_IDS = "hnsw.upper-ids.npy"
FILES = (BASE, UPPER, UPPER_IDS)


class Damaged(ValueError):
    """A link that points outside the graph: the files were changed since they were written."""


@dataclass
class Graph:
    base: np.ndarray  # int32 [N, 2M]
    upper: np.ndarray  # int32 [U, L, M]
    upper_ids: np.ndarray  # int32 [U]
    entry: int
    max_level: int

    @property
    def size(self) -> int:
        return len(self.base)

    def check(self) -> None:
        """Raise ``Damaged`` when the shapes or the entry point do not fit together."""
        n = len(self.base)
        ok = (
            self.base.ndim == 2 and self.upper.ndim == 3 and self.upper_ids.ndim == 1
            and len(self.upper) == len(self.upper_ids) and self.upper.shape[1] == self.max_level
            and all(a.dtype == np.int32 for a in (self.base, self.upper, self.upper_ids))
            and 0 <= self.entry < n and self.base.shape[1] >= 1
            and (self.max_level == 0 or (len(self.upper_ids) and self.upper.shape[2] >= 1))
        )
        if ok and len(self.upper_ids):  # (a few percent of the nodes: checked whole)
            ids = self.upper_ids
            ok = 0 <= int(ids[0]) and int(ids[-1]) < n and bool(np.all(ids[1:] > ids[:-1]))
        if not ok:
            raise Damaged("the graph's arrays do not fit together")

    def links(self, node: int, level: int) -> np.ndarray:
        """The nodes ``node`` links to on ``level`` (int64)."""
        if level == 0:
            row = self.base[node]
        else:
            at = int(np.searchsorted(self.upper_ids, node))
            if at >= len(self.upper_ids) or self.upper_ids[at] != node:
                return np.empty(0, dtype=np.int64)
            row = self.upper[at, level - 1]
        if len(row):
            top, low = int(row.max()), int(row.min())
            if top >= len(self.base) or low < -1:
                bad = top if top >= len(self.base) else low
                raise Damaged(f"node {node} links to {bad}, outside the graph's {len(self.base)} nodes")
        return row[row >= 0].astype(np.int64)


def from_faiss(levels: np.ndarray, offsets: np.ndarray, neighbors: np.ndarray, cum: list[int],
               entry: int, max_level: int, rows: np.ndarray | None = None, size: int = 0) -> Graph:
    """emb's graph from a faiss ``HNSW``'s arrays (``levels``: levels a node has; ``offsets``: where its
    links start in ``neighbors``; ``cum``: ``cum_nb_neighbors`` of levels 0..max_level + 1).

    ``rows`` (ascending) maps faiss's nodes to the rows of a ``size``-row model when faiss was given
    only those rows: the other rows are nodes without links, which no link reaches.
    """
    levels = np.asarray(levels)
    offsets = np.asarray(offsets, dtype=np.int64)
    neighbors = np.asarray(neighbors, dtype=np.int32)
    n = len(levels)
    wide = cum[1] - cum[0]
    base = neighbors[offsets[:n, None] + np.arange(wide)]
    upper_ids = np.flatnonzero(levels > 1).astype(np.int32)
    m = (cum[2] - cum[1]) if max_level > 0 else max(1, wide // 2)
    upper = np.full((len(upper_ids), max_level, m), -1, dtype=np.int32)
    for level in range(1, max_level + 1):
        at = np.flatnonzero(levels[upper_ids] > level)
        starts = offsets[upper_ids[at]] + cum[level]
        upper[at, level - 1] = neighbors[starts[:, None] + np.arange(m)]
    if rows is not None:
        to_row = np.append(np.asarray(rows, dtype=np.int32), np.int32(-1))  # (-1, the padding, stays -1)
        whole = np.full((size, wide), -1, dtype=np.int32)
        whole[rows] = to_row[base]
        base, upper, upper_ids, entry = whole, to_row[upper], to_row[upper_ids], int(to_row[entry])
    graph = Graph(np.ascontiguousarray(base), upper, upper_ids, int(entry), int(max_level))
    graph.check()
    return graph


def search(graph: Graph, scores: Scores, ef: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``ef`` best nodes the search meets (int64) and their scores, best first (higher is better;
    ``scores(nodes)`` gives the query's scores of int64 ``nodes``). Raises ``Damaged`` on a bad link."""
    cur = graph.entry
    best = float(scores(np.array([cur], dtype=np.int64))[0])
    for level in range(graph.max_level, 0, -1):
        while True:
            links = graph.links(cur, level)
            if not len(links):
                break
            s = scores(links)
            j = int(np.argmax(s))
            if not s[j] > best:
                break
            cur, best = int(links[j]), float(s[j])
    seen = np.zeros(graph.size, dtype=bool)
    seen[cur] = True
    todo = [(-best, cur)]  # the nodes to expand, best first
    kept = [(best, cur)]  # the ef best met, worst first
    while todo:
        negative, node = heapq.heappop(todo)
        if len(kept) >= ef and -negative < kept[0][0]:
            break
        links = graph.links(node, 0)
        links = links[~seen[links]]
        if not len(links):
            continue
        seen[links] = True
        for other, s in zip(links.tolist(), scores(links).tolist()):
            if len(kept) < ef:
                heapq.heappush(kept, (s, other))
            elif s > kept[0][0]:
                heapq.heapreplace(kept, (s, other))
            else:
                continue
            heapq.heappush(todo, (-s, other))
    kept.sort(key=lambda pair: (-pair[0], pair[1]))
    return (np.array([node for _, node in kept], dtype=np.int64),
            np.array([s for s, _ in kept], dtype=np.float32))
