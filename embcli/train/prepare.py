"""Tokenize a corpus once into a temporary one-sentence-a-line file, counting words as it goes.

With ``workers > 1`` the lines are read and decoded here and tokenized by a pool of worker
processes, in blocks; results are written in input order, so the file and the counts are the same
as with one worker. At most a few blocks are in flight, so memory does not grow with the corpus.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

from embcli.corpus import Corpus, CorpusStats
from embcli.errors import CorpusError, TrainingError
from embcli.tokenize import MAX_SENTENCE_TOKENS, TokenizerSettings, chunks, make_tokenizer
from embcli.train.options import ProgressFn

# A block handed to a worker: this many lines or characters, whichever comes first.
BLOCK_LINES = 2048
BLOCK_CHARS = 1 << 18
# Blocks in flight per worker: enough to keep the workers busy, few enough to bound memory.
IN_FLIGHT_PER_WORKER = 3


@dataclass
class Prepared:
    """A tokenized corpus on disk with its word counts."""

    path: Path
    counts: Counter
    stats: CorpusStats
    sentences: int


def _tokenize_lines(lines: list[str], tokenize) -> tuple[str, Counter, int, int]:
    """Tokenize lines into (text to write, counts, tokens, sentences)."""
    out: list[str] = []
    counts: Counter = Counter()
    update = counts.update
    append = out.append
    tokens = 0
    for line in lines:
        toks = tokenize(line)
        if not toks:
            continue
        update(toks)
        tokens += len(toks)
        if len(toks) <= MAX_SENTENCE_TOKENS:
            append(" ".join(toks))
        else:
            out.extend(" ".join(piece) for piece in chunks(toks))
    text = "\n".join(out) + "\n" if out else ""
    return text, counts, tokens, len(out)


_worker_tokenize = None


def _init_worker(settings: TokenizerSettings) -> None:
    global _worker_tokenize
    # Ctrl-C is the parent's to handle: it stops the pool, and workers print no tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_tokenize = make_tokenizer(settings)


def _worker_block(lines: list[str]):
    return _tokenize_lines(lines, _worker_tokenize)


def _blocks(lines):
    block: list[str] = []
    size = 0
    for line in lines:
        block.append(line)
        size += len(line)
        if len(block) >= BLOCK_LINES or size >= BLOCK_CHARS:
            yield block
            block, size = [], 0
    if block:
        yield block


def _pool(workers: int, settings: TokenizerSettings):
    method = "fork" if sys.platform.startswith("linux") else None
    ctx = multiprocessing.get_context(method)
    return ctx.Pool(workers, initializer=_init_worker, initargs=(settings,))


def prepare_corpus(
    corpus: Corpus,
    settings: TokenizerSettings,
    path: Path,
    on_progress: ProgressFn | None = None,
    workers: int = 1,
) -> Prepared:
    """Write the tokens of ``corpus`` to ``path``, one sentence of at most 10,000 tokens a line.

    ``workers`` > 1 tokenizes in that many processes; the output is identical either way.
    """
    counts: Counter = Counter()
    totals = {"tokens": 0, "sentences": 0}

    def progress(done: int, total: int | None) -> None:
        if on_progress is not None:
            on_progress("tokenize", done, total, {"lines": corpus.stats.lines, "tokens": totals["tokens"]})

    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:

        def take(result) -> None:
            text, block_counts, tokens, sentences = result
            out.write(text)
            counts.update(block_counts)
            totals["tokens"] += tokens
            totals["sentences"] += sentences

        if workers <= 1:
            tokenize = make_tokenizer(settings)
            for block in _blocks(corpus.lines(progress)):
                take(_tokenize_lines(block, tokenize))
        else:
            pool = _pool(workers, settings)
            try:
                pending: deque = deque()
                limit = workers * IN_FLIGHT_PER_WORKER
                for block in _blocks(corpus.lines(progress)):
                    pending.append(pool.apply_async(_worker_block, (block,)))
                    while len(pending) >= limit or (pending and pending[0].ready()):
                        take(pending.popleft().get())
                while pending:
                    take(pending.popleft().get())
                pool.close()
            finally:
                pool.terminate()
                pool.join()
    stats = corpus.stats
    stats.tokens = totals["tokens"]
    if stats.lines == 0:
        raise CorpusError(f"the corpus is empty ({', '.join(corpus.inputs)}): pass a file with text in it")
    if stats.tokens == 0:
        raise CorpusError(
            f"the corpus has no tokens ({stats.lines} lines, no words): check the input"
            " or try --tokenizer whitespace"
        )
    return Prepared(path=path, counts=counts, stats=stats, sentences=totals["sentences"])


def check_vocabulary(counts: Counter, min_count: int) -> int:
    """Return how many words occur at least ``min_count`` times; refuse an empty vocabulary."""
    kept = sum(1 for c in counts.values() if c >= min_count)
    if kept == 0:
        word, top = counts.most_common(1)[0]
        raise TrainingError(
            f"no word occurs {min_count} times (the most frequent, {word!r}, occurs {top} times):"
            f" use --min-count {top} or lower"
        )
    return kept
