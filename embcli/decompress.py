"""Compressed input: the compression named from the first bytes (gzip, bzip2, xz, zstd), not from the
file name, and a stream of the data decompressed, whose damaged or truncated data is one error naming
the source and the offset. Used by the corpus reader, the vector-file readers and the Spark engine.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from typing import BinaryIO

from embcli.errors import CorpusError, EmbError, caused_by_interrupt

_MAGIC = [
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
]


def detect_compression(head: bytes) -> str | None:
    """Name the compression whose magic bytes start ``head``, or None for plain data."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def decompressed(raw: BinaryIO, kind: str | None, source: str = "input", error: type[EmbError] = CorpusError) -> BinaryIO:
    """A buffered stream of the data in ``raw`` decompressed as ``kind`` (``raw`` itself when None).

    This is the one place where decompressors' complaints (``zlib.error``, ``BadGzipFile``,
    ``LZMAError``, ``ZstdError``, ``EOFError`` for a stream that ends early, bzip2's ``OSError``)
    become one ``error`` naming ``source`` and the offset; a zstd stream cut inside a frame, which
    ``zstandard`` itself lets pass, is caught here too.
    """
    if kind is None:
        return raw
    counted = _Counted(raw)
    if kind == "gzip":
        inner = gzip.GzipFile(fileobj=counted, mode="rb")
    elif kind == "bzip2":
        inner = bz2.BZ2File(counted, mode="rb")
    elif kind == "xz":
        inner = lzma.LZMAFile(counted, mode="rb")
    else:
        inner = _ZstdReader(counted)
    return io.BufferedReader(_Checked(inner, counted, kind, source, error), buffer_size=1 << 20)


class _Counted:
    """A reader that counts the (compressed) bytes read through it, for error messages."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.count = 0
        self.name = getattr(raw, "name", "")

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()


class _ZstdReader(io.RawIOBase):
    """zstd frames one after the other; the input ending inside a frame is an ``EOFError``.

    ``zstandard``'s own stream reader returns what it has when the input stops mid-frame, so a cut
    file would read as a shorter one; feeding a decompression object 16 KB at a time keeps the
    frame state visible and the output of one step bounded.
    """

    FEED = 1 << 14

    def __init__(self, raw):
        import zstandard

        self._raw = raw
        self._new = zstandard.ZstdDecompressor().decompressobj
        self._obj = None
        self._pending = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._pos >= len(self._pending):
            data = self._raw.read(self.FEED)
            if not data:
                if self._obj is not None and not self._obj.eof:
                    raise EOFError("the input ends inside a zstd frame")
                return 0
            out = []
            while data:
                if self._obj is None or self._obj.eof:
                    self._obj = self._new()
                out.append(self._obj.decompress(data))
                data = self._obj.unused_data if self._obj.eof else b""
            self._pending, self._pos = b"".join(out), 0
        n = min(len(b), len(self._pending) - self._pos)
        b[:n] = self._pending[self._pos : self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        super().close()
        self._raw.close()


class _Checked(io.RawIOBase):
    """The decompressed bytes of ``inner``; damaged or truncated data becomes one ``EmbError``."""

    def __init__(self, inner, counted: _Counted, kind: str, source: str, error: type[EmbError]):
        self._inner = inner
        self._counted = counted
        self.kind = kind
        self.source = source
        self.error = error
        self.produced = 0
        self.name = counted.name

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        try:
            n = self._inner.readinto(b)
        except Exception as exc:
            if caused_by_interrupt(exc):
                raise KeyboardInterrupt from None
            if not _is_data_error(exc):
                raise
            raise self.error(self._message(exc)) from None
        self.produced += n or 0
        return n

    def _message(self, exc: Exception) -> str:
        at = f"byte {self._counted.count:,}"
        if isinstance(exc, EOFError):
            return (
                f"{self.source}: the {self.kind} data ends early, at {at}: the file is truncated;"
                " download or compress it again"
            )
        detail = str(exc).split("\n")[0][:120] or type(exc).__name__
        return f"{self.source}: damaged {self.kind} data near {at} ({detail}): the file is corrupt"

    def close(self) -> None:
        try:
            self._inner.close()
        except Exception:  # closing a damaged decompressor may complain again; the error is already told
            pass
        super().close()


def _is_data_error(exc: Exception) -> bool:
    """Whether ``exc`` is a decompressor's complaint about damaged or truncated data."""
    return isinstance(exc, (OSError, EOFError, lzma.LZMAError, zlib.error)) or type(exc).__name__ == "ZstdError"
