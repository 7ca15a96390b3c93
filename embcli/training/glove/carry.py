"""GloVe's co-occurrence counts carried in a model's training state, so that ``--continue`` fits the
counts of all the text seen so far, not those of the new text alone.

The state holds every unordered pair of words once: ``state/cooc.pairs.npy`` (int32 [n, 2], a <= b,
the model's word ids) and ``state/cooc.x.npy`` (float32 [n], the pair's count, weighted 1/d as
counted). Continuing adds each saved count to the new text's count of the same pair
(``add_saved``) and fits the new text's pairs only, so the time still follows the new text; the pairs
the new text lacks keep their fit from the saved model. The new model's state holds the pairs of
both (``state_entries``): what counting the old and the new text together gives, for the words the
saved model had (a word that joins the vocabulary now was not counted in the old text).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Entries handled at a time: a few tens of MB of keys and positions.
BLOCK = 1 << 21


@dataclass
class Saved:
    """The saved pairs in the new vocabulary's ids: sorted keys ``a * vocab + b`` (a <= b), their
    counts, and which of them the new text also has."""

    keys: np.ndarray
    x: np.ndarray
    used: np.ndarray
    vocab: int

    @property
    def pairs(self) -> int:
        return int(self.keys.shape[0])


def saved_entries(pairs: np.ndarray, xs: np.ndarray, source: np.ndarray) -> Saved:
    """The saved pairs (saved word ids) in the ids of the new vocabulary, where ``source[i]`` is the
    saved id of word i (-1 for a word new to the model)."""
    vocab = int(source.shape[0])
    new_id = np.full(int(source.max(initial=-1)) + 1, -1, dtype=np.int64)
    known = np.flatnonzero(source >= 0)
    new_id[source[known]] = known
    keys = np.empty(pairs.shape[0], dtype=np.int64)
    for lo in range(0, pairs.shape[0], BLOCK):
        part = np.asarray(pairs[lo : lo + BLOCK])
        a, b = new_id[part[:, 0]], new_id[part[:, 1]]
        keys[lo : lo + part.shape[0]] = np.minimum(a, b) * vocab + np.maximum(a, b)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    x = np.asarray(xs, dtype=np.float32)[order]
    return Saved(keys, x, np.zeros(keys.shape[0], dtype=bool), vocab)


def _keys(pairs: np.ndarray, vocab: int) -> np.ndarray:
    a, b = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    return np.minimum(a, b) * vocab + np.maximum(a, b)


def add_saved(pairs: np.ndarray, xs: np.ndarray, saved: Saved) -> int:
    """Add to the count of every entry (a, b) (either order) the saved count of its pair, in place;
    mark those saved pairs as used; return how many entries had one."""
    if saved.pairs == 0:
        return 0
    matched = 0
    for lo in range(0, pairs.shape[0], BLOCK):
        hi = min(lo + BLOCK, pairs.shape[0])
        keys = _keys(np.asarray(pairs[lo:hi]), saved.vocab)
        pos = np.minimum(np.searchsorted(saved.keys, keys), saved.pairs - 1)
        hit = saved.keys[pos] == keys
        where = pos[hit]
        xs[lo:hi][hit] += saved.x[where]  # a view of the entries (memory-mapped): changed in place
        saved.used[where] = True
        matched += int(hit.sum())
    return matched


def state_entries(pairs: np.ndarray, xs: np.ndarray, saved: Saved | None = None) -> dict:
    """The co-occurrence state of a fitted model: its entries with a <= b (each pair once), and the
    saved pairs its text did not have."""
    firsts, counts = [], []
    for lo in range(0, pairs.shape[0], BLOCK):
        part = np.asarray(pairs[lo : lo + BLOCK])
        upper = part[:, 0] <= part[:, 1]
        firsts.append(part[upper])
        counts.append(np.asarray(xs[lo : lo + BLOCK])[upper])
    if saved is not None and saved.pairs:
        rest = saved.keys[~saved.used]
        firsts.append(np.stack([rest // saved.vocab, rest % saved.vocab], axis=1).astype(np.int32))
        counts.append(saved.x[~saved.used])
    out_pairs = np.concatenate(firsts) if firsts else np.zeros((0, 2), dtype=np.int32)
    out_x = np.concatenate(counts) if counts else np.zeros(0, dtype=np.float32)
    return {"cooc_pairs": out_pairs.astype(np.int32, copy=False), "cooc_x": out_x.astype(np.float32, copy=False)}
