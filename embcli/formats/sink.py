"""A streaming writer of a model folder: readers hand it blocks of words and vectors.

Readers never hold the whole matrix: each block of rows is checked (UTF-8, duplicates, line breaks),
appended to ``vectors.npy`` on disk and forgotten. The ``.npy`` header is written with room for any
shape and rewritten with the real row count at the end, so files without a row count (GloVe,
Parquet) stream as well as those with one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from embcli import __version__
from embcli.errors import FormatError
from embcli.store import FORMAT_VERSION

# Progress callback: (bytes or rows done, total or None, rows so far).
ProgressFn = Callable[[int, "int | None", int], None]

_HEADER_LEN = 128


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    """A version-1.0 ``.npy`` header of exactly 128 bytes for a C-ordered array of ``shape``."""
    text = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (descr, tuple(int(n) for n in shape))
    body_len = _HEADER_LEN - 10
    text = text.ljust(body_len - 1) + "\n"
    if len(text) != body_len:
        raise FormatError(f"array shape {shape} too large for a .npy header")
    return b"\x93NUMPY\x01\x00" + body_len.to_bytes(2, "little") + text.encode("latin1")


class NpyAppender:
    """Append rows to a ``.npy`` file; ``close`` writes the final shape into the header."""

    def __init__(self, path: Path, width: int, dtype: str = "<f4"):
        self.path = Path(path)
        self.width = width
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self._fh = open(self.path, "wb")
        self._fh.write(npy_header((0, width) if width else (0,), self.dtype.str))

    def append(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        self._fh.write(memoryview(block).cast("B"))
        self.rows += block.shape[0]

    def close(self) -> None:
        if self._fh.closed:
            return
        self._fh.seek(0)
        self._fh.write(npy_header((self.rows, self.width) if self.width else (self.rows,), self.dtype.str))
        self._fh.close()


@dataclass
class ImportSummary:
    """What a reader read: rows kept, dimension, skipped duplicates, replaced bytes."""

    rows: int = 0
    dim: int = 0
    duplicates: int = 0
    empty: int = 0
    replaced_bytes: int = 0
    seconds: float = 0.0
    first_duplicate: str | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "dim": self.dim,
            "skipped_duplicates": self.duplicates,
            "skipped_empty": self.empty,
            "replaced_bytes": self.replaced_bytes,
            "seconds": round(self.seconds, 3),
        }


def _count_replaced(raw: bytes) -> tuple[str, int]:
    """Decode with U+FFFD replacements; also return how many bytes were replaced."""
    replaced, pos = 0, 0
    while True:
        try:
            raw[pos:].decode("utf-8")
            break
        except UnicodeDecodeError as err:
            replaced += err.end - err.start
            pos += err.end
    return raw.decode("utf-8", errors="replace"), replaced


class ModelSink:
    """Collect a model's rows block by block into a folder (``vocab.txt``, ``vectors.npy``, ...).

    ``add(words, vectors, counts)`` takes UTF-8 byte strings (or str) and a float32 block; it keeps
    the first of duplicate words, stops at ``limit`` rows, and refuses invalid UTF-8 unless
    ``lossy`` (then the bytes become U+FFFD and are counted). ``where`` tells errors where a block
    came from (a callable giving the line or row of the i-th word of the last block).
    """

    def __init__(
        self,
        folder: Path,
        dim: int,
        source: str,
        fmt: str,
        limit: int | None = None,
        lossy: bool = False,
        with_counts: bool = False,
    ):
        if dim <= 0:
            raise FormatError(f"{source}: vector dimension {dim}: the file holds no vectors")
        self.folder = Path(folder)
        self.dim = dim
        self.source = source
        self.fmt = fmt
        self.limit = limit
        self.lossy = lossy
        self.summary = ImportSummary(dim=dim)
        self._seen: set[bytes] = set()
        self._vectors = NpyAppender(self.folder / "vectors.npy", dim)
        self._vocab = open(self.folder / "vocab.txt", "wb")
        self._norms: list[np.ndarray] = []
        self._counts: list[np.ndarray] | None = [] if with_counts else None
        self._started = time.perf_counter()

    @property
    def full(self) -> bool:
        return self.limit is not None and self.summary.rows >= self.limit

    def add(
        self,
        words: Sequence[bytes],
        vectors: np.ndarray,
        counts: np.ndarray | None = None,
        where: Callable[[int], str] | None = None,
    ) -> None:
        """Append a block; ``where(i)`` names the place of word ``i`` for error messages."""
        if self.full or not len(words):
            return
        vectors = np.asarray(vectors)
        if vectors.shape != (len(words), self.dim):
            raise FormatError(f"{self.source}: a block of {len(words)} words has vectors of shape {vectors.shape}")
        raw = list(words) if isinstance(words[0], bytes) else [w.encode("utf-8") for w in words]
        joined = b"\n".join(raw)
        try:
            joined.decode("utf-8")
        except UnicodeDecodeError:
            if not self.lossy:
                bad = next(i for i, w in enumerate(raw) if not _valid_utf8(w))
                place = where(bad) if where else f"row {self.summary.rows + bad + 1}"
                raise FormatError(
                    f"{self.source}: {place}: word {raw[bad]!r} is not valid UTF-8:"
                    " pass --lossy to replace the bad bytes with U+FFFD"
                ) from None
            fixed = []
            for w in raw:
                if _valid_utf8(w):
                    fixed.append(w)
                else:
                    text, n = _count_replaced(w)
                    self.summary.replaced_bytes += n
                    fixed.append(text.encode("utf-8"))
            raw = fixed
            joined = b"\n".join(raw)
        seen = self._seen
        room = None if self.limit is None else self.limit - self.summary.rows
        fresh = set(raw)
        if (
            len(fresh) == len(raw)
            and (room is None or room >= len(raw))
            and b"" not in fresh
            and b"\r" not in joined
            and joined.count(b"\n") == len(raw) - 1
            and seen.isdisjoint(fresh)
        ):
            # The common case, checked at C speed: all new, none empty, no line breaks.
            seen |= fresh
            keep = list(range(len(raw)))
        else:
            keep = self._keep(raw, where, room)
        if len(keep) != len(raw):
            idx = np.asarray(keep, dtype=np.intp)
            vectors = vectors[idx]
            counts = None if counts is None else np.asarray(counts)[idx]
            raw = [raw[i] for i in keep]
        if not raw:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._vectors.append(vectors)
        self._vocab.write((joined if len(keep) == len(words) else b"\n".join(raw)) + b"\n")
        self._norms.append(row_norms(vectors))
        if self._counts is not None:
            self._counts.append(
                np.full(len(raw), -1, dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64)
            )
        self.summary.rows += len(raw)

    def _keep(self, raw: list[bytes], where, room: int | None) -> list[int]:
        """Rows of ``raw`` to keep: first occurrences, non-empty, up to ``room``; line breaks are errors."""
        keep: list[int] = []
        seen = self._seen
        for i, w in enumerate(raw):
            if w in seen:
                self.summary.duplicates += 1
                if self.summary.first_duplicate is None:
                    self.summary.first_duplicate = w.decode("utf-8", "replace")
                continue
            if not w:
                self.summary.empty += 1
                continue
            if b"\n" in w or b"\r" in w:
                place = where(i) if where else f"row {self.summary.rows + i + 1}"
                raise FormatError(f"{self.source}: {place}: word {w!r} holds a line break; a model cannot store it")
            seen.add(w)
            keep.append(i)
            if room is not None and len(keep) >= room:
                break
        return keep

    def finish(self, meta: dict | None = None) -> ImportSummary:
        """Close the files and write ``norms.npy``, ``counts.npy``, ``meta.json``."""
        self._vectors.close()
        self._vocab.close()
        if self.summary.rows == 0:
            raise FormatError(f"{self.source}: no vectors found: the file is empty or not {self.fmt}")
        np.save(self.folder / "norms.npy", np.concatenate(self._norms))
        if self._counts is not None:
            counts = np.concatenate(self._counts)
            if (counts >= 0).all():
                np.save(self.folder / "counts.npy", counts)
        self.summary.seconds = time.perf_counter() - self._started
        meta = dict(meta or {})
        meta.setdefault("algorithm", "imported")
        # Imported vocabularies are taken as they are: query words are matched exactly.
        meta.setdefault("tokenizer", {"mode": "whitespace", "lowercase": False, "min_token_length": 1})
        meta.update(
            format_version=FORMAT_VERSION,
            emb_version=__version__,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            vocab_size=self.summary.rows,
            dim=self.dim,
        )
        meta["import"] = {"source": self.source, "format": self.fmt, **self.summary.as_dict(), **self.summary.extra}
        with open(self.folder / "meta.json", "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        return self.summary

    def abort(self) -> None:
        self._vectors.close()
        self._vocab.close()


def row_norms(vectors: np.ndarray) -> np.ndarray:
    """Euclidean norms of float32 rows, in float32; rows that overflow are redone in float64."""
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    bad = ~np.isfinite(norms)
    if bad.any():
        wide = vectors[bad].astype(np.float64)
        norms[bad] = np.sqrt(np.einsum("ij,ij->i", wide, wide))
    return norms


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
