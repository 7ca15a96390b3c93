"""Tokenize a corpus once into a temporary one-sentence-a-line file, counting words as it goes.

With ``workers > 1`` the lines are read and decoded here and tokenized by worker processes, in
blocks handed out round-robin; the tokenized blocks are written in input order, so the file is the
same as with one worker, and each worker keeps its own word counts, merged once at the end (the
counts are equal; only the order of words with equal counts may differ). At most a few blocks are
in flight, so memory does not grow with the corpus.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Iterator

from embcli.corpus import Corpus, CorpusStats
from embcli.errors import ENDING, CorpusError, EmbError, TrainingError
from embcli.token_counts import count_and_join
from embcli.tokenize import MAX_SENTENCE_TOKENS, TokenizerSettings, block_tokenizer, chunks, make_tokenizer
from embcli.training.options import ProgressFn, available_cores

# A block handed to a worker: this many lines or characters, whichever comes first.
BLOCK_LINES = 2048
BLOCK_CHARS = 1 << 18
# Blocks in flight per worker: enough to keep the workers busy, few enough to bound memory.
IN_FLIGHT_PER_WORKER = 3
# How often a worker checks that its parent is alive (``_end_with_parent``).
PARENT_CHECK_SECONDS = 0.5
# Workers are forked where that is safe (Linux), so they inherit what the parent has loaded.
_FORK = sys.platform.startswith("linux")
# A line the analyzers are first run on in the parent: Korean, Japanese, Chinese and Latin.
WARM_UP = "영화가 좋다 東京都に住む 我们在北京 emb"


@dataclass
class Prepared:
    """A tokenized corpus on disk with its word counts."""

    path: Path
    counts: Counter
    stats: CorpusStats
    sentences: int


def _tokenize_lines(lines: list[str], tokenize, update, encoded: bool = False) -> tuple[str | bytes, int, int]:
    """Tokenize lines into (text to write, tokens, sentences); ``update`` counts each line's tokens;
    ``encoded``: the text as UTF-8 bytes (for the file, and as a worker's result: sent as it is).

    Each line's tokens are counted and joined as soon as they come (from the tokenizer's block form,
    see ``block_tokenizer``), while they are in the cache, and then freed. A tokenizer with a
    ``counter`` (``embcli.wakati``) counts the tokens itself (handing them to ``update`` only when its
    table has grown large): ``flush_counts`` adds the rest to a Counter.
    """
    counter = getattr(tokenize, "counter", None)
    if counter is not None:
        done = counter.block(lines, MAX_SENTENCE_TOKENS)
        if done is not None:
            spilled = counter.spill()
            if spilled is not None:
                update(spilled)
            text, tokens, sentences = done
            return (text if encoded else text.decode()), tokens, sentences
    joined = getattr(tokenize, "joined", None)
    if joined is not None:
        done = _counted_joined(lines, *joined, encoded=encoded)
        if done is not None:
            text, tokens, sentences, counts = done
            update(counts)
            return text, tokens, sentences
    out: list[str] = []
    append = out.append
    tokens = 0
    for toks in block_tokenizer(tokenize)(lines):
        if not toks:
            continue
        update(toks)
        tokens += len(toks)
        if len(toks) <= MAX_SENTENCE_TOKENS:
            append(" ".join(toks))
        else:
            out.extend(" ".join(piece) for piece in chunks(toks))
    text = "\n".join(out) + "\n" if out else ""
    return (text.encode() if encoded else text), tokens, len(out)


def flush_counts(tokenize, counts: Counter) -> None:
    """Add the counts ``tokenize`` keeps itself (its ``counter``, if it has one) to ``counts``."""
    counter = getattr(tokenize, "counter", None)
    if counter is not None:
        counts.update(counter.counts())


def _counted_joined(lines: list[str], joined_block, clean, encoded: bool = False):
    """``token_counts.count_and_join`` of the analyzer's joined output, or None where it does not apply."""
    joined = joined_block(lines)
    return None if joined is None else count_and_join(joined, clean, MAX_SENTENCE_TOKENS, encoded)


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


