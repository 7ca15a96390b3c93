"""Training options shared by every algorithm, and what a training run reports back."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from embcli.errors import UsageError

ALGORITHMS = ("word2vec", "fasttext", "glove")
ARCHS = ("skipgram", "cbow")
LOSSES = ("ns", "hs")

# on_progress(stage, done, total, info): stage is "tokenize" (bytes) or "train" (epochs).
ProgressFn = Callable[[str, float, "float | None", dict], None]


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class TrainOptions:
    """Every training parameter; ``None`` means the algorithm's own default (see ``resolved``).

    FastText defaults follow Facebook's fastText (lr 0.05, sample 1e-4, negatives drawn by count^0.5),
    not gensim's (0.025, 1e-3, count^0.75), because they give better vectors at the same speed;
    Word2Vec defaults follow gensim and word2vec.c.
    """

    algo: str = "word2vec"
    arch: str = "skipgram"
    loss: str = "ns"
    dim: int = 100
    window: int | None = None
    epochs: int | None = None
    min_count: int = 5
    max_vocab: int | None = None
    negative: int = 5
    sample: float | None = None
    ns_exponent: float | None = None
    lr: float | None = None
    min_lr: float = 0.0001
    minn: int = 3
    maxn: int = 6
    buckets: int = 2_000_000
    threads: int | None = None
    seed: int = 1

    def resolved(self) -> "TrainOptions":
        """A copy with every default filled in and every value checked."""
        if self.algo not in ALGORITHMS:
            raise UsageError(f"unknown algorithm {self.algo!r}: use one of {', '.join(ALGORITHMS)}")
        if self.arch not in ARCHS:
            raise UsageError(f"unknown architecture {self.arch!r}: use skipgram or cbow")
        if self.loss not in LOSSES:
            raise UsageError(f"unknown loss {self.loss!r}: use ns or hs")
        out = TrainOptions(**asdict(self))
        fasttext = self.algo == "fasttext"
        if out.window is None:
            out.window = 10 if self.algo == "glove" else 5
        if out.epochs is None:
            out.epochs = 15 if self.algo == "glove" else 5
        if out.sample is None:
            out.sample = 1e-4 if fasttext else 1e-3
        if out.lr is None:
            out.lr = 0.05 if fasttext else 0.025
        if out.ns_exponent is None:
            out.ns_exponent = 0.5 if fasttext else 0.75
        if out.threads is None:
            out.threads = available_cores()
        for name, low in (("dim", 1), ("window", 1), ("epochs", 1), ("min_count", 1), ("threads", 1)):
            if getattr(out, name) < low:
                raise UsageError(f"--{name.replace('_', '-')} must be at least {low}")
        if out.negative < 0 or (out.loss == "ns" and out.negative < 1):
            raise UsageError("--negative must be at least 1 with --loss ns")
        if out.max_vocab is not None and out.max_vocab < 1:
            raise UsageError("--max-vocab must be at least 1")
        if not 0 <= out.sample < 1:
            raise UsageError("--sample must be in [0, 1)")
        if not -1 <= out.ns_exponent <= 1:
            raise UsageError("--ns-exponent must be in [-1, 1]")
        if not out.lr > 0:
            raise UsageError("--lr must be greater than 0")
        if fasttext and not 1 <= out.minn <= out.maxn:
            raise UsageError("--minn and --maxn must satisfy 1 <= minn <= maxn")
        if fasttext and out.buckets < 1:
            raise UsageError("--buckets must be at least 1")
        return out

    def as_meta(self) -> dict:
        data = asdict(self)
        if self.algo != "fasttext":
            for key in ("minn", "maxn", "buckets"):
                data.pop(key)
        return data


@dataclass
class TrainResult:
    """What ``emb train`` reports at the end."""

    name: str | None
    path: Path
    algorithm: str
    vocab_size: int
    dim: int
    tokens: int
    lines: int
    replaced_bytes: int
    seconds: float
    tokenize_seconds: float
    train_seconds: float
    words_per_second: float
    default: bool = False
    warnings: list[str] = field(default_factory=list)
