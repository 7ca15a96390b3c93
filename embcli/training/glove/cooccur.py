"""Co-occurrence counting in bounded memory, from the tokenized corpus file.

The window is symmetric and weighted 1/d as Stanford's ``cooccur`` does, and stops at line ends.
Words outside the vocabulary are dropped before the window is applied. Pairs of frequent words are
counted in a dense triangle (row a holds columns a .. ~max_product / (a + 1)); the rest go to a hash
table of packed (a, b) keys. When the table is full its entries are sorted and spilled as a run to a
temporary folder, and the runs are merged pairwise at the end, so memory depends on ``--memory`` and
the vocabulary, never on the corpus length. The result is a pair of files, int32 (a, b) pairs and
their float32 counts, which the solver memory-maps: as in Stanford's ``cooccur`` output, X[a, b] and
X[b, a] are two records, so that shuffling separates them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embcli.errors import UsageError
from embcli.training.common import id_chunks

# Python-side buffers: a chunk of the tokenized file as str objects and its id array.
FIXED_BYTES = 32 << 20
PER_WORD_BYTES = 16
LOAD = 0.7
# A slot: int64 key + float64 value; growing holds the old table (half the size) beside the new one,
# spilling holds an int64 sort order for the used slots: both fit in 24 bytes a slot.
SLOT_BYTES = 24
MIN_SLOTS = 1 << 12
START_SLOTS = 1 << 20
DENSE_SHARE = 0.25
WRITE_BLOCK = 1 << 22


def human_memory(n_bytes: int) -> str:
    """A size for --memory, rounded up: 512K, 34M, 1.3G."""
    if n_bytes < 1e6:
        return f"{math.ceil(n_bytes / 1e3)}K"
    if n_bytes < 1e9:
        return f"{math.ceil(n_bytes / 1e6)}M"
    return f"{math.ceil(n_bytes / 1e8) / 10:g}G"


def minimum_slots(window: int) -> int:
    """The smallest hash table: one token must always fit (it adds up to ``window`` keys)."""
    return max(MIN_SLOTS, math.ceil(2 * window / LOAD))


def _grow(keys: np.ndarray, vals: np.ndarray, slots: int):
    """The table's entries rehashed into a new table of ``slots`` slots."""
    from embcli.training.glove.kernels import compact_table, rehash

    n = compact_table(keys, vals)
    new_keys = np.full(slots, -1, dtype=np.int64)
    new_vals = np.zeros(slots, dtype=np.float64)
    rehash(keys, vals, n, new_keys, new_vals)
    return new_keys, new_vals


def minimum_memory(vocab: int, window: int) -> int:
    """The smallest --memory in bytes that counts co-occurrences for ``vocab`` words."""
    return FIXED_BYTES + PER_WORD_BYTES * vocab + math.ceil(minimum_slots(window) * SLOT_BYTES)


