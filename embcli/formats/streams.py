"""Byte streams of vector files: stdin or a path, compressed or not, for reading and writing."""

from __future__ import annotations

import io
import os
import sys
from typing import BinaryIO

from embcli.corpus import decompressed, detect_compression
from embcli.errors import FormatError


def read_head(path: str, n: int = 4096) -> bytes:
    """The first ``n`` bytes of ``path``, decompressed."""
    with open(path, "rb") as raw:
        start = raw.read(8)
        raw.seek(0)
        stream = decompressed(raw, detect_compression(start))
        return stream.read(n)


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
    stream = decompressed(buffered, kind)
    if kind is not None:
        size = None
    return stream, size


def open_output(path: str, kind: str | None = None) -> BinaryIO:
    """Open ``path`` for writing (``-`` is stdout), compressed as ``kind`` (gzip, bzip2, xz, zstd)."""
    if path == "-":
        return sys.stdout.buffer
    if kind == "gzip":
        import gzip

        return gzip.open(path, "wb", compresslevel=6)
    if kind == "bzip2":
        import bz2

        return bz2.open(path, "wb")
    if kind == "xz":
        import lzma

        return lzma.open(path, "wb")
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().stream_writer(open(path, "wb"), closefd=True)
    return open(path, "wb", buffering=1 << 20)
