"""word2vec text and binary files (the C tool's and gensim's layouts); also fastText's ``.vec``.

Text: a header line ``V D``, then ``word v1 ... vD`` a line. Binary: the same header, then per row
the word, a space and D little-endian float32 values, optionally followed by a newline (the C tool
writes one, gensim does not). Text is parsed a block of lines at a time (one ``split`` and one
float conversion per block) and written through Arrow's shortest round-trip float formatting, so
values survive a round trip bit for bit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np

from embcli.errors import FormatError
from embcli.folder import FolderWriter, ImportSummary, RowProgress

CHUNK = 1 << 23  # bytes read at a time
MAX_LINE = 1 << 26  # a text row longer than this (64 MB) is not a row: the file is not text vectors
WRITE_ROWS = 2048  # rows formatted at a time
MAX_DIM = 1 << 20


# ----------------------------------------------------------------------------------------------
# text
# ----------------------------------------------------------------------------------------------


def _is_number(token: bytes) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


def parse_header(line: bytes, source: str) -> tuple[int, int]:
    """The ``V D`` header of a word2vec file."""
    parts = line.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        shown = line[:60].decode("utf-8", "replace").strip()
        raise FormatError(
            f"{source}: line 1: expected a header 'ROWS DIM', found {shown!r}:"
            " for a file without a header use --format glove"
        )
    return int(parts[0]), int(parts[1])


def _parse_lines(lines: list[bytes], first_line: int, dim: int, source: str, dim_from: str):
    """Words, their vectors and line numbers of a block of text lines."""
    words: list[bytes] = []
    linenos: list[int] = []
    values: list[bytes] = []
    want = dim + 1
    for i, line in enumerate(lines):
        parts = line.split()
        n = len(parts)
        if n == want:
            words.append(parts[0])
            values += parts[1:]
        elif n == 0:
            continue
        elif n > want and not _is_number(parts[n - want]):
            # A word holding spaces (GloVe's Common Crawl files have some): the last D fields are values,
            # the word what comes before them, as it is written (a tab inside stays a tab, as gensim reads it).
            words.append(line.rsplit(None, dim)[0].strip())
            values += parts[n - dim :]
        else:
            raise FormatError(
                f"{source}: line {first_line + i}: {n - 1} values, but {dim_from} {dim}:"
                " the file is damaged or not in this format"
            )
        linenos.append(first_line + i)
    try:
        with np.errstate(over="ignore"):  # 1e39 becomes inf, which the folder writer refuses by name
            vectors = np.array(values, dtype=np.float32).reshape(len(words), dim)
    except ValueError:
        _locate_bad_value(lines, first_line, dim, source)
        raise
    return words, vectors, linenos


def _locate_bad_value(lines: list[bytes], first_line: int, dim: int, source: str) -> None:
    for i, line in enumerate(lines):
        parts = line.split()
        for j, token in enumerate(parts[len(parts) - dim :] if parts else []):
            if not _is_number(token):
                column = len(parts) - dim + j + 1
                shown = token[:40].decode("utf-8", "replace")
                raise FormatError(
                    f"{source}: line {first_line + i}, column {column}: {shown!r} is not a number"
                )


def iter_text_blocks(
    stream: BinaryIO, first_line: int, dim: int, source: str, dim_from: str, pending: bytes = b""
) -> Iterator[tuple[list[bytes], np.ndarray, list[int], int]]:
    """Yield (words, vectors, line numbers, bytes consumed) for blocks of whole lines."""
    line_no = first_line
    rest = pending
    while True:
        data = stream.read(CHUNK)
        if not data:
            if rest.strip():
                words, vectors, linenos = _parse_lines([rest], line_no, dim, source, dim_from)
                yield words, vectors, linenos, len(rest)
            return
        buf = rest + data if rest else data
        cut = buf.rfind(b"\n")
        if cut < 0:
            rest = buf
            if len(rest) > MAX_LINE:
                raise FormatError(
                    f"{source}: line {line_no}: more than {MAX_LINE:,} bytes without a line break:"
                    " not a text vector file (pass --format for a binary one)"
                )
            continue
        block, rest = buf[: cut + 1], buf[cut + 1 :]
        lines = block.split(b"\n")
        lines.pop()
        words, vectors, linenos = _parse_lines(lines, line_no, dim, source, dim_from)
        line_no += len(lines)
        yield words, vectors, linenos, len(block)


def _first_line(stream: BinaryIO, source: str) -> bytes:
    line = stream.readline(MAX_LINE + 1)
    if not line:
        raise FormatError(f"{source}: the file is empty: there are no vectors to read")
    if len(line) > MAX_LINE:
        raise FormatError(
            f"{source}: the first line is longer than {MAX_LINE:,} bytes: not a text vector file"
            " (pass --format for a binary one)"
        )
    return line


def read_text_into(
    stream: BinaryIO,
    sink_for: Callable[[int], FolderWriter],
    source: str,
    header: bool,
    total: int | None = None,
    progress: RowProgress | None = None,
) -> FolderWriter:
    """Stream a word2vec-style text file (with or without header) into the sink ``sink_for(dim)``."""
    first = _first_line(stream, source)
    done = len(first)
    if header:
        rows, dim = parse_header(first, source)
        pending, first_line, dim_from = b"", 2, "the header says"
    else:
        while first and not first.strip():
            first = _first_line(stream, source)
            done += len(first)
        parts = first.split()
        if len(parts) < 2:
            raise FormatError(f"{source}: line 1: expected 'word v1 v2 ...', found {first[:60]!r}")
        dim = sum(1 for _ in range(len(parts) - 1))
        rows, pending, first_line, dim_from = None, first, 1, "the first line has"
        done = 0
    sink = sink_for(dim)
    seen_rows = 0
    last_line = first_line - 1
    for words, vectors, linenos, consumed in iter_text_blocks(stream, first_line, dim, source, dim_from, pending):
        if rows is not None and seen_rows + len(words) > rows:
            extra = rows - seen_rows
            raise FormatError(
                f"{source}: line {linenos[extra]}: more rows than the header's {rows}:"
                " the header disagrees with the rows"
            )
        sink.add(words, vectors, where=lambda i, ln=linenos: f"line {ln[i]}")
        seen_rows += len(words)
        if linenos:
            last_line = linenos[-1]
        done += consumed
        if progress:
            progress(done, total, sink.summary.rows)
        if sink.full:
            return sink
    if rows is not None and seen_rows != rows:
        raise FormatError(
            f"{source}: line {last_line + 1}: the file ends after {seen_rows} rows but the header says {rows}:"
            " the file is truncated or its header is wrong"
        )
    return sink


def format_rows(words: list[str], block: np.ndarray) -> bytes:
    """``word v1 ... vD`` lines for a block, floats in their shortest round-trip form."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n, dim = block.shape
    if n == 0:
        return b""
    values = pc.cast(pa.array(np.ascontiguousarray(block, dtype=np.float32).ravel()), pa.string())
    offsets = pa.array(np.arange(0, n * dim + 1, dim, dtype=np.int32))
    rows = pc.binary_join(pa.ListArray.from_arrays(offsets, values), " ")
    lines = pc.binary_join_element_wise(pa.array(words, pa.string()), rows, " ")
    whole = pc.binary_join(pa.ListArray.from_arrays(pa.array(np.array([0, n], dtype=np.int32)), lines), "\n")
    return whole[0].as_buffer().to_pybytes() + b"\n"


