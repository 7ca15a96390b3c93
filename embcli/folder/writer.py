"""The one writer of model folders: importers, trainers and exports hand it blocks of rows.

Producers never hold the whole matrix: each block of rows is checked (UTF-8, duplicates, line
breaks), appended to ``vectors.npy`` on disk and forgotten. The ``.npy`` header is written with room
for any shape and rewritten with the real row count at the end, so files without a row count (GloVe,
Parquet) stream as well as those with one. ``finish`` writes ``norms.npy``, ``counts.npy`` and
``meta.json`` by the one metadata policy of ``layout.complete_meta``; ``write_model`` also writes a
trainer's state (``state/``, see ``layout.STATE_FILES``) into the same folder, before ``meta.json``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from embcli.errors import FormatError, ModelError, UsageError
from embcli.wire.npy import NpyAppender
from embcli.folder.rows import all_finite, row_norms
from embcli.folder.layout import (
    COUNTS, NGRAMS, NORMS, PHRASES, STATE, STATE_FILES, VECTORS, VOCAB, complete_meta, write_meta,
)

# Progress of reading or writing rows: (bytes or rows done, total or None, rows so far).
RowProgress = Callable[[int, "int | None", int], None]
# What to do with NaN and infinite values: refuse the file (naming the row), or replace them by 0.
NONFINITE = ("error", "zero")

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
    nonfinite_rows: int = 0
    nonfinite_values: int = 0
    # Rows with no count (null or negative) in a source that had counts: then the model keeps none.
    uncounted: int = 0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "dim": self.dim,
            "skipped_duplicates": self.duplicates,
            "skipped_empty": self.empty,
            "replaced_bytes": self.replaced_bytes,
            "zeroed_nonfinite_values": self.nonfinite_values,
            **({"counts_left_out_for": self.uncounted} if self.uncounted else {}),
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


class FolderWriter:
    """Collect a model's rows block by block into a folder (``vocab.txt``, ``vectors.npy``, ...).

    ``add(words, vectors, counts)`` takes UTF-8 byte strings (or str) and a float32 block; it keeps
    the first of duplicate words, stops at ``limit`` rows, and refuses invalid UTF-8 unless
    ``lossy`` (then the bytes become U+FFFD and are counted). ``where`` tells errors where a block
    came from (a callable giving the line or row of the i-th word of the last block).

    Every reader passes through here, so this is where non-finite values (NaN, infinities, and
    text like ``1e39`` that overflows float32) are refused naming the row; with
    ``nonfinite="zero"`` they are replaced by 0 and counted instead.
    """

    def __init__(
        self,
        folder: Path,
        dim: int,
        source: str,
        fmt: str | None = None,
        limit: int | None = None,
        lossy: bool = False,
        with_counts: bool = False,
        nonfinite: str = "error",
    ):
        if nonfinite not in NONFINITE:
            raise UsageError(f"nonfinite={nonfinite!r}: choose one of {', '.join(NONFINITE)}")
        if dim <= 0:
            raise FormatError(f"{source}: vector dimension {dim}: the file holds no vectors")
        self.folder = Path(folder)
        self.dim = dim
        self.source = source
        self.fmt = fmt
        self.limit = limit
        self.lossy = lossy
        self.nonfinite = nonfinite
        self.summary = ImportSummary(dim=dim)
        # The words kept so far, to find duplicates: as the sorted 64-bit hashes of their bytes (8 bytes a
        # word) until a hash repeats or a block needs the word-by-word path; then (``_exact``) as a set of
        # the words themselves, read back from vocab.txt (about 80 bytes a word).
        self._hashes: list[np.ndarray] | None = []
        self._seen: set[bytes] | None = None
        self._vectors = NpyAppender(self.folder / VECTORS, dim)
        self._vocab = open(self.folder / VOCAB, "wb")
        self._ngrams: NpyAppender | None = None
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
        room = None if self.limit is None else self.limit - self.summary.rows
        fresh = set(raw)
        if (
            len(fresh) == len(raw)
            and (room is None or room >= len(raw))
            and b"" not in fresh
            and b"\r" not in joined
            and joined.count(b"\n") == len(raw) - 1
            and self._all_new(raw, fresh)
        ):
            # The common case, checked at C speed: all new, none empty, no line breaks.
            keep = list(range(len(raw)))
        else:
            self._exact()
            keep = self._keep(raw, where, room)
        del fresh
        if len(keep) != len(raw):
            idx = np.asarray(keep, dtype=np.intp)
            vectors = vectors[idx]
            counts = None if counts is None else np.asarray(counts)[idx]
            raw = [raw[i] for i in keep]
        if not raw:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        norms = row_norms(vectors)
        if not np.isfinite(norms).all():
            # A non-finite value makes its row's norm non-finite: the check costs nothing more.
            vectors, norms = self._finite(vectors, norms, raw, keep, where)
        self._vectors.append(vectors)
        self._vocab.write((joined if len(keep) == len(words) else b"\n".join(raw)) + b"\n")
        self._norms.append(norms)
        if self._counts is not None:
            self._counts.append(
                np.full(len(raw), -1, dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64)
            )
        self.summary.rows += len(raw)

    def _finite(self, vectors: np.ndarray, norms: np.ndarray, raw: list[bytes], keep: list[int], where):
        """Refuse the first row holding a non-finite value, or (``nonfinite="zero"``) zero such values.

        A row whose values are all finite but whose length overflows float32 (values near 3.4e38) is
        refused either way: no cosine can be computed with it.
        """
        bad = ~np.isfinite(vectors)
        rows = np.flatnonzero(bad.any(axis=1))
        long = np.flatnonzero(~np.isfinite(norms) & ~bad.any(axis=1))
        if long.size and (self.nonfinite != "error" or not rows.size or long[0] < rows[0]):
            i = int(long[0])
            place = where(keep[i]) if where else f"row {self.summary.rows + i + 1}"
            raise FormatError(
                f"{self.source}: {place}: word {raw[i].decode('utf-8', 'replace')!r} has a vector too long for"
                f" float32 (its largest value is {float(np.abs(vectors[i]).max()):g}): scale the vectors down"
            )
        if self.nonfinite == "error":
            i = int(rows[0])
            column = int(np.flatnonzero(bad[i])[0])
            place = where(keep[i]) if where else f"row {self.summary.rows + i + 1}"
            value = vectors[i, column]
            what = "not a number" if np.isnan(value) else "infinite, or too large for float32"
            raise FormatError(
                f"{self.source}: {place}: word {raw[i].decode('utf-8', 'replace')!r} has the value {value}"
                f" ({what}) at position {column + 1}: {self._nonfinite_way_out()}"
            )
        self.summary.nonfinite_rows += len(rows)
        self.summary.nonfinite_values += int(bad.sum())
        vectors = np.where(bad, np.float32(0), vectors)
        norms = row_norms(vectors)
        if not np.isfinite(norms).all():  # a row still too long once its non-finite values are 0
            return self._finite(vectors, norms, raw, keep, where)
        return vectors, norms

    def _nonfinite_way_out(self) -> str:
        if self.fmt is None:  # a trainer's or a rewrite's rows, not a file being imported
            return "a model cannot hold non-finite values"
        return "fix the file, or import it with --nonfinite zero to replace such values with 0"

    def _all_new(self, raw: list[bytes], fresh: set[bytes]) -> bool:
        """Whether no word of the block (distinct words) was kept before; if so, they are noted as kept."""
        if self._hashes is not None:
            hashes = np.sort(np.fromiter(map(hash, raw), dtype=np.int64, count=len(raw)))
            if not any((run[np.minimum(np.searchsorted(run, hashes), len(run) - 1)] == hashes).any()
                       for run in self._hashes):
                # Sorted runs, merged when the newest is as long as the one before: each hash is merged
                # about log2(words / block) times, and a lookup searches as many runs.
                runs = self._hashes
                runs.append(hashes)
                while len(runs) > 1 and len(runs[-1]) >= len(runs[-2]):
                    last = runs.pop()
                    runs[-1] = np.sort(np.concatenate([runs[-1], last]), kind="stable")  # timsort: a merge
                return True
            self._exact()  # a repeated hash: a duplicate word, or (rarely) two words with one hash
        if self._seen.isdisjoint(fresh):
            self._seen |= fresh
            return True
        return False

    def _exact(self) -> None:
        """Switch to the set of the words kept so far, read back from vocab.txt."""
        if self._seen is not None:
            return
        self._vocab.flush()
        self._seen = set((self.folder / VOCAB).read_bytes().split(b"\n")[:-1])
        self._hashes = None

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
                raise FormatError(f"{self.source}: {place}: word {w!r} holds a line break, which a model cannot"
                                  " store: remove it from the word in the file")
            seen.add(w)
            keep.append(i)
            if room is not None and len(keep) >= room:
                break
        return keep

    def add_ngrams(self, block: np.ndarray, first_row: int = 0) -> None:
        """Append rows of FastText's n-gram bucket matrix (``ngrams.npy``), streamed like the vectors.

        ``first_row`` (the block's first bucket) names a non-finite value's row in the error.
        """
        bad = ~np.isfinite(block)
        if bad.any():
            if self.nonfinite == "error":
                i, column = (int(k[0]) for k in np.nonzero(bad))
                raise FormatError(
                    f"{self.source}: n-gram bucket {first_row + i + 1}: the value {block[i, column]} at position"
                    f" {column + 1} is not finite: {self._nonfinite_way_out()}"
                )
            self.summary.nonfinite_rows += int(bad.any(axis=1).sum())
            self.summary.nonfinite_values += int(bad.sum())
            block = np.where(bad, np.float32(0), block)
        if self._ngrams is None:
            self._ngrams = NpyAppender(self.folder / NGRAMS, self.dim)
        self._ngrams.append(block)

    def finish(self, meta: dict | None = None, compose_subwords: bool = False) -> ImportSummary:
        """Close the files and write ``norms.npy``, ``counts.npy`` and ``meta.json``.

        ``compose_subwords`` replaces each word's own row by the mean of it and its n-gram rows
        (fastText's and gensim's composition, with ``minn``/``maxn`` from ``meta["fasttext"]``).
        An importer (``fmt`` given) records where the rows came from under ``meta["import"]``.
        """
        self._close()
        if self.summary.rows == 0:
            raise FormatError(f"{self.source}: no vectors found: the file is empty or not {self.fmt or 'a model'}")
        meta = dict(meta or {})
        if compose_subwords:
            sub = meta["fasttext"]
            norms = compose_word_vectors(self.folder, int(sub["minn"]), int(sub["maxn"]))
        else:
            norms = np.concatenate(self._norms)
        if self._counts is not None:
            counts = np.concatenate(self._counts)
            missing = int((counts < 0).sum())
            if not missing:
                if (np.diff(counts) > 0).any():  # a folder's rows are most frequent first
                    norms, counts = self._sort_by_counts(norms, counts)
                np.save(self.folder / COUNTS, counts)
            elif missing < len(counts):  # some rows counted, others not: said, not dropped silently
                self.summary.uncounted = missing
        np.save(self.folder / NORMS, norms)
        self.summary.seconds = time.perf_counter() - self._started
        if self.fmt is not None:
            meta["import"] = {"source": self.source, "format": self.fmt, **self.summary.as_dict(), **self.summary.extra}
        write_meta(self.folder, complete_meta(meta, self.summary.rows, self.dim))
        return self.summary

    def _sort_by_counts(self, norms: np.ndarray, counts: np.ndarray, block_rows: int = 1 << 16):
        """Put the rows in the order of their counts, highest first (ties in the source's order), as
        every folder has them: a source with counts in another order (a Parquet file, say) would
        otherwise make ``--restrict``, ``--limit`` and ``--top`` take rows that are not the most frequent."""
        order = np.argsort(-counts, kind="stable")
        vectors = np.load(self.folder / VECTORS, mmap_mode="r", allow_pickle=False)
        out = NpyAppender(self.folder / (VECTORS + ".sorted"), self.dim)
        try:
            for lo in range(0, len(order), block_rows):
                out.append(np.asarray(vectors[order[lo : lo + block_rows]]))
        finally:
            out.close()
        del vectors
        (self.folder / (VECTORS + ".sorted")).replace(self.folder / VECTORS)
        words = (self.folder / VOCAB).read_bytes().split(b"\n")[:-1]
        (self.folder / VOCAB).write_bytes(b"".join(words[i] + b"\n" for i in order))
        self.summary.extra["sorted_by_count"] = True
        return norms[order], counts[order]

    def _close(self) -> None:
        self._vectors.close()
        self._vocab.close()
        if self._ngrams is not None:
            self._ngrams.close()

    def abort(self) -> None:
        """Close the files after a failure (the caller's atomic folder removes them)."""
        self._close()


def write_model(
    folder: Path,
    words: Sequence[str],
    vectors: np.ndarray,
    meta: dict,
    counts: np.ndarray | None = None,
    ngrams: np.ndarray | None = None,
    block_rows: int = 1 << 14,
    state: dict | None = None,
    phrases=None,
) -> None:
    """Write a whole model held in memory (a trainer's result, a rewritten export) into ``folder``.

    The rows go through ``FolderWriter`` like an import's, so every folder has one layout and one
    metadata policy; a duplicate, empty or line-breaking word is an error here, not skipped.
    ``state`` (keys of ``layout.STATE_FILES``: arrays, and ``rare_words`` a list of words or
    the UTF-8 bytes of its file) is written
    under ``state/`` and listed in ``meta["state"]["files"]`` with its size. ``phrases`` (an
    ``embcli.phrasing.PhraseTable``) is written as ``phrases.tsv``, its settings and number of passes
    into ``meta["phrases"]``.
    """
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ModelError(f"{len(words)} words but a vector matrix of shape {vectors.shape}")
    writer = FolderWriter(folder, int(vectors.shape[1]), str(folder), with_counts=counts is not None)
    try:
        for start in range(0, len(words), block_rows):
            stop = min(start + block_rows, len(words))
            writer.add(
                list(words[start:stop]),
                vectors[start:stop],
                None if counts is None else np.asarray(counts[start:stop]),
            )
        if writer.summary.rows != len(words):
            raise FormatError(
                f"{len(words) - writer.summary.rows} of {len(words)} words are duplicates or empty:"
                " a model's words must be distinct and non-empty"
            )
        if ngrams is not None:
            for start in range(0, len(ngrams), block_rows):
                writer.add_ngrams(ngrams[start : start + block_rows])
        if phrases is not None:
            phrases.save(Path(folder) / PHRASES)
            meta = {**meta, "phrases": {**dict(meta.get("phrases") or {}), **phrases.describe()}}
        if state:
            meta = {**meta, "state": {**meta.get("state", {}), **write_state(folder, state)}}
        writer.finish(meta)
    finally:
        writer.abort()


def write_state(folder: Path, state: dict) -> dict:
    """Write a trainer's state into ``folder/state/``; return the files written and their bytes."""
    unknown = set(state) - set(STATE_FILES)
    if unknown:
        raise ModelError(f"unknown training state {', '.join(sorted(unknown))}: expected {', '.join(STATE_FILES)}")
    (Path(folder) / STATE).mkdir()
    files, size = [], 0
    for key, value in state.items():
        path = Path(folder) / STATE_FILES[key]
        if key == "rare_words":  # a list of words, or the file's bytes already joined
            with open(path, "wb") as fh:
                fh.write(value if isinstance(value, bytes) else "".join(w + "\n" for w in value).encode("utf-8"))
        else:
            value = np.asarray(value)
            if value.dtype.kind == "f" and not all_finite(value):
                raise ModelError(f"the training state {key} holds non-finite values: a model cannot hold them")
            np.save(path, np.ascontiguousarray(value), allow_pickle=False)
        files.append(STATE_FILES[key])
        size += path.stat().st_size
    return {"files": files, "bytes": size}


# fastText's end-of-line token: its dictionary gives it no n-grams, so its vector is its own row.
EOS = "</s>"


def compose_word_vectors(folder: Path, minn: int, maxn: int, block_rows: int = 4096) -> np.ndarray:
    """Replace each word's own row by the mean of it and its n-gram rows (``</s>`` keeps its own row,
    as fastText's ``get_word_vector`` gives it; gensim averages it too); return the new norms."""
    from embcli.subword_kernels import ngram_buckets_block

    vectors = np.load(folder / VECTORS, mmap_mode="r+", allow_pickle=False)
    grams = np.load(folder / NGRAMS, mmap_mode="r", allow_pickle=False)
    buckets = grams.shape[0]
    words = (folder / VOCAB).read_text(encoding="utf-8").split("\n")[:-1]
    norms = np.empty(len(words), dtype=np.float32)
    for start in range(0, len(words), block_rows):
        chunk = words[start : start + block_rows]
        ids, lengths = ngram_buckets_block([w if w != EOS else "" for w in chunk], minn, maxn, buckets)
        block = np.array(vectors[start : start + len(chunk)], dtype=np.float32)
        if ids.size:
            gathered = grams[ids]
            # Rows of one word are consecutive in ``gathered``: sum each run with one reduceat.
            has = lengths > 0
            starts = (np.cumsum(lengths) - lengths)[has]
            sums = np.zeros_like(block)
            sums[has] = np.add.reduceat(gathered, starts, axis=0)
            block = ((block + sums) / (lengths + 1)[:, None].astype(np.float32)).astype(np.float32)
        vectors[start : start + len(chunk)] = block
        norms[start : start + len(chunk)] = row_norms(block)
    vectors.flush()
    del vectors
    return norms


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
