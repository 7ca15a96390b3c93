"""Byte streams of vector files: stdin or a path, compressed or not, for reading and writing.

Reading goes through ``embcli.decompress.decompressed``, the one place where damaged or truncated
compressed data becomes a ``FormatError`` naming the file and the offset; a leading UTF-8 byte
order mark is dropped here, so every reader and the format sniffing see the data after it.
"""

from __future__ import annotations

import io
import os
import sys
from typing import BinaryIO

from embcli.decompress import decompressed, detect_compression
from embcli.errors import FormatError


BOM = b"\xef\xbb\xbf"


def read_head(path: str, n: int = 4096) -> bytes:
    """The first ``n`` bytes of ``path``, decompressed, without a byte order mark."""
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise FormatError(f"{path}: cannot open ({exc.strerror}): check the path") from None
    with raw:
        start = raw.read(8)
        raw.seek(0)
        stream = decompressed(raw, detect_compression(start), path, FormatError)
        head = stream.read(n + len(BOM))
    return head[len(BOM) :][:n] if head.startswith(BOM) else head[:n]


def open_input(path: str) -> tuple[BinaryIO, int | None]:
    """A binary stream over ``path`` (``-`` for stdin), decompressed by magic bytes; and its size."""
    if path == "-":
        raw = sys.stdin.buffer
        size = None
    else:
        try:
            raw = open(path, "rb")
        except OSError as exc:
            raise FormatError(f"{path}: cannot open ({exc.strerror}): check the path") from None
        size = os.fstat(raw.fileno()).st_size
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, 1 << 20)
    kind = detect_compression(buffered.peek(8)[:8])
    stream = decompressed(buffered, kind, "stdin" if path == "-" else path, FormatError)
    if kind is not None:
        size = None
    if stream.peek(len(BOM))[: len(BOM)] == BOM:
        stream.read(len(BOM))
    return stream, size


def open_output(path: str, kind: str | None = None) -> BinaryIO:
    """Open ``path`` for writing (``-`` is stdout), compressed as ``kind`` (gzip, bzip2, xz, zstd)."""
    if path == "-":
        return sys.stdout.buffer
    if kind == "gzip":
        import gzip

        # No file name in the header: ``path`` is a temporary sibling of the output (gunzip -N would
        # restore that name); an empty name leaves gunzip the file's own.
        raw = open(path, "wb")
        out = gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=raw)
        out.myfileobj = raw  # closed with it, as when GzipFile opens the file itself
        return out
    if kind == "bzip2":
        import bz2

        return bz2.open(path, "wb")
    if kind == "xz":
        import lzma

        return lzma.open(path, "wb")
    if kind == "zstd":
        import zstandard

        # With the content checksum, as the zstd command writes it: damage is then detected on reading.
        return zstandard.ZstdCompressor(write_checksum=True).stream_writer(open(path, "wb"), closefd=True)
    return open(path, "wb", buffering=1 << 20)
