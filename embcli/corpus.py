"""Streaming corpus readers: files, folders, globs and stdin, plain or compressed.

Compression is detected from the first bytes (``embcli.decompress``), not from the file name. Lines
are read as bytes, many at a time, and decoded as UTF-8; invalid bytes become U+FFFD and are counted,
NUL bytes become spaces. A line longer than ``MAX_LINE_BYTES`` is handed out in pieces broken at
white space, so memory stays bounded even for a file without newlines.
"""

from __future__ import annotations

import codecs
import glob
import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence

from embcli.decompress import decompressed, detect_compression
from embcli.errors import CorpusError, caused_by_interrupt
from embcli.morph_text import ENDS_BYTES, cut_point

MAX_LINE_BYTES = 1 << 20
# What the reader reads at once (``_runs``): whole lines of it are decoded and split together.
RUN_BYTES = 1 << 18
SNIFF_BYTES = 1 << 16
# A file whose first SNIFF_BYTES are more than this share of undecodable or NUL bytes is not text,
# provided there are at least NOT_TEXT_MIN_BAD of them (a short line with one bad byte is still text).
NOT_TEXT_SHARE = 0.10
NOT_TEXT_MIN_BAD = 16
_GLOB_CHARS = set("*?[")

_replaced = [0]


def _count_replace(err: UnicodeDecodeError):
    _replaced[0] += err.end - err.start
    return "\ufffd" * (err.end - err.start), err.end


codecs.register_error("embcli-count", _count_replace)


@dataclass
class CorpusStats:
    """What a pass over the corpus saw; ``tokens`` is filled by whoever tokenizes."""

    inputs: list[str] = field(default_factory=list)
    files: int = 0
    lines: int = 0
    bytes: int = 0
    replaced_bytes: int = 0
    tokens: int = 0

    def as_dict(self) -> dict:
        return {
            "inputs": list(self.inputs),
            "files": self.files,
            "lines": self.lines,
            "bytes": self.bytes,
            "replaced_bytes": self.replaced_bytes,
            "tokens": self.tokens,
        }