def iter_export_blocks(model, limit: int | None, normalize: bool, rows: int = WRITE_ROWS):
    """Yield (words, float32 block) of a model's first ``limit`` rows, unit length if ``normalize``."""
    total = model.vocab_size if limit is None else min(limit, model.vocab_size)
    words = model.words
    for start in range(0, total, rows):
        stop = min(start + rows, total)
        block = np.asarray(model.vectors[start:stop], dtype=np.float32)
        if normalize:
            norms = np.asarray(model.norms[start:stop], dtype=np.float32)[:, None]
            block = np.divide(block, norms, out=np.zeros_like(block), where=norms > 0)
        yield words[start:stop], block


_BLANK = re.compile(r"[ \t\r\x0b\x0c]")  # what readers of these formats split rows at


def check_words_for_text(model, limit: int | None, fmt: str) -> None:
    """Refuse, before writing anything, words that a text or binary vector file cannot hold.

    Readers of these formats (emb's, gensim's, the C tool's) split a row at white space, so a word
    holding a space or a tab (Parquet files and GloVe's Common Crawl files have some) would come
    back as other words or break the file. Such models go to Parquet or a model folder instead.
    """
    total = model.vocab_size if limit is None else min(limit, model.vocab_size)
    words = model.words[:total]
    if not _BLANK.search("\n".join(words)):
        return
    bad = [i for i, w in enumerate(words) if _BLANK.search(w)]
    more = f" (and {len(bad) - 1:,} more)" if len(bad) > 1 else ""
    raise FormatError(
        f"word {words[bad[0]]!r} (row {bad[0] + 1}){more} holds white space, which {fmt} cannot hold"
        " (its readers split rows at white space): export to parquet or a model folder, which keep such words"
    )