def _lines_text(lines: list[str], tokenize, counts: Counter) -> str:
    """The tokens of each line, one line of text for each (empty when it has none): ``emb tokenize``."""
    # (Not through a tokenizer's ``counter``: its table, which this job does not need, cost more than it
    # saved on text of many distinct tokens.)
    return "\n".join(map(" ".join, block_tokenizer(tokenize)(lines))) + "\n"


def _block_counts(lines: list[str], tokenize, counts: Counter) -> Counter:
    """The block's word counts, in the order the words first appear: ``emb vocab``. (A tokenizer with
    a ``counter`` keeps them itself: empty here, ``flush_counts`` at the end of its process.)"""
    counter = getattr(tokenize, "counter", None)
    if counter is not None and counter.block(lines, sys.maxsize) is not None:
        return counter.spill() or Counter()
    joined = getattr(tokenize, "joined", None)
    done = None if joined is None else _counted_joined(lines, *joined)
    if done is not None:
        return Counter(done[3])
    block: Counter = Counter()
    update = block.update
    for toks in block_tokenizer(tokenize)(lines):
        update(toks)
    return block


# The jobs whose tokenizer's own counts (``flush_counts``) are added to the process's at its end.
_COUNTING = ("prepare", "counts")
# What a block of lines becomes: (lines, tokenizer, this process's running word counts) -> result.
_JOBS = {
    "prepare": lambda lines, tokenize, counts: _tokenize_lines(lines, tokenize, counts.update, encoded=True),
    "lines": _lines_text,
    "counts": _block_counts,
}


def _worker(settings: TokenizerSettings, inbox, outbox, job: str = "prepare") -> None:
    """Tokenize blocks from ``inbox`` into ``outbox``; keep the counts and send them at the end."""
    # Ctrl-C (and SIGTERM, SIGHUP sent to the whole group) is the parent's to handle: it stops the
    # workers, and they print no tracebacks.
    for signum in ENDING.values():
        signal.signal(signum, signal.SIG_IGN)
    threading.Thread(target=_end_with_parent, args=(os.getppid(),), daemon=True).start()
    lines = tokenize = None
    work = _JOBS[job]
    try:
        tokenize = make_tokenizer(settings)
        counts: Counter = Counter()
        while True:
            lines = inbox.recv()
            if lines is None:
                if job in _COUNTING:
                    flush_counts(tokenize, counts)
                outbox.send(counts)
                return
            outbox.send(work(lines, tokenize, counts))
    except Exception as exc:  # reported by the parent as the training's error
        outbox.send(_Failure(_describe_failure(exc, lines, tokenize)))


