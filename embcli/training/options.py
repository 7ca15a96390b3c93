"""Training options shared by every algorithm, and what a training run reports back."""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from embcli.errors import UsageError, check_seed, check_whole
from embcli.names import ALGORITHMS, ARCHS, LOSSES  # noqa: F401  (defined without numpy, for the CLI)

# on_progress(stage, done, total, info): stage is "tokenize" (bytes) or "train" (epochs).
ProgressFn = Callable[[str, float, "float | None", dict], None]


def parse_memory(text: str | float | int) -> float:
    """Parse a memory size: ``2`` or ``2G`` (gigabytes), ``512M``, ``1.5GB``, ``300MB``; return GB."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        raw = str(text).strip().upper().removesuffix("B")
        scale = 1.0
        if raw.endswith("G"):
            raw = raw[:-1]
        elif raw.endswith("M"):
            raw, scale = raw[:-1], 1e-3
        elif raw.endswith("K"):
            raw, scale = raw[:-1], 1e-6
        try:
            value = float(raw) * scale
        except ValueError:
            raise UsageError(
                f"--memory {text!r} is not a size: use a number of GB or a size such as 512M or 2G"
            ) from None
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"--memory {text!r} must be greater than 0: use a size such as 512M or 2G")
    return value


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
    Word2Vec defaults follow gensim and word2vec.c; GloVe defaults follow Stanford's glove
    (window 10, 15 epochs, lr 0.05, x_max 100, alpha 0.75). ``memory`` is the co-occurrence
    counting budget of GloVe in GB.
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
    memory: float | str = 2.0
    x_max: float = 100.0
    alpha: float = 0.75
    # Phrase passes over the tokenized corpus before training (0: none); see embcli.phrasing.
    phrases: int = 0
    phrase_threshold: float | None = None
    phrase_scoring: str = "default"
    connector_words: str = "none"

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
        glove = self.algo == "glove"
        if glove and (self.arch != "skipgram" or self.loss != "ns"):
            flag = f"--arch {self.arch}" if self.arch != "skipgram" else f"--loss {self.loss}"
            raise UsageError(f"{flag} is for word2vec and fasttext: GloVe fits co-occurrence counts; leave it out")
        if out.window is None:
            out.window = 10 if self.algo == "glove" else 5
        if out.epochs is None:
            out.epochs = 15 if self.algo == "glove" else 5
        if out.sample is None:
            out.sample = 1e-4 if fasttext else 1e-3
        if out.lr is None:
            out.lr = 0.05 if fasttext or glove else 0.025
        if out.ns_exponent is None:
            out.ns_exponent = 0.5 if fasttext else 0.75
        if out.threads is None:
            out.threads = available_cores()
        for name in ("dim", "window", "epochs", "min_count", "threads", "negative", "seed", "minn", "maxn", "buckets",
                     "max_vocab"):
            check_whole(f"--{name.replace('_', '-')}", getattr(out, name))
        for name in ("sample", "ns_exponent", "lr", "min_lr", "x_max", "alpha"):
            value = getattr(out, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise UsageError(f"--{name.replace('_', '-')} {value!r}: give a number")
        for name, low in (("dim", 1), ("window", 1), ("epochs", 1), ("min_count", 1), ("threads", 1)):
            if getattr(out, name) < low:
                raise UsageError(f"--{name.replace('_', '-')} must be at least {low}")
        if out.negative < 0 or (out.loss == "ns" and out.negative < 1):
            raise UsageError("--negative must be at least 1 with --loss ns")
        check_seed(out.seed)
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
        if not (math.isfinite(out.lr) and out.lr < 1e3):
            raise UsageError("--lr must be a finite number below 1000")
        if not (math.isfinite(out.min_lr) and out.min_lr >= 0):
            raise UsageError(f"--min-lr {out.min_lr:g} must be a finite number of 0 or more")
        if not (math.isfinite(out.x_max) and out.x_max > 0):
            raise UsageError("--x-max must be greater than 0")
        if not (math.isfinite(out.alpha) and 0 < out.alpha <= 10):
            raise UsageError("--alpha must be in (0, 10]")
        out.memory = parse_memory(out.memory)
        if isinstance(out.phrases, bool) or not isinstance(out.phrases, int) or out.phrases < 0:
            raise UsageError(f"--phrases {out.phrases}: give the number of phrase passes (1 or 2), or 0 for none")
        if not out.phrases:
            given = [flag for flag, on in (("--phrase-threshold", out.phrase_threshold is not None),
                                           ("--phrase-scoring", out.phrase_scoring != "default"),
                                           ("--connector-words", out.connector_words != "none")) if on]
            if given:
                raise UsageError(f"{' and '.join(given)} {'set' if len(given) > 1 else 'sets'} the phrase passes:"
                                 " add --phrases 1 (or 2) to join phrases, or leave it out")
            return out
        if out.phrase_threshold is None:
            # Not gensim's 10: on the benchmark corpus 10 joins frequent pairs (went_out, no_longer)
            # and costs word2vec 2 points of analogy accuracy; 50 keeps it (bench/phrases.py).
            out.phrase_threshold = 0.5 if out.phrase_scoring == "npmi" else 50.0
        out.phrase_settings()  # checks them
        return out

    def phrase_settings(self):
        """The ``PhraseSettings`` of ``--phrases``: gensim's defaults but the threshold (50 unless
        given), scoring and connector words."""
        from embcli.phrasing import PhraseSettings

        try:
            return PhraseSettings(threshold=self.phrase_threshold, scoring=self.phrase_scoring,
                                  connector_words=self.connector_words)
        except UsageError as exc:  # named by emb train's options
            raise UsageError(str(exc).replace("--threshold", "--phrase-threshold")
                             .replace("phrase scoring", "--phrase-scoring")
                             .replace("connector words", "--connector-words")) from None

    def as_meta(self) -> dict:
        data = asdict(self)
        if self.algo != "fasttext":
            for key in ("minn", "maxn", "buckets"):
                data.pop(key)
        if self.algo == "glove":
            for key in ("arch", "loss", "negative", "sample", "min_lr"):
                data.pop(key)
        else:
            for key in ("memory", "x_max", "alpha"):
                data.pop(key)
        if not self.phrases:
            for key in ("phrase_threshold", "phrase_scoring", "connector_words"):
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