def write_text(model, out: BinaryIO, header: bool, limit=None, normalize=False, progress=None) -> int:
    """Write a model as word2vec text (``header``) or GloVe text; return the rows written."""
    check_words_for_text(model, limit, "word2vec text" if header else "GloVe text")
    total = model.vocab_size if limit is None else min(limit, model.vocab_size)
    if header:
        out.write(f"{total} {model.dim}\n".encode())
    done = 0
    for words, block in iter_export_blocks(model, limit, normalize):
        out.write(format_rows(words, block))
        done += len(words)
        if progress:
            progress(done, total, done)
    return done


def read_word2vec(src: BinaryIO, folder: Path, source: str, **opts):
    """Read word2vec text into the model folder ``folder``; see ``embcli.formats.convert.read_into``."""
    return stream_text(src, folder, source, "word2vec", header=True, **opts)


def write_word2vec(model, dst: BinaryIO, limit=None, normalize=False, progress=None) -> int:
    """Write word2vec text: a ``V D`` header, then a word and its values a line."""
    return write_text(model, dst, True, limit, normalize, progress)


# ----------------------------------------------------------------------------------------------
# binary
# ----------------------------------------------------------------------------------------------


def read_binary_into(
    stream: BinaryIO,
    sink_for: Callable[[int], FolderWriter],
    source: str,
    total: int | None = None,
    progress: RowProgress | None = None,
) -> FolderWriter:
    """Stream a word2vec binary file into the sink ``sink_for(dim)``."""
    first = stream.readline(256)
    rows, dim = parse_header(first, source)
    row_bytes = 4 * dim
    need = rows * (row_bytes + 2)
    if dim > MAX_DIM or total is not None and len(first) + need > total:
        raise FormatError(
            f"{source}: the header claims {rows:,} rows of {dim:,} dimensions (at least {need:,} bytes)"
            f" but the file holds {'only ' + format(total - len(first), ',') if total is not None else 'fewer'} bytes:"
            " it is truncated or its header is wrong"
        )
    sink = sink_for(dim)
    offset = len(first)  # file offset of buf[0]
    buf = b""
    pos = 0
    row = 0
    eof = False
    while row < rows and not sink.full:
        data = b"" if eof else stream.read(CHUNK)
        eof = eof or not data
        buf = buf[pos:] + data
        offset += pos
        pos = 0
        n = len(buf)
        # Find the rows in a Python loop (a word has no fixed length), then copy all their vectors
        # with one gather over a strided view of the buffer.
        words: list[bytes] = []
        starts: list[int] = []
        find = buf.find
        want = rows - row
        while len(starts) < want:
            if pos < n and buf[pos] == 10:  # the newline the C tool writes after each vector
                pos += 1
            space = find(b" ", pos)
            if space < 0 or space + 1 + row_bytes > n:
                break
            words.append(buf[pos:space])
            starts.append(space + 1)
            pos = space + 1 + row_bytes
        if starts:
            raw = np.frombuffer(buf, dtype=np.uint8)
            rows_view = np.lib.stride_tricks.as_strided(raw, shape=(n - row_bytes + 1, row_bytes), strides=(1, 1))
            block = rows_view[np.asarray(starts, dtype=np.intp)].view("<f4")
            del raw, rows_view
            base = row
            sink.add(words, block, where=lambda i, b=base: f"row {b + i + 1}")
            row += len(starts)
            if progress:
                progress(offset + pos, total, sink.summary.rows)
        elif eof:
            raise FormatError(
                f"{source}: row {row + 1} of {rows} ends at byte {offset + len(buf)}: the file is truncated"
                f" (each row needs a word, a space and {row_bytes} bytes of vector)"
            )
        elif n - pos > 1 << 20 and find(b" ", pos) < 0:
            raise FormatError(f"{source}: row {row + 1} at byte {offset + pos}: no word found in 1 MB: not a word2vec binary file")
    if row == rows:
        _check_binary_end(stream, buf[pos:], offset + pos, rows, source)
    return sink