def _end_with_parent(parent: int) -> None:
    """End this worker process once its parent is gone: a parent killed outright (SIGKILL, the
    out-of-memory killer) runs no clean-up, and the worker may be blocked for ever sending it a
    result or reading a block it was halfway through writing."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _blocks(batches: Iterator[list[str]]) -> Iterator[list[str]]:
    """The lines of ``batches`` (``Corpus.batches``) in blocks: a block ends at its BLOCK_LINES-th line
    or at the first line that brings it to BLOCK_CHARS characters. Cut from the reader's lists with
    slices, not line by line: beside a fast analyzer a Python step per line is a visible cost."""
    block: list[str] = []
    size = 0
    for batch in batches:
        start = 0
        while start < len(batch):
            part = batch[start : start + BLOCK_LINES - len(block)]
            # sizes[i]: the block's characters with the first i lines of part added
            sizes = list(accumulate(map(len, part), initial=size))
            ends = bisect_left(sizes, BLOCK_CHARS, 1)  # the first line that reaches BLOCK_CHARS, + 1
            if ends <= len(part):
                part = part[:ends]
            start += len(part)
            if block:
                block.extend(part)
            else:
                block = part
            size = sizes[len(part)]
            if len(block) >= BLOCK_LINES or size >= BLOCK_CHARS:
                yield block
                block, size = [], 0
    if block:
        yield block


class _Inbox:
    """The blocks for one worker: ``put`` never blocks; a thread of ours sends them down a pipe whose
    only reader is the worker, so when the worker is gone (stopped, killed) a send fails at once and
    the thread ends. (multiprocessing's Queue kept its feeder thread blocked for good on a full pipe
    whose reader had been killed: a thread, a pipe and a block left for every interrupted run.)"""

    _STOP = object()

    def __init__(self, ctx):
        self.reader, self._writer = ctx.Pipe(duplex=False)
        self._items: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._send, name="emb-inbox", daemon=True)

    def forked(self) -> None:
        """Call once the worker holds the reading end: the parent's copy is closed (before the next
        worker is forked, which would hold it too), so that the worker is its only reader."""
        self.reader.close()

    def start(self) -> None:
        """Start the sending thread (once every worker is forked: no thread runs while one is)."""
        self._thread.start()

    def put(self, item) -> None:
        self._items.put(item)

    def _send(self) -> None:
        try:
            while (item := self._items.get()) is not self._STOP:
                self._writer.send(item)
        except OSError:  # the worker is gone: nobody reads what is left
            pass
        finally:
            self._writer.close()

    def stop(self) -> None:
        self._items.put(self._STOP)
        self._thread.join()


class _Workers:
    """Worker processes fed round-robin, so results come back in input order."""

    def __init__(self, n: int, settings: TokenizerSettings, job: str = "prepare"):
        method = "fork" if _FORK else None
        ctx = multiprocessing.get_context(method)
        # Blocks go out through ``_Inbox``es: a put never blocks, so parent and worker cannot wait on
        # each other's full pipes (the caller bounds the blocks in flight). Results
        # come back through a pipe whose writing end only its own worker holds (the parent closes its
        # copy before the next worker is forked): when a worker dies, even in the middle of a
        # message, the parent reads the end of the pipe instead of waiting forever.
        self.inboxes = []
        self.outboxes = []
        self.procs = []
        for _ in range(n):
            inbox = _Inbox(ctx)
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(settings, inbox.reader, writer, job), daemon=True)
            proc.start()
            writer.close()
            inbox.forked()
            self.inboxes.append(inbox)
            self.outboxes.append(reader)
            self.procs.append(proc)
        for inbox in self.inboxes:
            inbox.start()

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
        """End the workers, finished or not (after an error or Ctrl-C). SIGKILL: they ignore SIGTERM,
        which is their parent's to handle, and hold nothing that needs cleaning up."""
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
        for proc in self.procs:
            proc.join()
        for inbox in self.inboxes:
            inbox.stop()  # its worker is gone: a send still under way fails, the thread ends
        for outbox in self.outboxes:
            outbox.close()


