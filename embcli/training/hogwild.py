"""Threads that stream slices of a file of word ids through a compiled kernel, sharing the matrices.

Used by emb's own FastText and Word2Vec trainers. The corpus is a temporary file of int32 word ids
(``common.write_ids``); thread t reads the t-th slice of it chunk by chunk and hands each chunk to
``step``, which trains on it without taking the GIL and updates the shared matrices without locks
(Hogwild). The main thread reports progress and stops every thread at its next chunk on Ctrl-C or
on an error in a thread.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from embcli.errors import raise_if_interrupted
from embcli.training.options import ProgressFn

# Ids a kernel call trains on: small enough that Ctrl-C and progress are prompt.
CHUNK = 1 << 16

# step(ids, done_before, thread) -> ids consumed (at least 1, at most len(ids)); ``done_before`` is
# how many ids every thread together had consumed when the chunk was read. With no ids a step does
# nothing and returns 0 (the trainers call their kernels so, to load them before the matrices exist).
Step = Callable[[np.ndarray, float, int], int]


def slice_bounds(ids_path: Path, n_ids: int, threads: int, line_end: int | None) -> list[tuple[int, int]]:
    """Thread t's slice of the id file; with ``line_end``, each slice begins at the start of a line."""
    cuts = [n_ids * t // threads for t in range(threads + 1)]
    if line_end is not None and n_ids > 0:
        ids = np.memmap(ids_path, dtype=np.int32, mode="r", shape=(n_ids,))
        for t in range(1, threads):
            pos = max(cuts[t], cuts[t - 1])
            # Move the cut to just after the next line end (lines are at most a few thousand ids).
            while pos < n_ids:
                window = np.asarray(ids[pos : pos + CHUNK])
                hits = np.flatnonzero(window == line_end)
                if hits.size:
                    pos += int(hits[0]) + 1
                    break
                pos += window.shape[0]
            cuts[t] = min(pos, n_ids)
        del ids
    return [(cuts[t], cuts[t + 1]) for t in range(threads)]


def stream_threads(
    ids_path: Path,
    n_ids: int,
    threads: int,
    epochs: int,
    total: float,
    step: Step,
    on_progress: ProgressFn | None,
    *,
    passes: bool,
    line_end: int | None = None,
) -> None:
    """Run ``threads`` threads over the id file until ``total`` ids have been consumed.

    With ``passes`` (word2vec.c's way) every thread reads its slice exactly ``epochs`` times;
    without (fastText's way) a thread starts its slice over at its end until all threads together
    have consumed ``total`` ids. Progress is reported in epochs, ``epochs * consumed / total``.
    With ``line_end``, slices begin at line starts (a step may consume less than its chunk, to end at
    a line end; the next chunk starts where it stopped).
    """
    done = np.zeros(threads, dtype=np.int64)
    bounds = slice_bounds(ids_path, n_ids, threads, line_end)
    stop = threading.Event()
    errors: list[BaseException] = []

    def work(t: int) -> None:
        lo, hi = bounds[t]
        own = epochs * (hi - lo)
        try:
            with open(ids_path, "rb") as fh:
                pos = lo
                while lo < hi and not stop.is_set():
                    before = float(done.sum())
                    if (done[t] >= own) if passes else (before >= total):
                        return
                    if pos >= hi:
                        pos = lo
                    k = min(CHUNK, hi - pos)
                    fh.seek(pos * 4)
                    buf = np.fromfile(fh, dtype=np.int32, count=k)
                    used = step(buf, before, t)
                    done[t] += used
                    pos += used
        except Exception as exc:  # noqa: BLE001 - the main thread raises it
            errors.append(exc)
            stop.set()

    def report(final: bool = False) -> None:
        spent = time.perf_counter() - started
        consumed = float(done.sum())
        at = epochs if final else min(epochs, epochs * consumed / total)
        on_progress("train", at, epochs, {"words_per_s": consumed / spent if spent > 0 else 0.0})

    if on_progress is not None:
        on_progress("train", 0, epochs, {"words_per_s": 0.0})
    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    try:
        for w in workers:
            while w.is_alive():
                w.join(0.25)
                raise_if_interrupted()
                if on_progress is not None and not stop.is_set():
                    report()
    except BaseException:
        stop.set()
        for w in workers:
            w.join()
        raise
    if errors:
        raise errors[0]
    if on_progress is not None:
        report(final=True)
