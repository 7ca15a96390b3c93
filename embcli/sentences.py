"""Vectors of sentences, documents and sessions: one vector a line, pooled from its words' vectors.

Poolings:

- ``mean``: the mean of the unit vectors of the line's words that are in the vocabulary (words
  with a zero vector are left out).
- ``sif``: smooth inverse frequency (Arora, Liang and Ma 2017): the weighted mean of the raw word
  vectors with weights ``a / (a + p(w))``, ``a = 1e-3`` and ``p`` the word's share of the model's
  counts, then the projection on the first principal component of the collection removed (the
  uncentred first singular vector, as the authors' code computes it). For a stream the component
  is computed from the first ``SIF_SAMPLE`` lines, which are held back until then, and applied to
  those and to every later line; a component given by the caller (a document collection's, for
  its queries) is used as it is.
- ``fasttext``: what fastText's ``print-sentence-vectors`` prints for an unsupervised model: the
  line split on ASCII white space (bytes as they are, no normalization), each word's vector (its
  own row and character n-grams for a known word, n-grams alone for an unknown one) divided by its
  norm when the norm is positive, and the mean of those. fastText adds no end-of-sentence token
  here (only supervised models' sentence vectors have one); supervised models are refused.

Words are found by the model's own tokenizer (``embcli.tokenize``; ``fasttext`` uses fastText's
split), phrases joined with the model's phrase table as training joined them. The ASCII lines are
tokenized and looked up by compiled code (``embcli.sentence_kernels``); other lines, and every line
for a model with an analyzer (ko, ja, zh) or a phrase table, go through the Python tokenizer. A line
without a known word gets a zero vector and is counted (``Pooled.empty``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Iterator, Sequence

import numpy as np

from embcli.errors import CorpusError, ModelError, UsageError
from embcli.folder import ModelFolder
from embcli.tokenize import make_tokenizer

POOLINGS = ("mean", "sif", "fasttext")
SIF_A = 1e-3
SIF_SAMPLE = 100_000
# The fewest lines with a known word that sif fits its component on (see ``Embedder.fit_component``).
SIF_MIN_LINES = 10
# Blocks pooled at once by ``Embedder.stream`` (the machines this is made for have two cores or more).
POOL_THREADS = 2
EOS = "</s>"


@dataclass
class Pooled:
    """The vectors of a block of lines and how many known words each had (0: no known word)."""

    vectors: np.ndarray
    words: np.ndarray
    first_line: int = 1

    @property
    def empty(self) -> np.ndarray:
        return self.words == 0


@dataclass
class _Vocab:
    """The vocabulary as bytes, row offsets and the hash table of the compiled lookup."""

    data: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    table: np.ndarray = field(repr=False)


@lru_cache(maxsize=1)
def fold_classes() -> np.ndarray:
    """For each code point below U+10000, what the unicode tokenizer makes of it beside ASCII text.

    A character becomes a separator, an apostrophe or a hyphen when NFKC and the tokenizer's folding
    map turn it into ASCII of only that kind, the same alone as next to any ASCII character (so no
    composition with its neighbours changes the words); every other character is SLOW.
    """
    import unicodedata

    from embcli import sentence_kernels as k
    from embcli.tokenize import _FOLD

    classes = np.zeros(0x10000, dtype=np.uint8)
    printable = [chr(c) for c in range(32, 127)]
    for cp in range(0x80, 0x10000):
        ch = chr(cp)
        if unicodedata.category(ch)[0] not in "PSZ" or 0xD800 <= cp < 0xE000:
            continue
        folded = unicodedata.normalize("NFKC", ch).translate(_FOLD)
        if folded == "'":
            kind = k.APOSTROPHE
        elif folded == "-":
            kind = k.HYPHEN
        elif folded.isascii() and not any(c.isalnum() or c in "_'-" for c in folded):
            kind = k.SEPARATOR
        else:
            continue
        if all(
            unicodedata.normalize("NFKC", a + ch).translate(_FOLD) == a + folded
            and unicodedata.normalize("NFKC", ch + a).translate(_FOLD) == folded + a
            for a in printable
        ):
            classes[cp] = kind
    return classes


def _vocab_table(model: ModelFolder) -> _Vocab:
    from embcli import sentence_kernels as k

    data = np.frombuffer(model._vocab_bytes, dtype=np.uint8)
    ends = np.flatnonzero(data == 10)
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    return _Vocab(data, starts, ends, k.build_table(data, starts, ends))


class Embedder:
    """Turns lines of text into vectors with one model and one pooling (reusable, not thread-safe).

    ``component`` (sif only) is the unit principal component to remove; None computes it from the
    lines given (``embed``) or from the first ``sif_sample`` lines (``stream``).
    """

    def __init__(self, model: ModelFolder, pooling: str = "mean", component: np.ndarray | None = None,
                 sif_sample: int = SIF_SAMPLE):
        if pooling not in POOLINGS:
            raise UsageError(f"unknown pooling {pooling!r}: use one of {', '.join(POOLINGS)}")
        self.model = model
        self.pooling = pooling
        self.dim = model.dim
        if pooling == "sif" and int(sif_sample) < SIF_MIN_LINES:
            raise UsageError(f"--sif-sample {sif_sample}: the component needs at least {SIF_MIN_LINES} lines")
        self.sif_sample = max(1, int(sif_sample))
        self.component = None if component is None else np.asarray(component, dtype=np.float32).reshape(-1)
        if self.component is not None and self.component.shape != (self.dim,):
            raise UsageError(f"the SIF component has {self.component.size} values, the model {self.dim} dimensions")
        norms = np.asarray(model.norms, dtype=np.float64)
        fasttext = model.meta.get("fasttext")
        if pooling == "fasttext":
            params = model.meta.get("params") or {}
            if params.get("arch") == "supervised" or params.get("loss") in ("softmax", "ova"):
                raise ModelError(
                    f"model {model.name!r} is a supervised fastText model: its sentence vectors are not"
                    " supported; use --pooling mean"
                )
            grams = bool(fasttext) and model.ngrams is not None
            if not grams and model.meta.get("algorithm") != "fasttext":
                raise ModelError(
                    f"--pooling fasttext needs a fastText model (a .bin, or one trained by emb --algo fasttext);"
                    f" model {model.name!r} is {model.meta.get('algorithm')}, without character n-grams:"
                    " use --pooling mean or sif"
                )
            # A fastText model without n-grams (maxn 0 or bucket 0): unknown words add nothing, as in fastText.
            self._minn, self._maxn = (int(fasttext["minn"]), int(fasttext["maxn"])) if grams else (0, 0)
            self._grams = grams
        if pooling == "sif":
            counts = model.counts
            if counts is None or counts.sum() <= 0:
                raise ModelError(
                    f"--pooling sif needs word counts and model {model.name!r} has none (imported without"
                    " counts): use --pooling mean, or a model trained by emb"
                )
            p = np.asarray(counts, dtype=np.float64) / float(counts.sum())
            self._scale = (SIF_A / (SIF_A + p)).astype(np.float32)
            self._counted = np.ones(model.vocab_size, dtype=np.int32)
        else:
            with np.errstate(divide="ignore"):
                self._scale = np.where(norms > 0, 1.0 / norms, 0.0).astype(np.float32)
            self._counted = (norms > 0).astype(np.int32)
        settings = model.tokenizer
        from embcli import sentence_kernels as k

        if pooling == "fasttext":
            self._mode, self._lower, self._min_len = k.FASTTEXT, False, 1
        else:
            self._mode = k.WHITESPACE if settings.mode == "whitespace" else k.UNICODE
            self._lower, self._min_len = bool(settings.lowercase), int(settings.min_token_length)
        self._split = make_tokenizer(settings)
        # The compiled tokenizer reads ASCII as the unicode tokenizer does, and knows no phrases: a
        # model with an analyzer (ko, ja, zh) or a phrase table has every line go through Python,
        # as its training text did (an all-ASCII line such as "CG good" included).
        self._phrases = model.phrases if pooling != "fasttext" else None
        self._all_python = pooling != "fasttext" and (settings.morphological or self._phrases is not None)
        self._vocab = _vocab_table(model)
        self._eos = self._eos_row() if pooling == "fasttext" else None

    # ------------------------------------------------------------------------------------ blocks

    def pool(self, lines: Sequence[str], buffer: np.ndarray | None = None) -> Pooled:
        """The pooled vectors of ``lines`` (no principal component removed yet).

        ``buffer`` ([at least len(lines), dim] float32) is filled instead of a new array.
        """
        from embcli import sentence_kernels as k

        n = len(lines)
        if buffer is not None and buffer.shape[0] >= n:
            out = buffer[:n]
            out.fill(0)
        else:
            out = np.zeros((n, self.dim), dtype=np.float32)
        words = np.zeros(n, dtype=np.int64)
        if n == 0:
            return Pooled(out, words)
        for line in lines:
            if not isinstance(line, str):
                raise UsageError(f"a line to embed must be a string, not {type(line).__name__} ({line!r:.60})")
            if "\n" in line:
                raise UsageError("a line to embed holds a line break: pass one line of text per item")
        data = np.frombuffer(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"), dtype=np.uint8)
        if self._mode == k.UNICODE and not self._all_python:
            data = k.fold_ascii(data, fold_classes())
        if "_matrix" not in self.__dict__:
            vectors = self.model.vectors
            # A compressed model (emb compress) is decoded once here: the kernel reads a plain matrix.
            self._matrix = vectors if isinstance(vectors, np.ndarray) else np.asarray(vectors)
        v = self._vocab
        if self._all_python:
            t_line = t_row = t_start = t_end = np.zeros(0, dtype=np.int64)
            slow = np.ones(n, dtype=bool)
        else:
            t_line, t_row, t_start, t_end, slow = k.tokenize_rows(
                data, self._mode, self._lower, self._min_len, v.table, v.data, v.starts, v.ends
            )
        extra = np.zeros((1, self.dim), dtype=np.float32)
        scale, counted = self._scale, self._counted
        if slow.any():
            t_line, t_row = self._slow_lines(lines, np.flatnonzero(slow), t_line, t_row)
        if self.pooling == "fasttext":
            t_row, extra, scale, counted = self._fasttext_rows(data, t_row, t_start, t_end)
        # fastText multiplies by 1 / count; the others divide (SIF, as its authors' code, by the
        # number of known words too).
        k.pool(t_line, t_row, n, self._matrix, extra, scale, counted, out, words, self.pooling == "fasttext")
        return Pooled(out, words)

    def _slow_lines(self, lines, which, t_line, t_row):
        """Tokenize the non-ASCII lines (every line: ``_all_python``) in Python, joining phrases as
        training did, and look their tokens up with the same table."""
        from embcli import sentence_kernels as k

        split, phrases = self._split, self._phrases
        tokens, owners = [], []
        for i in which.tolist():
            found = split(lines[i])
            if phrases is not None:
                found = phrases.join(found)
            tokens.extend(found)
            owners.extend([i] * len(found))
        if not tokens:
            return t_line, t_row
        data = np.frombuffer(("\n".join(tokens) + "\n").encode("utf-8", "surrogatepass"), dtype=np.uint8)
        v = self._vocab
        _, rows, _, _, _ = k.tokenize_rows(data, k.TOKENS, False, 1, v.table, v.data, v.starts, v.ends)
        return np.concatenate([t_line, np.asarray(owners, dtype=np.int64)]), np.concatenate([t_row, rows])

    def _eos_row(self) -> tuple[int, np.ndarray] | None:
        """fastText gives ``</s>`` its own row only (no n-grams): undo the composition of a folder
        imported before ``</s>`` kept its own row (``eos_own_row`` in its meta)."""
        from embcli.subwords import ngram_buckets

        row = self.model.index_of(EOS)
        if row is None or not self._grams or (self.model.meta.get("fasttext") or {}).get("eos_own_row"):
            return None
        grams = self.model.ngrams
        ids = ngram_buckets(EOS, self._minn, self._maxn, grams.shape[0])
        composed = np.asarray(self.model.vectors[row], dtype=np.float64)
        own = composed * (len(ids) + 1) - np.asarray(grams[ids], dtype=np.float64).sum(axis=0)
        return row, own.astype(np.float32)

    def _fasttext_rows(self, data, t_row, t_start, t_end):
        """Rows for fastText pooling: unknown words get their n-gram vector as an extra row."""
        from embcli.subword_kernels import ngram_buckets_block

        vsize = self.model.vocab_size
        unknown = np.flatnonzero(t_row < 0)
        extras: list[np.ndarray] = []
        if self._eos is not None:
            extras.append(self._eos[1])
            t_row = np.where(t_row == self._eos[0], vsize, t_row)
        base = vsize + len(extras)
        if unknown.size:
            raw = data.tobytes()
            words = [raw[s:e].decode("utf-8", "surrogateescape") for s, e in zip(t_start[unknown].tolist(), t_end[unknown].tolist())]
            uniq = list(dict.fromkeys(words))
            pos = {w: j for j, w in enumerate(uniq)}
            vecs = np.zeros((len(uniq), self.dim), dtype=np.float32)
            if self._grams:
                grams = self.model.ngrams
                ids, lengths = ngram_buckets_block(uniq, self._minn, self._maxn, grams.shape[0])
                has = lengths > 0
            if self._grams and ids.size:
                starts = (np.cumsum(lengths) - lengths)[has]
                sums = np.add.reduceat(np.asarray(grams[ids], dtype=np.float32), starts, axis=0)
                vecs[has] = sums * (np.float32(1) / lengths[has, None].astype(np.float32))
            if EOS in pos:
                vecs[pos[EOS]] = 0  # fastText never gives ``</s>`` n-grams: unknown, it is left out
            extras.append(vecs)
            t_row = t_row.copy()
            t_row[unknown] = base + np.fromiter((pos[w] for w in words), dtype=np.int64, count=len(words))
        if not extras:
            return t_row, np.zeros((1, self.dim), dtype=np.float32), self._scale, self._counted
        extra = np.vstack([e.reshape(-1, self.dim) for e in extras]).astype(np.float32)
        enorms = np.sqrt(np.einsum("ij,ij->i", extra, extra, dtype=np.float64))
        with np.errstate(divide="ignore"):
            escale = np.where(enorms > 0, 1.0 / enorms, 0.0).astype(np.float32)
        scale = np.concatenate([self._scale, escale])
        counted = np.concatenate([self._counted, (enorms > 0).astype(np.int32)])
        return t_row, extra, scale, counted

    # ----------------------------------------------------------------------------- collections

    def fit_component(self, vectors: np.ndarray) -> np.ndarray:
        """The first (uncentred) principal component of ``vectors``: their first right singular vector.

        At least ``SIF_MIN_LINES`` of them must be non-zero (lines with a known word): the component
        of one line is that line, and removing it leaves rounding noise (two lines come out opposite).
        """
        x = np.asarray(vectors, dtype=np.float64)
        known = int(np.count_nonzero(np.any(x != 0, axis=1)))
        if known < SIF_MIN_LINES:
            raise UsageError(
                f"--pooling sif takes the component common to the lines from the lines themselves, and"
                f" {known} line{'' if known == 1 else 's'} with a known word {'is' if known == 1 else 'are'} too few"
                f" (at least {SIF_MIN_LINES}): embed more lines at once, or use --pooling mean"
            )
        gram = x.T @ x
        _, eigvecs = np.linalg.eigh(gram)
        pc = eigvecs[:, -1]
        pc = pc if pc[np.argmax(np.abs(pc))] >= 0 else -pc  # one sign, whatever the solver
        return pc.astype(np.float32)

    def remove_component(self, vectors: np.ndarray) -> np.ndarray:
        """``vectors`` minus their projection on the SIF component (in place)."""
        pc = self.component
        if pc is not None and len(vectors):
            vectors -= np.outer(vectors @ pc, pc).astype(np.float32)
        return vectors

    def embed(self, lines: Sequence[str]) -> Pooled:
        """The vectors of all ``lines``; for sif the component is fitted on them unless given."""
        pooled = self.pool(lines)
        if self.pooling == "sif" and len(lines):
            if self.component is None:
                self.component = self.fit_component(pooled.vectors)
            self.remove_component(pooled.vectors)
        return pooled

    def stream(self, lines: Iterable[str], batch: int = 8192, reuse: bool = False) -> Iterator[tuple[list[str], Pooled]]:
        """(lines, their vectors) block by block; line numbers (``first_line``) count from 1.

        For sif without a component, the first ``sif_sample`` lines are held back, the component
        is fitted on them, and then everything is given out with it removed. With ``reuse``, the
        vectors of a block live in one of a few buffers that later blocks fill again: a consumer that
        is done with each block before asking for the next (writing it out, say) saves the page
        faults of a fresh array a block.
        """
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        # Blocks are pooled in helper threads (the compiled kernels release the GIL), two at a time,
        # while the next block is read and the previous one written; they are given out in order.
        workers = POOL_THREADS
        held: list[tuple[list[str], Pooled]] = []
        number = 1
        ring = None
        if reuse and not (self.pooling == "sif" and self.component is None):
            # The blocks in flight, the one the consumer holds, and one to spare.
            ring = [np.empty((batch, self.dim), dtype=np.float32) for _ in range(workers + 2)]
        with ThreadPoolExecutor(workers) as pool:
            pending: deque = deque()
            for turn, block in enumerate(_batches(lines, batch)):
                buffer = ring[turn % len(ring)] if ring is not None else None
                pending.append((block, pool.submit(self.pool, block, buffer), number))
                number += len(block)
                if len(pending) > workers:
                    yield from self._ready(*pending.popleft(), held)
            while pending:
                yield from self._ready(*pending.popleft(), held)
        if held:
            yield from self._release(held)

    def _ready(self, block, job, number, held):
        pooled = job.result()
        pooled.first_line = number
        if self.pooling == "sif" and self.component is None:
            held.append((block, pooled))
            if sum(len(b) for b, _ in held) >= self.sif_sample:
                yield from self._release(held)
                held.clear()
            return
        if self.pooling == "sif":
            self.remove_component(pooled.vectors)
        yield block, pooled

    def _release(self, held):
        self.component = self.fit_component(np.concatenate([p.vectors for _, p in held])[: self.sif_sample])
        for block, pooled in held:
            self.remove_component(pooled.vectors)
            yield block, pooled


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    block: list[str] = []
    for line in lines:
        block.append(line)
        if len(block) >= size:
            yield block
            block = []
    if block:
        yield block


def embed_lines(model: ModelFolder, lines: Sequence[str], pooling: str = "mean",
                component: np.ndarray | None = None) -> np.ndarray:
    """The [N, D] float32 vectors of ``lines`` (zero rows for lines without a known word)."""
    if isinstance(lines, str):
        raise UsageError("embed takes a list of lines, not one string: wrap it in a list")
    return Embedder(model, pooling, component).embed(list(lines)).vectors


def text_lines(corpus) -> Iterator[str]:
    """The lines of an ``embcli.corpus.Corpus``, refusing bytes that are not UTF-8.

    Embedding replaced text would give a vector to a line that is not what the file says, so the
    first invalid byte stops the pass with the line it is on.
    """
    for number, line in enumerate(corpus.lines(whole=True), 1):
        if corpus.stats.replaced_bytes:
            raise CorpusError(
                f"line {number}: not UTF-8 text ({corpus.stats.replaced_bytes} invalid bytes): convert the"
                " input first, e.g. iconv -f latin1 -t utf-8"
            )
        yield line
