"""Phrases: join words that occur together more often than chance (``new york`` -> ``new_york``).

The detection is gensim's ``Phrases``, counted and applied by numba kernels over word ids
(``embcli.phrase_kernels``). One pass counts every word and every pair of neighbouring words (with
the connector words between them when connector words are on: ``bank_of_america``), then joins, left
to right, each pair whose score is above the threshold:

- ``default`` (Mikolov et al. 2013): ``(pair_count - min_count) / count_a / count_b * table_size``,
  where ``table_size`` is the number of distinct words and pairs counted (gensim's ``len(vocab)``);
- ``npmi``: normalized pointwise mutual information, in [-1, 1]; pairs seen fewer than
  ``min_count`` times score -inf.

A second pass over the joined text finds longer phrases (``new_york times`` -> ``new_york_times``).

Memory is bounded as in gensim (``max_vocab_size``): after a sentence that takes the table of words
and pairs over ``max_vocab`` entries, every entry seen fewer than ``n`` times is forgotten, ``n``
starting at 1 and growing by one at each pruning; so the rarest go first. (The list of distinct
words seen, one id each, is kept: it is small beside the pairs.)

Where emb and gensim may differ: gensim keys its table by the joined string, so a token that
already holds the delimiter (``new_york`` in the text) shares its count with the pair ``new york``;
emb keys pairs by their words and never mixes them.

``PhraseTable`` is what a model keeps (``phrases.tsv``): the phrases of each pass and their scores,
to join query words the same way (gensim's ``FrozenPhrases``). It imports neither numba nor pyarrow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from embcli.errors import ModelError, UsageError

DELIMITER = "_"
SCORINGS = ("default", "npmi")
# gensim's ENGLISH_CONNECTOR_WORDS (gensim.models.phrases): articles, some prepositions, conjunctions.
ENGLISH_CONNECTOR_WORDS = frozenset("a an the for of with without at from to in on by and or".split())
CONNECTOR_WORDS = {"none": frozenset(), "english": ENGLISH_CONNECTOR_WORDS}
# gensim's default max_vocab_size.
MAX_VOCAB = 40_000_000
# Lines read at a time (characters, about): the memory of a chunk's ids and output.
CHUNK_CHARS = 1 << 23


@dataclass(frozen=True)
class PhraseSettings:
    """How phrases are found: gensim's ``Phrases`` parameters, checked when made."""

    min_count: int = 5
    threshold: float = 10.0
    scoring: str = "default"
    connector_words: str = "none"
    max_vocab: int = MAX_VOCAB

    def __post_init__(self):
        if self.scoring not in SCORINGS:
            raise UsageError(f"unknown phrase scoring {self.scoring!r}: use one of {', '.join(SCORINGS)}")
        if self.connector_words not in CONNECTOR_WORDS:
            raise UsageError(
                f"unknown connector words {self.connector_words!r}: use one of {', '.join(CONNECTOR_WORDS)}"
            )
        if isinstance(self.min_count, bool) or not isinstance(self.min_count, int) or self.min_count < 1:
            raise UsageError(f"--min-count {self.min_count}: give 1 or more")
        if isinstance(self.max_vocab, bool) or not isinstance(self.max_vocab, int) or self.max_vocab < 1:
            raise UsageError(f"--max-vocab {self.max_vocab}: give 1 or more")
        t = self.threshold
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
            raise UsageError(f"--threshold {t!r}: give a number")
        if self.scoring == "default" and t <= 0:
            raise UsageError(f"--threshold {t}: default scoring needs a threshold above 0 (gensim's is 10)")
        if self.scoring == "npmi" and not -1 < t <= 1:
            raise UsageError(f"--threshold {t}: npmi scores lie in [-1, 1]; give a threshold in (-1, 1], e.g. 0.5")

    @property
    def connectors(self) -> frozenset:
        return CONNECTOR_WORDS[self.connector_words]

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PhraseSettings":
        keys = ("min_count", "threshold", "scoring", "connector_words", "max_vocab")
        return cls(**{k: data[k] for k in keys if k in data})


def check_passes(passes: int) -> None:
    """Raise ``UsageError`` for a number of passes below 1."""
    if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
        raise UsageError(f"--passes {passes}: give 1 or more (2 finds phrases of three words and more)")


# ------------------------------------------------------------------------------ the saved table