def _check_binary_end(stream: BinaryIO, rest: bytes, at: int, rows: int, source: str) -> None:
    """After the header's last row only white space may follow (the text reader refuses the same)."""
    while True:
        stripped = rest.lstrip(b" \t\r\n")
        if stripped:
            at += len(rest) - len(stripped)
            raise FormatError(
                f"{source}: byte {at:,}: more data after the header's {rows:,} rows: the header disagrees"
                " with the rows (fix its row count)"
            )
        at += len(rest)
        rest = stream.read(CHUNK)
        if not rest:
            return


def read_word2vec_binary(src: BinaryIO, folder: Path, source: str, **opts):
    """Read word2vec binary into the model folder ``folder``; see ``embcli.formats.convert.read_into``."""
    return _stream(read_binary_into, src, folder, source, "word2vec-binary", **opts)


def write_word2vec_binary(model, dst: BinaryIO, limit=None, normalize=False, progress=None) -> int:
    """Write word2vec binary in the C tool's layout (each row ends with a newline)."""
    check_words_for_text(model, limit, "word2vec binary")
    total = model.vocab_size if limit is None else min(limit, model.vocab_size)
    dst.write(f"{total} {model.dim}\n".encode())
    done = 0
    for words, block in iter_export_blocks(model, limit, normalize, rows=8192):
        raw = memoryview(np.ascontiguousarray(block, dtype="<f4")).cast("B")
        row_bytes = 4 * model.dim
        pieces: list = []
        add = pieces.append
        for i, word in enumerate("\n".join(words).encode("utf-8").split(b"\n")):
            add(word)
            add(b" ")
            add(raw[i * row_bytes : (i + 1) * row_bytes])
            add(b"\n")
        dst.write(b"".join(pieces))
        done += len(words)
        if progress:
            progress(done, total, done)
    return done


# ----------------------------------------------------------------------------------------------
# streaming into a folder (text, GloVe and binary alike)
# ----------------------------------------------------------------------------------------------


def stream_text(src: BinaryIO, folder: Path, source: str, fmt: str, header: bool, limit=None,
                lossy=False, total=None, progress=None, nonfinite="error") -> ImportSummary:
    """Read a word2vec-style text stream (with or without its ``V D`` header) into ``folder``."""

    def read(stream, sink_for, source_, total_, progress_):
        return read_text_into(stream, sink_for, source_, header, total_, progress_)

    return _stream(read, src, folder, source, fmt, limit=limit, lossy=lossy, total=total, progress=progress,
                   nonfinite=nonfinite)


def _stream(read, src: BinaryIO, folder: Path, source: str, fmt: str, limit=None, lossy=False, total=None,
            progress=None, nonfinite="error") -> ImportSummary:
    """Run a reader that learns the dimension from the file, then writes through one FolderWriter."""
    made: list[FolderWriter] = []

    def sink_for(dim: int) -> FolderWriter:
        made.append(FolderWriter(folder, dim, source, fmt, limit=limit, lossy=lossy, nonfinite=nonfinite))
        return made[0]

    try:
        sink = read(src, sink_for, source, total, progress)
        return sink.finish({"algorithm": "imported"})
    finally:
        for s in made:
            s.abort()