def map_blocks(
    corpus: Corpus,
    settings: TokenizerSettings,
    job: str,
    workers: int = 1,
    on_progress=None,
    counts: Counter | None = None,
) -> Iterator:
    """What each block of the corpus's lines becomes, in input order: ``job`` "prepare" (text of
    sentences as UTF-8 bytes, tokens, sentences; the words counted into ``counts``), "lines" (text, one line a line)
    or "counts" (the block's word counts). ``workers`` > 1: tokenized in that many processes, the
    results the same. ``on_progress(done, total)`` is the corpus reader's."""
    # A missing analyzer (an extra) is one line here, before any worker starts.
    settings.check_installed()
    work = _JOBS[job]
    if counts is None:
        counts = Counter()
    # More tokenizing processes than cores only take turns (and each costs a process, its pipes and
    # for ko its share of the analyzer): at most one a core; the output is the same.
    workers = min(workers, available_cores())
    if workers <= 1:
        tokenize = make_tokenizer(settings)
        for block in _blocks(corpus.batches(on_progress)):
            try:
                result = work(block, tokenize, counts)
            except EmbError:
                raise
            except Exception as exc:  # an analyzer failing on some input: the training's error
                raise TrainingError(f"tokenizing failed: {_describe_failure(exc, block, tokenize)}") from None
            yield result
        if job in _COUNTING:
            flush_counts(tokenize, counts)
        return
    if _FORK and settings.morphological:
        # The analyzer loaded and warmed up once here (kiwi: a second to load its model, about 100 MB,
        # and more than a second more on its first line), inherited by the forked workers, which
        # share its pages, instead of in each one. Should it fail, each worker fails the same way
        # and reports it.
        try:
            tokenize = make_tokenizer(settings)
            tokenize(WARM_UP)
            counter = getattr(tokenize, "counter", None)
            if counter is not None:  # its compiled kernels loaded here, once
                counter.block([WARM_UP], MAX_SENTENCE_TOKENS)
        except Exception:
            pass
    pool = _Workers(workers, settings, job)
    try:
        # Block i goes to worker i % n; at most IN_FLIGHT_PER_WORKER blocks wait per worker.
        sent = received = 0
        limit = workers * IN_FLIGHT_PER_WORKER
        for block in _blocks(corpus.batches(on_progress)):
            pool.inboxes[sent % workers].put(block)
            sent += 1
            if sent - received >= limit:
                yield pool.receive(received % workers)
                received += 1
        while received < sent:
            yield pool.receive(received % workers)
            received += 1
        counts.update(pool.counts())
    finally:
        pool.stop()


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
    tokens = sentences = 0

    def progress(done: int, total: int | None) -> None:
        if on_progress is not None:
            on_progress("tokenize", done, total, {"lines": corpus.stats.lines, "tokens": tokens})

    with open(path, "wb", buffering=1 << 20) as out:  # UTF-8 text of the blocks (``_tokenize_lines``)
        for text, block_tokens, block_sentences in map_blocks(corpus, settings, "prepare", workers, progress, counts):
            out.write(text)
            tokens += block_tokens
            sentences += block_sentences
    stats = corpus.stats
    stats.tokens = tokens
    if stats.lines == 0:
        raise CorpusError(f"the corpus is empty ({', '.join(corpus.inputs)}): pass a file with text in it")
    if stats.tokens == 0:
        raise CorpusError(
            f"the corpus has no tokens ({stats.lines:,} line{'' if stats.lines == 1 else 's'}, no words):"
            " check the input"
            " or try --tokenizer whitespace"
        )
    return Prepared(path=path, counts=counts, stats=stats, sentences=sentences)


def count_blocks(corpus: Corpus, settings: TokenizerSettings, workers: int = 1) -> Counter:
    """The word counts of ``corpus``, tokenized in ``workers`` processes (``emb vocab``, which ranks
    them: their order is not kept)."""
    counts: Counter = Counter()
    for block in map_blocks(corpus, settings, "counts", workers, counts=counts):
        counts.update(block)
    return counts


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


def join_phrases(prepared: Prepared, settings, passes: int):
    """Run ``passes`` phrase passes over the tokenized corpus in place (``emb train --phrases N``):
    the file then holds ``new_york`` for ``new york`` and the counts count the joined tokens.
    Returns the ``PhraseTable`` to save with the model."""
    from embcli.phrasing import PhraseTable, check_passes, phrase_file

    check_passes(passes)
    table = PhraseTable(settings)
    last = None
    src = prepared.path
    tmp = src.with_name(src.name + ".phrases")
    try:
        for _ in range(passes):
            last = phrase_file(src, tmp, settings)
            tmp.replace(src)
            table.passes.append(last.phrases)
    finally:
        tmp.unlink(missing_ok=True)
    prepared.counts = Counter(last.counts)
    prepared.stats.tokens = last.tokens_out
    return table


def apply_phrases(prepared: Prepared, table) -> None:
    """Join the phrases of a saved ``PhraseTable`` in the tokenized corpus, in place (``--continue``
    of a model trained with phrases: the new text is joined as the old one was); counts follow."""
    src = prepared.path
    tmp = src.with_name(src.name + ".phrases")
    counts: Counter = Counter()
    tokens = 0
    try:
        with open(src, encoding="utf-8") as fh, open(tmp, "w", encoding="utf-8", newline="\n") as out:
            for line in fh:
                joined = table.join(line.split())
                counts.update(joined)
                tokens += len(joined)
                out.write(" ".join(joined) + "\n")
        tmp.replace(src)
    finally:
        tmp.unlink(missing_ok=True)
    prepared.counts = counts
    prepared.stats.tokens = tokens
