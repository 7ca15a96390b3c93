"""What every trainer shares: the result type and the helpers more than one trainer uses."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

# Text read at a time when a tokenized corpus is turned into word ids.
CHUNK_BYTES = 2 << 20


@dataclass
class Trained:
    """What every trainer hands back: words by count with their vectors and counts.

    ``ngrams`` is FastText's bucket matrix (None otherwise); ``meta`` holds the trainer's own entries
    for ``meta.json`` (GloVe's costs, FastText's n-gram settings), merged in by the training job.
    """

    words: list[str]
    vectors: np.ndarray
    counts: np.ndarray
    words_per_second: float
    ngrams: np.ndarray | None = None
    meta: dict = field(default_factory=dict)


def select_vocabulary(counts: Counter, min_count: int, max_vocab: int | None) -> tuple[list[str], np.ndarray]:
    """Words occurring at least ``min_count`` times, most frequent first (ties by word), at most ``max_vocab``."""
    kept = sorted(((c, w) for w, c in counts.items() if c >= min_count), key=lambda cw: (-cw[0], cw[1]))
    if max_vocab is not None:
        kept = kept[:max_vocab]
    return [w for _, w in kept], np.array([c for c, _ in kept], dtype=np.int64)


def id_chunks(corpus_path: Path, index: dict, oov: int) -> Iterator[np.ndarray]:
    """Arrays of word ids, a few MB of text at a time, with ``index["\\n"]`` at line ends and ids ``oov`` dropped."""
    get = index.__getitem__
    with open(corpus_path, encoding="utf-8", newline="\n") as fh:
        while True:
            lines = fh.readlines(CHUNK_BYTES)
            if not lines:
                return
            # One split over the whole chunk is much faster than a split a line; "\n" becomes a token.
            toks = "".join(lines).replace("\n", " \n ").split(" ")
            del lines
            ids = np.fromiter(map(get, toks), dtype=np.int32, count=len(toks))
            del toks
            yield ids[ids != oov]
