"""Tokenize a corpus once into a temporary one-sentence-a-line file, counting words as it goes.

With ``workers > 1`` the lines are read and decoded here and tokenized by worker processes, in
blocks handed out round-robin; the tokenized blocks are written in input order, so the file is the
same as with one worker, and each worker keeps its own word counts, merged once at the end (the
counts are equal; only the order of words with equal counts may differ). At most a few blocks are
in flight, so memory does not grow with the corpus.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections import Counter
from itertools import chain
from dataclasses import dataclass
from pathlib import Path

from embcli.corpus import Corpus, CorpusStats
from embcli.errors import CorpusError, EmbError, TrainingError
from embcli.tokenize import MAX_SENTENCE_TOKENS, TokenizerSettings, block_tokenizer, chunks, make_tokenizer
from embcli.training.options import ProgressFn

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


def _tokenize_lines(lines: list[str], tokenize, update) -> tuple[str, int, int]:
    """Tokenize lines into (text to write, tokens, sentences); ``update`` counts each line's tokens.

    The loops over lines and tokens run in C (``map``, ``chain``): beside a fast analyzer such as
    MeCab, a Python step a line is a visible share of the pass.
    """
    kept = [toks for toks in block_tokenizer(tokenize)(lines) if toks]
    if not kept:
        return "", 0, 0
    update(chain.from_iterable(kept))
    lengths = list(map(len, kept))
    if max(lengths) <= MAX_SENTENCE_TOKENS:
        out = list(map(" ".join, kept))
    else:
        out = [" ".join(piece) for toks in kept for piece in chunks(toks)]
    return "\n".join(out) + "\n", sum(lengths), len(out)


@dataclass
class _Failure:
    """What a worker sends back instead of a result when tokenizing raised."""

    message: str


def _describe_failure(exc: Exception, lines: list[str] | None = None, tokenize=None) -> str:
    """The error of a tokenizer, with the first line of ``lines`` it fails on (found again, once)."""
    message = str(exc) if isinstance(exc, EmbError) else f"{type(exc).__name__}: {exc}"
    for line in lines or ():
        try:
            tokenize(line)
        except Exception:
            shown = line if len(line) <= 60 else line[:60] + "..."
            return f"{message} (on the line {shown!r})"
    return message


def _worker(settings: TokenizerSettings, inbox, outbox) -> None:
    """Tokenize blocks from ``inbox`` into ``outbox``; keep the counts and send them at the end."""
    # Ctrl-C is the parent's to handle: it stops the workers, and they print no tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lines = tokenize = None
    try:
        tokenize = make_tokenizer(settings)
        counts: Counter = Counter()
        update = counts.update
        while True:
            lines = inbox.get()
            if lines is None:
                outbox.send(counts)
                return
            outbox.send(_tokenize_lines(lines, tokenize, update))
    except Exception as exc:  # reported by the parent as the training's error
        outbox.send(_Failure(_describe_failure(exc, lines, tokenize)))


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
        method = "fork" if sys.platform.startswith("linux") else None
        ctx = multiprocessing.get_context(method)
        # Blocks go out through queues with feeder threads: a put never blocks, so parent and worker
        # cannot wait on each other's full pipes (the caller bounds the blocks in flight). Results
        # come back through a pipe whose writing end only its own worker holds (the parent closes its
        # copy before the next worker is forked): when a worker dies, even in the middle of a
        # message, the parent reads the end of the pipe instead of waiting forever.
        self.inboxes = []
        self.outboxes = []
        self.procs = []
        for _ in range(n):
            inbox = ctx.Queue()
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(settings, inbox, writer), daemon=True)
            proc.start()
            writer.close()
            self.inboxes.append(inbox)
            self.outboxes.append(reader)
            self.procs.append(proc)

    # How often a waiting parent checks that the worker it waits for is still alive.
    POLL_SECONDS = 0.5

    def receive(self, i: int):
        """The next result of worker ``i``; an error if the worker failed or died (killed, out of memory)."""
        outbox, proc = self.outboxes[i], self.procs[i]
        try:
            while not outbox.poll(self.POLL_SECONDS):
                pass
            item = outbox.recv()
        except (EOFError, OSError):
            proc.join(self.POLL_SECONDS)
            code = proc.exitcode
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"ended with code {code}"
            raise TrainingError(
                f"a tokenizing worker process (pid {proc.pid}) {how}: nothing was saved;"
                " run again, or with --threads 1 to tokenize in one process"
            ) from None
        if isinstance(item, _Failure):
            raise TrainingError(f"tokenizing failed in a worker process: {item.message}")
        return item

    def counts(self) -> Counter:
        """Stop the workers and merge their word counts."""
        for inbox in self.inboxes:
            inbox.put(None)
        total: Counter = Counter()
        for i in range(len(self.outboxes)):
            total.update(self.receive(i))
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
        for inbox in self.inboxes:
            inbox.cancel_join_thread()  # do not wait at exit to flush blocks nobody will read
            inbox.close()
        for outbox in self.outboxes:
            outbox.close()


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

        # A missing analyzer (an extra) is one line here, before any worker starts.
        settings.check_installed()
        if workers <= 1:
            tokenize = make_tokenizer(settings)
            for block in _blocks(corpus.lines(progress)):
                try:
                    result = _tokenize_lines(block, tokenize, counts.update)
                except EmbError:
                    raise
                except Exception as exc:  # an analyzer failing on some input: the training's error
                    raise TrainingError(f"tokenizing failed: {_describe_failure(exc, block, tokenize)}") from None
                take_text(result)
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
                        take_text(pool.receive(received % workers))
                        received += 1
                while received < sent:
                    take_text(pool.receive(received % workers))
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