def resolve_inputs(inputs: Sequence[str]) -> list[str]:
    """Expand folders (recursively, hidden files skipped) and globs into a sorted list of files.

    ``-`` stands for standard input and is kept as it is.
    """
    if not inputs:
        raise CorpusError("no corpus given: pass a file, folder, glob or - for stdin")
    out: list[str] = []
    for item in inputs:
        if item == "-":
            out.append("-")
            continue
        path = Path(item)
        if path.is_dir():
            found = sorted(
                str(p)
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise CorpusError(f"{item}: folder holds no files: pass a folder with text files in it")
            out.extend(found)
        elif path.is_file():
            out.append(item)
        elif path.exists():
            raise CorpusError(f"{item}: not a regular file or folder: pass a text file")
        elif _GLOB_CHARS & set(item):
            found = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not found:
                raise CorpusError(f"{item}: no file matches this pattern: check the glob")
            out.extend(found)
        else:
            raise CorpusError(f"{item}: no such file or folder: check the path")
    return out


class Corpus:
    """A sequence of inputs read as one stream of lines.

    ``lines()`` may be called more than once (stdin only once). ``stats`` describes the last pass.
    ``on_progress(done_bytes, total_bytes)`` is called now and then with on-disk (compressed) bytes.
    """

    def __init__(self, inputs: Sequence[str], stdin: BinaryIO | None = None):
        self.inputs = list(inputs)
        self.files = resolve_inputs(inputs)
        self._stdin = stdin
        self._whole = False
        self.stats = CorpusStats(inputs=self.inputs)

    @property
    def total_size(self) -> int | None:
        """Bytes on disk of all inputs, or None when stdin is one of them."""
        if "-" in self.files:
            return None
        return sum(os.path.getsize(f) for f in self.files)

    def lines(
        self, on_progress: Callable[[int, int | None], None] | None = None, whole: bool = False
    ) -> Iterator[str]:
        """The text lines of every input, in order. A line over ``MAX_LINE_BYTES`` comes in pieces
        (for tokenizing, where a piece is as good as a line), or with ``whole`` in one piece (for
        what gives each line one answer: ``emb embed``, ``emb search``)."""
        for batch in self.batches(on_progress, whole):
            yield from batch

    def batches(
        self, on_progress: Callable[[int, int | None], None] | None = None, whole: bool = False
    ) -> Iterator[list[str]]:
        """The lines of ``lines()`` as the reader decodes them: in lists, up to RUN_BYTES of whole
        lines at a time (one line at a time where a line is long or not all UTF-8). For a reader of
        many lines, such as the tokenizing pass, which need not go through them one by one."""
        self.stats = CorpusStats(inputs=self.inputs)
        self._whole = whole
        total = self.total_size
        done_before = 0
        for name in self.files:
            if name == "-":
                raw = self._stdin if self._stdin is not None else sys.stdin.buffer
                yield from self._read(raw, "stdin", lambda: 0, None, 0, on_progress)
                continue
            try:
                raw = open(name, "rb", buffering=1 << 20)
            except OSError as exc:
                raise CorpusError(f"{name}: cannot open ({exc.strerror}): check its permissions") from None
            with raw:
                yield from self._read(raw, name, raw.tell, total, done_before, on_progress)
            done_before += os.path.getsize(name)

    def _read(self, raw, name, position, total, done_before, on_progress) -> Iterator[list[str]]:
        stats = self.stats
        stats.files += 1
        if not isinstance(raw, io.BufferedReader):
            raw = io.BufferedReader(raw, buffer_size=1 << 20)
        kind = detect_compression(raw.peek(8)[:8])
        try:
            stream = decompressed(raw, kind, name, CorpusError)
            first = True
            count = 0
            ended = True  # the last piece ended its line: a line cut into pieces counts once
            held: list[str] = []
            for piece, is_run in _runs(stream, lambda head: _check_text(head, name)):
                stats.bytes += len(piece)
                if first:
                    first = False
                    piece = piece.removeprefix(b"\xef\xbb\xbf")  # a byte order mark is no text of the line
                if is_run:  # whole lines, none of them long: decoded and split at once
                    texts = _decode_run(piece)
                    if texts is not None:
                        stats.lines += len(texts)
                        yield texts
                        if on_progress is not None:
                            on_progress(done_before + position(), total)
                        continue
                    # Not all UTF-8: line by line, so that the counts grow with the line they are on.
                    line_pieces = [line + b"\n" for line in piece.split(b"\n")[:-1]]
                else:
                    line_pieces = [piece]
                for piece in line_pieces:
                    text, replaced = decode_piece(piece)
                    stats.replaced_bytes += replaced
                    ended = piece.endswith(b"\n")
                    stats.lines += ended
                    count += 1
                    if on_progress is not None and count % 4096 == 0:
                        on_progress(done_before + position(), total)
                    if self._whole and (held or not ended):
                        held.append(text)  # a piece of a longer line: given when its line is whole
                        if not ended:
                            continue
                        text, held = "".join(held), []
                    yield [text]
            stats.lines += not ended  # a last line without its line end
            if held:
                yield ["".join(held)]
        except OSError as exc:
            # Decompression errors are told by ``decompressed``; this is the disk or pipe failing.
            if caused_by_interrupt(exc):
                raise KeyboardInterrupt from None
            raise CorpusError(f"{name}: cannot read ({exc.strerror or exc}): check the file") from None
        if on_progress is not None:
            on_progress(done_before + position(), total)


def decode_piece(piece: bytes) -> tuple[str, int]:
    """One line of bytes as the text every engine tokenizes, and how many bytes were not UTF-8.

    Invalid bytes become one U+FFFD each, NUL bytes spaces, and line ends (``\\n``, ``\\r\\n``) are cut.
    """
    replaced = 0
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        before = _replaced[0]
        text = piece.decode("utf-8", "embcli-count")
        replaced = _replaced[0] - before
    if "\x00" in text:
        text = text.replace("\x00", " ")
    return text.rstrip("\r\n"), replaced


def _decode_run(run: bytes) -> list[str] | None:
    """``decode_piece`` of each line of ``run`` (whole lines, each ending in a line end), done at once;
    None when the run is not all UTF-8."""
    try:
        text = run.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        text = text.replace("\x00", " ")
    lines = text.split("\n")
    lines.pop()
    if "\r" in text:
        lines = [line.rstrip("\r") for line in lines]
    return lines


def _runs(stream: io.BufferedReader, sniff: Callable[[bytes], None]) -> Iterator[tuple[bytes, bool]]:
    """The stream's bytes as (run, True): whole lines, each ending in a line end and shorter than
    MAX_LINE_BYTES, RUN_BYTES or so at a time; or as (piece, False): one piece of ``_pieces``, for the
    last line when it has no line end, and for the rest of the stream from the first line too long
    to come whole (that line is cut into pieces as ``_pieces`` cuts it). ``sniff`` is called with
    the first bytes of the stream, before anything is given.

    Reads with ``read1``: what a pipe has given so far, without waiting for more, so that lines
    come as soon as they are written. (Only the first line of what is read can be longer than
    RUN_BYTES, which is less than MAX_LINE_BYTES: it alone is measured.)"""
    sniff(stream.peek(SNIFF_BYTES)[:SNIFF_BYTES])  # what the first read brings, and no more
    carry = b""
    read1 = stream.read1
    while True:
        chunk = read1(RUN_BYTES)
        data = carry + chunk if carry else chunk
        if not chunk:
            if data and len(data) < MAX_LINE_BYTES:
                yield data, False
            elif data:
                yield from ((piece, False) for piece in _pieces(io.BytesIO(data)))
            return
        first_end = data.find(b"\n") + 1
        if first_end > MAX_LINE_BYTES or (first_end == 0 and len(data) >= MAX_LINE_BYTES):
            rest = io.BufferedReader(_Prefixed(data, stream), buffer_size=MAX_LINE_BYTES)
            yield from ((piece, False) for piece in _pieces(rest))
            return
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut], True
            carry = data[cut:]
        else:
            carry = data


