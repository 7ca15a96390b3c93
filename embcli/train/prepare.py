"""Tokenize a corpus once into a temporary one-sentence-a-line file, counting words as it goes.

With ``workers > 1`` the lines are read and decoded here and tokenized by worker processes, in
blocks handed out round-robin; the tokenized blocks are written in input order, so the file is the
same as with one worker, and each worker keeps its own word counts, merged once at the end (the
counts are equal; only the order of words with equal counts may differ). At most a few blocks are
in flight, so memory does not grow with the corpus.

A tokenizer that raises (a morphological analyzer failing on some input) stops the pass with a
``TrainingError`` naming the line, in a worker as in the parent; a worker that dies (a crash in an
analyzer's native code) stops it too, instead of leaving the parent waiting.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import sys
from collections import Counter
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
# How often (seconds) the parent checks that a worker it waits for is still alive.
ALIVE_CHECK_SECONDS = 1.0


@dataclass
class Prepared:
    """A tokenized corpus on disk with its word counts."""

    path: Path
    counts: Counter
    stats: CorpusStats
    sentences: int


def _tokenize_lines(lines: list[str], tokenize, update) -> tuple[str, int, int]:
    """Tokenize lines into (text to write, tokens, sentences); ``update`` counts each line's tokens."""
    out: list[str] = []
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
    return ("\n".join(out) + "\n" if out else ""), tokens, len(out)


@dataclass
class _Failed:
    """What a worker sends instead of a block's tokens when its tokenizer raised."""

    message: str


def _failure(exc: Exception, lines: list[str], tokenize) -> str:
    """The error message for a block that failed: the exception and the first line it fails on."""
    for line in lines:
        try:
            tokenize(line)
        except Exception:
            shown = line if len(line) <= 60 else line[:60] + "..."
            return f"{type(exc).__name__}: {exc} (on the line {shown!r})"
    return f"{type(exc).__name__}: {exc}"


def _tokenize_checked(lines: list[str], tokenize, update, settings: TokenizerSettings):
    """``_tokenize_lines``, with a tokenizer's exception turned into a ``TrainingError``."""
    try:
        return _tokenize_lines(lines, tokenize, update)
    except Exception as exc:
        raise _error(settings, _failure(exc, lines, tokenize)) from None


def _error(settings: TokenizerSettings, message: str) -> TrainingError:
    return TrainingError(f"tokenizing failed (--tokenizer {settings.mode}): {message}; nothing was saved")


def _worker(settings: TokenizerSettings, inbox, outbox) -> None:
    """Tokenize blocks from ``inbox`` into ``outbox``; keep the counts and send them at the end."""
    # Ctrl-C is the parent's to handle: it stops the workers, and they print no tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        tokenize = make_tokenizer(settings)
    except Exception as exc:
        outbox.put(_Failed(f"{type(exc).__name__}: {exc}"))
        return
    counts: Counter = Counter()
    update = counts.update
    while True:
        lines = inbox.get()
        if lines is None:
            outbox.put(counts)
            return
        try:
            outbox.put(_tokenize_lines(lines, tokenize, update))
        except Exception as exc:
            outbox.put(_Failed(_failure(exc, lines, tokenize)))
            return


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


class _Workers:
    """Worker processes fed round-robin, so results come back in input order."""

    def __init__(self, n: int, settings: TokenizerSettings):
        self.settings = settings
        method = "fork" if sys.platform.startswith("linux") else None
        ctx = multiprocessing.get_context(method)
        # Queues with feeder threads: a put never blocks, so parent and worker cannot wait on each
        # other's full pipes; the number of blocks in flight is bounded by the caller.
        self.inboxes = [ctx.Queue() for _ in range(n)]
        self.outboxes = [ctx.Queue() for _ in range(n)]
        self.procs = [
            ctx.Process(target=_worker, args=(settings, i, o), daemon=True)
            for i, o in zip(self.inboxes, self.outboxes)
        ]
        for proc in self.procs:
            proc.start()

    def get(self, i: int):
        """The next result of worker ``i``; a failure or a dead worker raises ``TrainingError``."""
        while True:
            try:
                result = self.outboxes[i].get(timeout=ALIVE_CHECK_SECONDS)
                break
            except queue.Empty:
                proc = self.procs[i]
                if not proc.is_alive():
                    try:  # what it sent just before it ended may still be on its way
                        result = self.outboxes[i].get(timeout=ALIVE_CHECK_SECONDS)
                        break
                    except queue.Empty:
                        pass
                    raise _error(
                        self.settings, f"a tokenizing process ended unexpectedly (exit code {proc.exitcode})"
                    ) from None
        if isinstance(result, _Failed):
            raise _error(self.settings, result.message)
        return result

    def counts(self) -> Counter:
        """Stop the workers and merge their word counts."""
        for inbox in self.inboxes:
            inbox.put(None)
        total: Counter = Counter()
        for i in range(len(self.outboxes)):
            total.update(self.get(i))
        for proc in self.procs:
            proc.join()
        return total

    def stop(self) -> None:
        """End the workers, finished or not (after an error or Ctrl-C)."""
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self.procs:
            proc.join()
        for queue in self.inboxes + self.outboxes:
            queue.cancel_join_thread()  # do not wait at exit to flush blocks nobody will read
            queue.close()


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

        def take_text(result) -> None:
            text, tokens, sentences = result
            out.write(text)
            totals["tokens"] += tokens
            totals["sentences"] += sentences

        settings.check_installed()
        if workers <= 1:
            tokenize = make_tokenizer(settings)
            for block in _blocks(corpus.lines(progress)):
                take_text(_tokenize_checked(block, tokenize, counts.update, settings))
        else:
            pool = _Workers(workers, settings)
            try:
                # Block i goes to worker i % n; at most IN_FLIGHT_PER_WORKER blocks wait per worker.
                sent = received = 0
                limit = workers * IN_FLIGHT_PER_WORKER
                for block in _blocks(corpus.lines(progress)):
                    pool.inboxes[sent % workers].put(block)
                    sent += 1
                    if sent - received >= limit:
                        take_text(pool.get(received % workers))
                        received += 1
                while received < sent:
                    take_text(pool.get(received % workers))
                    received += 1
                counts.update(pool.counts())
            finally:
                pool.stop()
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