@dataclass
class PhraseTable:
    """The phrases of each pass and their scores: joins tokens as the training text was joined."""

    settings: PhraseSettings
    passes: list[dict[str, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(p) for p in self.passes)

    def describe(self) -> dict:
        """The table's settings, passes and size, for a model's ``meta.json``."""
        return {**self.settings.as_dict(), "passes": len(self.passes), "phrases": len(self)}

    def join(self, tokens: list[str]) -> list[str]:
        """``tokens`` with the phrases joined, pass after pass (gensim's ``FrozenPhrases[tokens]``)."""
        connectors = self.settings.connectors
        threshold = self.settings.threshold
        for grams in self.passes:
            tokens = _join_once(tokens, grams, connectors, threshold)
        return tokens

    def save(self, path: Path) -> None:
        """Write the table as TSV: ``pass``, the phrase's tokens separated by spaces, ``score``;
        each pass's phrases best first."""
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("pass\tphrase\tscore\n")
            for n, grams in enumerate(self.passes, 1):
                for phrase, score in sorted(grams.items(), key=lambda item: -item[1]):
                    fh.write(f"{n}\t{phrase}\t{score!r}\n")

    @classmethod
    def load(cls, path: Path, settings: PhraseSettings, passes: int) -> "PhraseTable":
        """Read a table written by ``save``; a malformed file is a ``ModelError`` naming its line."""
        table = cls(settings, [{} for _ in range(passes)])
        try:
            with open(path, encoding="utf-8") as fh:
                lines = iter(fh)
                next(lines, None)
                for number, line in enumerate(lines, 2):
                    fields = line.rstrip("\n").split("\t")
                    try:
                        n, phrase, score = int(fields[0]), fields[1], float(fields[2])
                        if len(fields) != 3 or not 1 <= n <= passes or len(phrase.split(" ")) < 2:
                            raise ValueError
                    except (ValueError, IndexError):
                        raise ModelError(f"{path}: line {number} is not pass, phrase, score: the model folder is damaged") from None
                    table.passes[n - 1][phrase] = score
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"{path}: unreadable ({exc}): the model folder is damaged") from None
        return table


def _join_once(tokens: list[str], grams: dict[str, float], connectors, threshold: float) -> list[str]:
    """gensim's ``analyze_sentence`` over a table of phrases (the keys hold their tokens, space-separated)."""
    out: list[str] = []
    start, between = None, []
    for word in tokens:
        if word in connectors:
            (between if start else out).append(word)
            continue
        if not start:
            start, between = word, []
            continue
        key = " ".join([start, *between, word])
        if grams.get(key, -math.inf) > threshold:
            out.append(DELIMITER.join([start, *between, word]))
            start, between = None, []
        else:
            out.append(start)
            out.extend(between)
            start, between = word, []
    if start:
        out.append(start)
        out.extend(between)
    return out


# ------------------------------------------------------------------------------ one pass


