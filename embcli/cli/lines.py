"""Query lines from stdin or a file, in batches, with a bound on the length of one line."""

from __future__ import annotations

import os
import sys
from typing import Iterator

# Queries answered together at most: bounds the latency of the first answers of a long stream.
MAX_BATCH = 1024
# A byte order mark starting the input (Windows editors write one): not part of the first query.
BOM = "\ufeff"


def stdin_lines() -> Iterator[list[tuple[int, str]]]:
    """Batches of (line number, text) from stdin: the lines already there, without waiting for more.

    A line longer than the API's ``MAX_QUERY_LINE`` is not kept whole: its first characters stand
    for it (enough for the query check to refuse it) and the rest is read past, so a file without
    line breaks costs no more memory than one long query.
    """
    from embcli.api import MAX_QUERY_LINE

    keep = MAX_QUERY_LINE + 1
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd is None:
        # Not a real file (an in-memory stream): nothing can block, so read in fixed batches.
        batch: list[tuple[int, str]] = []
        for number, line in enumerate(sys.stdin, 1):
            if number == 1:
                line = line.removeprefix(BOM)
            batch.append((number, line[:keep].rstrip("\r\n")))
            if len(batch) >= MAX_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    import select

    if sys.stdin.isatty() and sys.stderr.isatty():
        from embcli.cli.console import info

        info("reading queries from stdin, one a line (Ctrl-D to end)")
    # A UTF-8 character takes at most 4 bytes: a line of more bytes than this is too long.
    keep_bytes = 4 * keep
    pending = b""
    skipping = False  # reading past the rest of an over-long line
    number = 0
    eof = False
    while not eof:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            eof = True
        pending += chunk
        # Take whatever else is ready now, without blocking, up to a batch of lines.
        while (not eof and pending.count(b"\n") < MAX_BATCH and len(pending) <= keep_bytes
               and select.select([fd], [], [], 0)[0]):
            more = os.read(fd, 1 << 16)
            if not more:
                eof = True
            pending += more
        lines = pending.split(b"\n")
        pending = b"" if eof else lines.pop()
        if skipping and (lines or eof):
            if lines:
                lines.pop(0)  # the end of the over-long line
            skipping = False
        if skipping:
            pending = b""
        elif len(pending) > keep_bytes:
            lines.append(pending[:keep_bytes])
            pending, skipping = b"", True
        batch = []
        for raw in lines:
            number += 1
            text = raw[:keep_bytes].decode("utf-8", "replace")[:keep].rstrip("\r")
            batch.append((number, text.removeprefix(BOM) if number == 1 else text))
            if len(batch) >= MAX_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def bounded_lines(fh, keep: int) -> Iterator[str]:
    """The lines of a text file, each cut to ``keep`` characters (the rest of a line is read past)."""
    first = True
    while True:
        line = fh.readline(keep)
        if not line:
            return
        if first:
            line, first = line.removeprefix(BOM), False
        if not line.endswith("\n"):
            while True:  # read past the rest of an over-long line
                rest = fh.readline(keep)
                if not rest or rest.endswith("\n"):
                    break
        yield line.rstrip("\r\n")


def vector_lines(source: str) -> Iterator[list[tuple[int, str]]]:
    """Batches of (line number, text) of query vectors: stdin (``-``) or a file read whole, each
    line cut as ``stdin_lines`` cuts them."""
    if source == "-":
        yield from stdin_lines()
        return
    from embcli.api import MAX_QUERY_LINE
    from embcli.errors import EmbError

    try:
        with open(source, encoding="utf-8") as fh:
            lines = list(enumerate(bounded_lines(fh, MAX_QUERY_LINE + 1), 1))
    except (OSError, UnicodeDecodeError) as exc:
        raise EmbError(f"{source}: cannot read vectors ({exc})") from None
    for at in range(0, len(lines), MAX_BATCH):
        yield lines[at : at + MAX_BATCH]