class _Prefixed(io.RawIOBase):
    """``head``, then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read1(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def line_pieces(line: bytes) -> Iterator[bytes]:
    """The pieces one line of bytes (without its line end, or with it) is read as: itself, or for a
    line longer than MAX_LINE_BYTES, the pieces ``Corpus.lines`` breaks it into (see ``_cut``)."""
    if len(line) < MAX_LINE_BYTES:
        yield line
    else:
        yield from _pieces(io.BytesIO(line))


def _pieces(stream: BinaryIO) -> Iterator[bytes]:
    """Yield lines of bytes, breaking lines longer than MAX_LINE_BYTES into pieces of at most that
    many bytes (see ``_cut``)."""
    carry = b""
    readline = stream.readline
    while True:
        chunk = readline(MAX_LINE_BYTES - len(carry))
        if carry:
            chunk, carry = carry + chunk, b""
        if not chunk:
            return
        if chunk.endswith(b"\n") or len(chunk) < MAX_LINE_BYTES:
            yield chunk
            continue
        cut = _cut(chunk)
        yield chunk[:cut]
        carry = chunk[cut:]


def _cut(chunk: bytes) -> int:
    """Where to end a piece of a line too long to come whole: at the last white space of the piece's
    second half; else just after the last end of a sentence there, then of a clause (Japanese and
    Chinese, written without spaces), as the analyzers' pieces are cut (``morph_text.cut_point``, which
    leaves a byte to carry: a line end after it is no piece of its own); else before the last UTF-8
    character, inside a word."""
    cut = cut_point(chunk, len(chunk) // 2, len(chunk), (b" ", b"\t"), ENDS_BYTES)
    if cut > 0:
        return cut
    cut = len(chunk) - 1
    while cut > 0 and (chunk[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut or len(chunk)


def _check_text(head: bytes, name: str) -> None:
    """Refuse input whose first bytes (at most SNIFF_BYTES of them) are mostly not UTF-8 text."""
    head = head[:SNIFF_BYTES]
    if not head:
        return
    bad = head.count(b"\x00")
    before = _replaced[0]
    # Cut at most 3 bytes off the end so a character split by the sniff window is not counted.
    head.decode("utf-8", "embcli-count") if len(head) < 4 else head[:-3].decode("utf-8", "embcli-count")
    bad += _replaced[0] - before
    _replaced[0] = before
    if bad > NOT_TEXT_SHARE * len(head) and bad >= NOT_TEXT_MIN_BAD:
        raise CorpusError(
            f"{name}: not text ({100 * bad / len(head):.0f}% of the first bytes are not UTF-8 text):"
            " pass plain or compressed UTF-8 text"
        )