class PhrasePass:
    """The counts of one pass: learn from sentences, then join their phrases.

    Sentences are given as lines of space-separated tokens (a tokenized corpus file's lines).
    """

    def __init__(self, settings: PhraseSettings):
        import numpy as np

        from embcli import phrase_kernels as k

        self._np, self._k = np, k
        self.settings = settings
        import pyarrow as pa

        self._known = pa.array([], type=pa.string())  # the words seen, in the order of _known_ids
        self._known_ids = np.zeros(0, dtype=np.int32)
        self.tokens: list[str] = []  # words, then phrases as they are first joined: an id each
        self._conn_ids = {w: i for i, w in enumerate(sorted(settings.connectors), 1)}
        self._base = len(self._conn_ids) + 1  # connector numbers are digits of this base
        self.words = np.zeros(1 << 12, dtype=np.int64)
        self.connector = np.zeros(1 << 12, dtype=np.int32)
        self.keys1, self.keys2, self.counts = k.new_table(1 << 16)
        self.state = np.zeros(k.STATE_SIZE, dtype=np.int64)
        self.state[k.MIN_REDUCE] = 1
        self._phrase_id = None
        self._spelled: list = []
        self.out_counts = np.zeros(0, dtype=np.int64)

    # -- ids
    def encode(self, lines):
        """(ids int32, sentence offsets int64) of lines of tokens separated by spaces (a list of str or
        a pyarrow string array); new words get ids. Splitting and matching known words are
        pyarrow's (C++): Python sees each distinct new word once."""
        import pyarrow as pa
        import pyarrow.compute as pc

        np = self._np
        if not isinstance(lines, (pa.Array, pa.ChunkedArray)):
            lines = pa.array(lines, type=pa.string())
        lists = pc.split_pattern(lines, " ")  # emb writes tokens separated by single spaces
        flat = lists.flatten()
        lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
        blank = pc.equal(flat, "")
        if pc.any(blank).as_py():  # an empty line, or a space too many
            parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
            lengths -= np.bincount(parents[blank.to_numpy(zero_copy_only=False)], minlength=len(lengths))
            flat = flat.filter(pc.invert(blank))
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if len(flat) == 0:
            return np.zeros(0, dtype=np.int32), offsets
        enc = flat.dictionary_encode()
        local = enc.dictionary.cast(pa.string())
        at = pc.index_in(local, value_set=self._known).fill_null(-1).to_numpy(zero_copy_only=False).copy()
        missing = np.flatnonzero(at < 0)
        if len(missing):
            fresh = local.take(pa.array(missing))
            words = fresh.to_pylist()
            first = len(self.tokens)
            self.tokens.extend(words)
            self._grow(len(self.tokens))
            for j, w in enumerate(words, first):
                self.connector[j] = self._conn_ids.get(w, 0)
            at[missing] = np.arange(len(self._known), len(self._known) + len(missing))
            self._known = pa.concat_arrays([self._known, fresh])
            self._known_ids = np.concatenate([self._known_ids, np.arange(first, first + len(words), dtype=np.int32)])
        mapped = self._known_ids[at]
        return mapped[enc.indices.to_numpy(zero_copy_only=False)], offsets

    def _grow(self, n: int) -> None:
        np = self._np
        if n <= len(self.words):
            return
        size = max(n, 2 * len(self.words))
        self.words = np.concatenate([self.words, np.zeros(size - len(self.words), dtype=np.int64)])
        self.connector = np.concatenate([self.connector, np.zeros(size - len(self.connector), dtype=np.int32)])

    # -- counting
    def learn(self, lines: list[str]) -> None:
        """Count the words and pairs of ``lines`` (gensim's ``add_vocab``, one table across calls)."""
        k = self._k
        if self._phrase_id is not None:
            raise UsageError("a phrase pass learns all its text before it joins phrases")
        ids, offsets = self.encode(lines)
        first = 0
        while True:
            first = k.learn(ids, offsets, first, self.connector, self._base, self.words, self.keys1, self.keys2,
                            self.counts, self.state, self.settings.max_vocab)
            if first >= len(offsets) - 1:
                return
            need = int(self.state[k.USED]) + int(offsets[first + 1] - offsets[first])
            size = len(self.keys1)
            while need > size * k.MAX_LOAD:
                size *= 2
            new = k.new_table(size)
            k.rehash(self.keys1, self.keys2, self.counts, *new)
            self.keys1, self.keys2, self.counts = new

    @property
    def table_size(self) -> int:
        """Distinct words and pairs counted (gensim's ``len(phrases.vocab)``)."""
        return int(self.state[self._k.LIVE_WORDS] + self.state[self._k.LIVE_PAIRS])

    @property
    def total_words(self) -> int:
        """Words read, connector words included (gensim's ``corpus_word_count``)."""
        return int(self.state[self._k.TOTAL_WORDS])

    def _scoring(self):
        s = self.settings
        return s.scoring == "npmi", s.min_count, float(s.threshold), self.table_size, self.total_words

    # -- joining
    def apply(self, lines: list[str]) -> tuple[object, object]:
        """Join the phrases of ``lines``: (the output token ids, sentence offsets into them)."""
        k, np = self._k, self._np
        if self._phrase_id is None:
            self._phrase_id = np.full(len(self.keys1), -1, dtype=np.int64)
        ids, offsets = self.encode(lines)
        out = np.empty(len(ids), dtype=np.int32)
        out_offsets = np.empty(len(offsets), dtype=np.int64)
        new_at = np.empty((len(ids), 2), dtype=np.int64)
        npmi, min_count, threshold, size, total = self._scoring()
        first_new = len(self.tokens)
        n, next_id, fresh = k.apply(ids, offsets, self.connector, self._base, self.words, self.keys1, self.keys2, self.counts,
                                    self._phrase_id, npmi, min_count, threshold, size, total, first_new, new_at,
                                    out, out_offsets)
        tokens = self.tokens
        for lo, hi in new_at[:fresh].tolist():
            tokens.append(DELIMITER.join([tokens[i] for i in ids[lo:hi].tolist()]))
        self._grow(len(tokens))
        out = out[:n]
        counts = np.bincount(out, minlength=len(tokens))
        if len(self.out_counts) < len(counts):
            self.out_counts = np.concatenate([self.out_counts, np.zeros(len(counts) - len(self.out_counts), np.int64)])
        self.out_counts[: len(counts)] += counts
        return out, out_offsets

    def text(self, out, out_offsets) -> str:
        """The lines of ``apply``'s output: tokens joined by spaces, each line ending in a newline."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if len(out_offsets) <= 1:
            return ""
        have = sum(len(c) for c in self._spelled)
        if have < len(self.tokens):
            self._spelled.append(pa.array(self.tokens[have:], type=pa.string()))
            if len(self._spelled) > 8:
                self._spelled = [pa.concat_arrays(self._spelled)]
        spelled = pa.chunked_array(self._spelled).take(pa.array(out)).combine_chunks()
        lines = pc.binary_join(pa.ListArray.from_arrays(pa.array(out_offsets.astype("int32")), spelled), " ")
        whole = pa.ListArray.from_arrays(pa.array([0, len(lines)], type=pa.int32()), lines)
        return pc.binary_join(whole, "\n")[0].as_py() + "\n"

    def phrasegrams(self) -> dict[str, float]:
        """Every pair scoring above the threshold (gensim's ``export_phrases``), tokens space-separated."""
        k = self._k
        npmi, min_count, threshold, size, total = self._scoring()
        slots, scores = k.phrase_slots(self.words, self.keys1, self.keys2, self.counts, npmi, min_count,
                                       threshold, size, total)
        inverse = {i: w for w, i in self._conn_ids.items()}
        base = self._base
        tokens = self.tokens
        out: dict[str, float] = {}
        for slot, score in zip(slots.tolist(), scores.tolist()):
            k1, code = int(self.keys1[slot]), int(self.keys2[slot])
            if code >> 62:
                continue  # a run of connectors too long to spell (hashed): never saved
            between = []
            while code:
                code, digit = divmod(code, base)
                between.append(inverse[digit])
            out[" ".join([tokens[k1 >> 32], *reversed(between), tokens[k1 & 0xFFFFFFFF]])] = score
        return out

    def counted(self) -> dict[str, int]:
        """The tokens written by ``apply`` so far and how often (phrases included)."""
        np = self._np
        nz = np.flatnonzero(self.out_counts)
        tokens = self.tokens
        return {tokens[i]: int(c) for i, c in zip(nz.tolist(), self.out_counts[nz].tolist())}


# ------------------------------------------------------------------------------ files


def read_chunks(path: Path):
    """The lines of a tokenized corpus file (UTF-8, one sentence a line) as pyarrow string arrays,
    a few megabytes at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    with open(path, "rb") as fh:
        while True:
            data = fh.read(CHUNK_CHARS)
            if not data:
                return
            if not data.endswith(b"\n"):
                data += fh.readline()
            text = pa.array([data[:-1] if data.endswith(b"\n") else data], type=pa.large_binary())
            yield pc.split_pattern(text.cast(pa.large_string()), "\n").flatten()


@dataclass
class PassResult:
    """What one pass over a file did."""

    phrases: dict[str, float]
    counts: dict[str, int]
    tokens_in: int
    tokens_out: int
    table_size: int


def phrase_file(src: Path, dst, settings: PhraseSettings, chunks=read_chunks) -> PassResult:
    """One pass: learn from the tokenized file ``src``, then write it with phrases joined to ``dst``
    (a path, or a text stream)."""
    p = PhrasePass(settings)
    for lines in chunks(src):
        p.learn(lines)
    out_tokens = 0
    own = not hasattr(dst, "write")
    fh = open(dst, "w", encoding="utf-8", newline="\n", buffering=1 << 20) if own else dst
    try:
        for lines in chunks(src):
            out, offsets = p.apply(lines)
            out_tokens += len(out)
            fh.write(p.text(out, offsets))
    finally:
        if own:
            fh.close()
    return PassResult(p.phrasegrams(), p.counted(), p.total_words, out_tokens, p.table_size)


def phrase_sentences(sentences: Iterable[list[str]], settings: PhraseSettings, passes: int = 1):
    """Sentences (lists of tokens without spaces, in memory) with phrases joined, and the
    ``PhraseTable``: for small inputs and tests; large corpora go through ``phrase_file``."""
    check_passes(passes)
    lines = [" ".join(s) for s in sentences]
    table = PhraseTable(settings)
    for _ in range(passes):
        p = PhrasePass(settings)
        p.learn(lines)
        out, offsets = p.apply(lines)
        text = p.text(out, offsets)
        lines = text.split("\n")[:-1] if text else []
        table.passes.append(p.phrasegrams())
    return [line.split() for line in lines], table