def dense_layout(vocab: int, budget_entries: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the dense triangle: (offsets, lengths) for the largest max_product within the budget."""

    def lengths(max_product: int) -> np.ndarray:
        rows = np.arange(min(vocab, max(1, math.isqrt(max_product)) + 1), dtype=np.int64)
        lim = np.minimum(vocab, max_product // (rows + 1))
        return np.maximum(lim - rows, 0)

    full = vocab * (vocab + 1) // 2
    if full <= budget_entries:
        lens = np.arange(vocab, 0, -1, dtype=np.int64)
    else:
        lo, hi = 0, vocab * vocab
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if int(lengths(mid).sum()) <= budget_entries:
                lo = mid
            else:
                hi = mid - 1
        lens = lengths(lo)
        nonzero = np.flatnonzero(lens)
        lens = lens[: nonzero[-1] + 1] if nonzero.size else lens[:0]
    offs = np.zeros(len(lens), dtype=np.int64)
    if len(lens) > 1:
        np.cumsum(lens[:-1], out=offs[1:])
    return offs, lens


@dataclass
class Cooccurrences:
    """The counted entries on disk: ``pairs.bin`` (int32 [n, 2]) and ``x.bin`` (float32 [n]), one per ordered pair."""

    pairs_path: Path
    x_path: Path
    entries: int
    runs: int
    dense_entries: int
    table_slots: int

    def open(self) -> tuple[np.ndarray, np.ndarray]:
        """Memory-map the entries for reading and writing (the solver shuffles them in place)."""
        if self.entries == 0:
            return np.zeros((0, 2), dtype=np.int32), np.zeros(0, dtype=np.float32)
        pairs = np.memmap(self.pairs_path, dtype=np.int32, mode="r+", shape=(self.entries, 2))
        xs = np.memmap(self.x_path, dtype=np.float32, mode="r+", shape=(self.entries,))
        return pairs, xs


class EntryWriter:
    """Appends (a, b, x) blocks to the two entry files."""

    def __init__(self, folder: Path):
        self.pairs_path = folder / "pairs.bin"
        self.x_path = folder / "x.bin"
        self.pf = open(self.pairs_path, "wb")
        self.xf = open(self.x_path, "wb")
        self.n = 0

    def add(self, a: np.ndarray, b: np.ndarray, x: np.ndarray) -> None:
        """Write counts of pairs a <= b as records (a, b, x) and, off the diagonal, (b, a, x)."""
        off = a != b
        block = np.empty((len(a) + int(off.sum()), 2), dtype=np.int32)
        block[: len(a), 0] = a
        block[: len(a), 1] = b
        block[len(a) :, 0] = b[off]
        block[len(a) :, 1] = a[off]
        block.tofile(self.pf)
        np.concatenate([x, x[off]]).astype(np.float32).tofile(self.xf)
        self.n += len(block)

    def add_keys(self, keys: np.ndarray, vals: np.ndarray, vocab: int) -> None:
        for s in range(0, len(keys), WRITE_BLOCK):
            k = np.asarray(keys[s : s + WRITE_BLOCK])
            v = np.asarray(vals[s : s + WRITE_BLOCK])
            a, b = np.divmod(k, vocab)
            self.add(a, b, np.where(a == b, 2.0 * v, v))

    def close(self) -> None:
        self.pf.close()
        self.xf.close()


class _Runs:
    """Sorted runs of (key, value) spilled to disk, merged pairwise."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.runs: list[tuple[Path, Path, int]] = []
        self.serial = 0
        self.spills = 0

    def _paths(self) -> tuple[Path, Path]:
        self.serial += 1
        return self.folder / f"run{self.serial}.keys", self.folder / f"run{self.serial}.vals"

    def spill(self, keys: np.ndarray, vals: np.ndarray, n: int) -> None:
        kp, vp = self._paths()
        order = np.argsort(keys[:n])
        with open(kp, "wb") as kf, open(vp, "wb") as vf:
            for s in range(0, n, WRITE_BLOCK):
                idx = order[s : s + WRITE_BLOCK]
                keys[idx].tofile(kf)
                vals[idx].tofile(vf)
        del order
        self.runs.append((kp, vp, n))
        self.spills += 1

    def _map(self, run, mode="r"):
        kp, vp, n = run
        return np.memmap(kp, dtype=np.int64, mode=mode, shape=(n,)), np.memmap(vp, dtype=np.float64, mode=mode, shape=(n,))

    def merged(self):
        """Merge all runs into one; return its memory maps (keys, values)."""
        from embcli.training.glove.kernels import merge_runs

        while len(self.runs) > 1:
            ra, rb = self.runs.pop(0), self.runs.pop(0)
            ka, va = self._map(ra)
            kb, vb = self._map(rb)
            kp, vp = self._paths()
            size = ra[2] + rb[2]
            ko = np.memmap(kp, dtype=np.int64, mode="w+", shape=(size,))
            vo = np.memmap(vp, dtype=np.float64, mode="w+", shape=(size,))
            n = merge_runs(ka, va, kb, vb, ko, vo)
            ko.flush()
            vo.flush()
            del ka, va, kb, vb, ko, vo
            for path in (*ra[:2], *rb[:2]):
                os.unlink(path)
            self.runs.append((kp, vp, n))
        return self._map(self.runs[0])


def count_cooccurrences(
    corpus_path: Path,
    words: list[str],
    all_words,
    window: int,
    memory_gb: float,
    folder: Path,
    tokens: int,
) -> Cooccurrences:
    """Count the co-occurrences of ``words`` (ids by position) in the tokenized file at ``corpus_path``.

    ``all_words`` is every word of the corpus (those outside ``words`` are dropped); ``tokens`` is the
    corpus length, used only to avoid a hash table larger than the corpus could fill. Temporary runs
    and the result go into ``folder``.
    """
    from embcli.training.glove.kernels import LINE_BREAK, compact_table, count_pairs

    vocab = len(words)
    budget = int(memory_gb * 1e9)
    need = minimum_memory(vocab, window)
    if budget < need:
        raise UsageError(
            f"--memory {human_memory(budget)} cannot hold the co-occurrence counts of {vocab:,} words:"
            f" use --memory {human_memory(need)} or more"
        )
    avail = budget - FIXED_BYTES - PER_WORD_BYTES * vocab
    dense_off, dense_len = dense_layout(vocab, int(avail * DENSE_SHARE) // 8)
    dense_size = int(dense_len.sum())
    avail -= dense_size * 8
    # No more slots than the corpus could fill at the load limit, nor than there are pairs outside the dense part.
    possible = min(tokens * window, vocab * (vocab + 1) // 2 - dense_size)
    max_slots = max(int(min(avail // SLOT_BYTES, possible / LOAD + 1024)), minimum_slots(window))
    # The table starts small and doubles while the budget allows, then spills runs when full.
    slots = max(min(max_slots, START_SLOTS), minimum_slots(window))

    index = {w: vocab for w in all_words}
    index.update((w, i) for i, w in enumerate(words))
    index["\n"] = LINE_BREAK
    index[""] = vocab

    dense = np.zeros(dense_size, dtype=np.float64)
    keys = np.full(slots, -1, dtype=np.int64)
    vals = np.zeros(slots, dtype=np.float64)
    runs = _Runs(folder)
    used = 0
    for ids in id_chunks(corpus_path, index, vocab):
        pos, line_start = 0, 0
        while pos < len(ids):
            pos, line_start, used = count_pairs(
                ids, pos, line_start, window, vocab, dense, dense_off, dense_len, keys, vals, used,
                int(slots * LOAD),
            )
            if pos < len(ids):
                if 2 * slots <= max_slots:
                    slots *= 2
                    keys, vals = _grow(keys, vals, slots)
                else:
                    runs.spill(keys, vals, compact_table(keys, vals))
                    keys.fill(-1)
                    used = 0
    writer = EntryWriter(folder)
    try:
        for s in range(0, dense_size, WRITE_BLOCK):
            flat = s + np.flatnonzero(dense[s : s + WRITE_BLOCK])
            a = np.searchsorted(dense_off, flat, side="right") - 1
            b = a + (flat - dense_off[a])
            x = dense[flat]
            writer.add(a, b, np.where(a == b, 2.0 * x, x))
        del dense
        n = compact_table(keys, vals)
        if runs.runs:
            if n:
                runs.spill(keys, vals, n)
            del keys, vals
            mk, mv = runs.merged()
            writer.add_keys(mk, mv, vocab)
            del mk, mv
        else:
            writer.add_keys(keys[:n], vals[:n], vocab)
    finally:
        writer.close()
    for kp, vp, _ in runs.runs:
        os.unlink(kp)
        os.unlink(vp)
    return Cooccurrences(writer.pairs_path, writer.x_path, writer.n, runs.spills, dense_size, slots)
