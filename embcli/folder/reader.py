"""A model folder opened for reading: vocabulary, memory-mapped vectors, metadata.

Opening a model reads ``meta.json`` and maps the arrays and ``vocab.txt``; nothing is copied. A single
word is looked up by searching the mapped ``vocab.txt``, without building a dict of the whole
vocabulary; the dict is built only when many words are looked up (``index_of`` after ``build_index``)
or ``words`` is asked for.
"""

from __future__ import annotations

import math
import mmap
import os
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from embcli.errors import EmbError, FormatError, ModelError
from embcli.folder.layout import COUNTS, NGRAMS, NORMS, PHRASES, VECTORS, VOCAB, read_meta, validate_meta
from embcli.folder.storage import open_storage, storage_kind
from embcli.folder.rows import row_norms
from embcli.wire.npy import read_npy_header
from embcli.tokenize import TokenizerSettings, normalize_word


def load_array(path: Path, what: str) -> np.ndarray:
    """Memory-map a .npy file without ever unpickling; errors name the file and what is wrong.

    The header is read first so that a file cut short says so (its size against the size its header
    promises) instead of failing inside ``mmap``.
    """
    if not path.is_file():
        raise ModelError(f"{path}: missing {what}: the model folder is damaged; train or import it again")
    try:
        with open(path, "rb") as fh:
            shape, fortran, dtype, offset = read_npy_header(fh)
    except (FormatError, OSError) as exc:
        raise ModelError(f"{path}: unreadable {what} ({exc}): the file is damaged or truncated") from None
    if dtype.hasobject:
        raise ModelError(f"{path}: {what} hold Python objects, which emb never loads: the file is not from emb")
    dims = " x ".join(str(n) for n in shape)
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ModelError(f"{path}: {what} with the impossible shape ({dims}): the model folder is damaged")
    count = math.prod(shape)  # Python integers: a lying header cannot overflow
    expected = offset + count * dtype.itemsize
    size = path.stat().st_size
    if size < expected:
        raise ModelError(
            f"{path}: truncated {what}: {size} bytes where a {dtype} array of {dims} needs {expected}:"
            " the model folder is damaged; train or import it again"
        )
    if count == 0:
        return np.zeros(shape, dtype=dtype)
    mapped = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")
    # A plain ndarray view (the map stays alive as its base): numpy's memmap subclass adds overhead
    # to every slice and result.
    return mapped.view(np.ndarray)


class ModelFolder:
    """A model folder opened for reading; the arrays are memory-mapped, nothing is copied."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.meta = validate_meta(read_meta(self.path), self.path)
        self.name = self.path.name
        source = (self.meta.get("import") or {}).get("source")
        if source and (self.path.parent.name == "cache" or self.path.name.startswith(".emb-convert-")):
            # A vector file's cache entry or a conversion's temporary folder: named after the file.
            self.name = os.path.basename(str(source).rstrip("/")) or self.name
        self.algorithm = str(self.meta.get("algorithm", "unknown"))
        self.tokenizer = TokenizerSettings.from_dict(self.meta.get("tokenizer"))
        # Compressed storage decodes rows on demand; plain folders map vectors.npy.
        self.storage = storage_kind(self.meta, str(self.path / "meta.json"))
        if self.storage != "float32":
            self.vectors = open_storage(self.path, self.meta["storage"], load_array)
        else:
            # Which file the map is of: a reader of the same path can tell it from a file put there since
            # (taken before mapping: a file put there in between is then taken for another, not the same).
            st = os.stat(self.path / VECTORS) if (self.path / VECTORS).is_file() else None
            self.vectors = load_array(self.path / VECTORS, "vectors")
            self.vectors_file = (st.st_dev, st.st_ino) if st is not None else None
        if self.storage == "float32" and (self.vectors.ndim != 2 or self.vectors.dtype != np.float32):
            raise ModelError(
                f"{self.path / 'vectors.npy'}: expected a float32 matrix, found {self.vectors.dtype}"
                f" {self.vectors.shape}: the model folder is damaged"
            )
        self.vocab_size, self.dim = (int(n) for n in self.vectors.shape)
        if self.dim == 0:
            raise ModelError(f"{self.path / VECTORS}: vectors of dimension 0: the model folder is damaged")
        for key, value in (("dim", self.dim), ("vocab_size", self.vocab_size)):
            if self.meta.get(key, value) != value:
                raise ModelError(
                    f"{self.path / 'meta.json'}: {key} {self.meta[key]} but vectors.npy holds"
                    f" {self.vocab_size} x {self.dim}: the model folder is damaged"
                )
        self._vocab_path = self.path / VOCAB
        if not self._vocab_path.is_file():
            raise ModelError(f"{self._vocab_path}: missing vocabulary: the model folder is damaged")
        data = self._vocab_map
        newlines, ascii_only = self._scan_vocab()
        self.__dict__["_chunk_newlines"] = newlines
        lines = int(newlines.sum())
        if lines != self.vocab_size:
            raise ModelError(
                f"{self._vocab_path}: {lines} words but vectors.npy has {self.vocab_size} rows:"
                " the model folder is damaged"
            )
        if not ascii_only:
            try:
                str(data, "utf-8")
            except UnicodeDecodeError as exc:
                raise self._bad_vocab(self._newlines_before(exc.start)) from None
        # The other arrays are checked now (their headers; nothing is read), not at the first use.
        for name, part in ((NORMS, "norms"), (COUNTS, "counts"), (NGRAMS, "ngrams")):
            if (self.path / name).is_file() or (part == "ngrams" and "ngram_storage" in self.meta):
                getattr(self, part)
        self._index: dict[str, int] | None = None
        self._searches = 0

    # A vocab.txt this large is mapped, a smaller one read: a map keeps a file descriptor open for as
    # long as the model is (a process opening many small models would run out of them), and below
    # this size reading costs under a millisecond.
    MAP_BYTES = 1 << 20

    @cached_property
    def _vocab_map(self) -> mmap.mmap | bytes:
        """``vocab.txt`` memory-mapped when it is large: a query on a million-word model reads the
        pages it searches, not a copy of the file (7.7 -> 3.7 ms to open one)."""
        with open(self._vocab_path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size < self.MAP_BYTES:
                return fh.read()
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)

    def __getstate__(self) -> dict:
        """For pickling and deep copies: the vocabulary's bytes in place of its map."""
        state = self.__dict__.copy()
        if isinstance(state.get("_vocab_map"), mmap.mmap):
            state["_vocab_map"] = self._vocab_bytes
        return state

    @cached_property
    def _vocab_bytes(self) -> bytes:
        """``vocab.txt`` as bytes (copied from the map: the same file), for the whole-vocabulary work."""
        return self._vocab_map[:]

    @cached_property
    def norms(self) -> np.ndarray:
        path = self.path / NORMS
        if not path.is_file():
            return np.concatenate(
                [row_norms(self.vectors[s : s + 65536]) for s in range(0, self.vocab_size, 65536)]
                or [np.zeros(0, dtype=np.float32)]
            )
        norms = load_array(path, "norms")
        if norms.shape != (self.vocab_size,) or norms.dtype != np.float32:
            raise ModelError(
                f"{path}: {norms.dtype} norms of shape {norms.shape} for {self.vocab_size} words:"
                " the model folder is damaged"
            )
        return norms

    @cached_property
    def counts(self) -> np.ndarray | None:
        path = self.path / COUNTS
        if not path.is_file():
            return None
        counts = load_array(path, "counts")
        if counts.shape != (self.vocab_size,) or counts.dtype.kind not in "iu":
            raise ModelError(
                f"{path}: {counts.dtype} counts of shape {counts.shape} for {self.vocab_size} words:"
                " the model folder is damaged"
            )
        return counts

    @cached_property
    def phrases(self):
        """The ``embcli.phrasing.PhraseTable`` of a model trained with phrases (joins query words as
        training joined the text), or None."""
        info = self.meta.get("phrases")
        if info is None:
            return None
        from embcli.phrasing import PhraseSettings, PhraseTable

        path = self.path / PHRASES
        if not path.is_file():
            raise ModelError(f"{path}: missing, though meta.json names phrases: the model folder is damaged")
        try:
            settings = PhraseSettings.from_dict(info)
        except EmbError as exc:
            raise ModelError(f"{self.path / 'meta.json'}: phrases: {exc}: the model folder is damaged") from None
        return PhraseTable.load(path, settings, int(info["passes"]))

    @cached_property
    def ngrams(self) -> np.ndarray | None:
        """FastText's n-gram bucket matrix, or None for models without subwords.

        A compressed or pruned folder (``meta["ngram_storage"]``) gives an ``NgramRows``, which
        indexes like the float32 [buckets, D] matrix (``embcli.folder.ngram_rows``).
        """
        if "ngram_storage" in self.meta:
            from embcli.folder.ngram_rows import open_ngrams

            return open_ngrams(self.path, self.meta, self.dim, load_array)
        path = self.path / NGRAMS
        if not path.is_file():
            return None
        grams = load_array(path, "n-gram vectors")
        if grams.ndim != 2 or grams.shape[0] == 0 or grams.shape[1] != self.dim or grams.dtype != np.float32:
            raise ModelError(
                f"{path}: {grams.dtype} n-gram vectors of shape {grams.shape} do not fit dimension {self.dim}:"
                " the model folder is damaged"
            )
        return grams

    @cached_property
    def words(self) -> list[str]:
        """The whole vocabulary, most frequent first."""
        data = self._vocab_bytes
        try:
            return data.decode("utf-8").split("\n")[:-1] if data else []
        except UnicodeDecodeError as exc:
            raise self._bad_vocab(data[: exc.start].count(b"\n")) from None

    def _bad_vocab(self, row: int) -> ModelError:
        return ModelError(f"{self._vocab_path}: line {row + 1} is not valid UTF-8: the model folder is damaged")

    def _decode(self, raw: bytes, row: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._bad_vocab(row) from None

    def build_index(self) -> dict[str, int]:
        """Build (once) and return the word -> row dict, for many lookups."""
        if self._index is None:
            words = self.words
            # Built from the end so that a word listed twice keeps its first (most frequent) row.
            self._index = dict(zip(reversed(words), range(len(words) - 1, -1, -1)))
        return self._index

    def normalize(self, word: str) -> str:
        """A query word in the form of the model's vocabulary (its own tokenizer settings)."""
        return normalize_word(word, self.tokenizer)

    # After this many byte searches a batch is under way: one dict pays for itself.
    SEARCHES_BEFORE_INDEX = 8

    def index_of(self, word: str) -> int | None:
        """Row of ``word`` (already normalized), or None.

        The first few lookups search ``vocab.txt``'s bytes (no per-word Python objects, so one query
        on a million-word model stays fast); later ones build and use the dict.
        """
        if self._index is None and self._searches >= self.SEARCHES_BEFORE_INDEX:
            self.build_index()
        if self._index is not None:
            return self._index.get(word)
        return self._search(word)

    def _search(self, word: str) -> int | None:
        """Row of ``word`` by a byte search of ``vocab.txt``."""
        self._searches += 1
        key = word.encode("utf-8")
        if b"\n" in key or not key:
            return None
        data = self._vocab_map
        if data[: len(key) + 1] == key + b"\n":
            return 0
        pos = data.find(b"\n" + key + b"\n")
        return None if pos < 0 else self._newlines_before(pos + 1)

    def index_many(self, words: Sequence[str]) -> list[int | None]:
        """Rows of many words (already normalized), None for those not in the vocabulary.

        The first handful are searched one by one; after that words are matched in one vectorized
        pass: every line of ``vocab.txt`` gets a 64-bit fingerprint (computed once), and the lines
        whose fingerprint is a query's are compared byte for byte. No Python object per vocabulary
        word is made, so a stream of queries never pays for a dict of a million words.
        """
        if self._index is not None:
            return [self._index.get(w) for w in words]
        if "_fingerprints" not in self.__dict__ and self._searches + len(words) <= self.SEARCHES_BEFORE_INDEX:
            return [self._search(w) for w in words]
        keys = [w.encode("utf-8") for w in words]
        wanted = np.array([_fingerprint(k) for k in keys], dtype=np.uint64)
        prints = self._fingerprints
        # A bit table on the top 20 bits of the fingerprints keeps ~0.1% false candidates per
        # thousand queries; the exact fingerprint and then the bytes settle them.
        table = np.zeros(1 << 20, dtype=bool)
        table[wanted >> np.uint64(44)] = True
        rows = np.flatnonzero(table[prints >> np.uint64(44)])
        rows = rows[np.isin(prints[rows], wanted)]
        data, ends = self._vocab_bytes, self._line_ends
        wanted_keys = set(keys)
        found: dict[bytes, int] = {}
        for row in rows.tolist():
            start = int(ends[row - 1]) + 1 if row else 0
            word = data[start : int(ends[row])]
            if word in wanted_keys and word not in found:
                found[word] = row
        return [found.get(k) for k in keys]

    @cached_property
    def _line_ends(self) -> np.ndarray:
        """Byte offset of each word's terminating newline in ``vocab.txt``."""
        return np.flatnonzero(np.frombuffer(self._vocab_bytes, dtype=np.uint8) == 10)

    @cached_property
    def _fingerprints(self) -> np.ndarray:
        return _line_fingerprints(self._vocab_bytes, self._line_ends)

    # Newlines counted per chunk of vocab.txt: finds a row's word without splitting the whole file.
    _CHUNK = 1 << 12  # (under 65,536: a chunk's newlines are summed in 16 bits)

    # What the model's own lookups have worked out about its vocabulary: a copy of the model with
    # fewer words (``prune.truncated``) drops them.
    VOCAB_CACHES = ("words", "_line_ends", "_fingerprints", "_chunk_newlines", "_chunk_starts")
    # Bytes of vocab.txt compared at once when it is scanned on opening.
    _SCAN = 1 << 20

    def _scan_vocab(self) -> tuple[np.ndarray, bool]:
        """The newlines in each chunk of ``_CHUNK`` bytes of ``vocab.txt`` (the words it ends), and
        whether it is all ASCII: one pass, a piece at a time, the newlines summed as bytes in 16 bits
        (a fifth of the time of ``bytes.count`` on a million words)."""
        data, step = np.frombuffer(self._vocab_map, np.uint8), self._CHUNK
        newlines = np.zeros(-(-data.shape[0] // step), np.int64)
        found = np.empty(min(self._SCAN, data.shape[0]), bool)
        ascii_only = True
        for lo in range(0, data.shape[0], self._SCAN):
            piece = data[lo : lo + self._SCAN]
            ends = np.equal(piece, 10, out=found[: piece.shape[0]]).view(np.uint8)
            whole = piece.shape[0] // step
            newlines[lo // step : lo // step + whole] = ends[: whole * step].reshape(whole, step).sum(axis=1, dtype=np.uint16)
            if whole * step < piece.shape[0]:
                newlines[lo // step + whole] = int(ends[whole * step :].sum())
            ascii_only = ascii_only and int(piece.max()) < 128
        return newlines, ascii_only

    @cached_property
    def _chunk_newlines(self) -> np.ndarray:
        return self._scan_vocab()[0]

    def _newlines_before(self, pos: int) -> int:
        """The newlines in ``vocab.txt`` before byte ``pos``: those of the chunks before, and of its own."""
        c = pos // self._CHUNK
        own = np.frombuffer(self._vocab_map, np.uint8, count=pos - c * self._CHUNK, offset=c * self._CHUNK)
        return int(self._chunk_newlines[:c].sum()) + int(np.count_nonzero(own == 10))

    @cached_property
    def _chunk_starts(self) -> np.ndarray:
        """For each chunk of ``_CHUNK`` bytes, the row of the first word that starts in it."""
        data, step = np.frombuffer(self._vocab_map, np.uint8), self._CHUNK
        newlines = self._chunk_newlines
        chunks = newlines.shape[0]
        starts = np.zeros(chunks, np.int64)
        np.cumsum(newlines[:-1], out=starts[1:])
        # A word starts at a chunk's first byte when the byte before it is a newline; else the first
        # word to start in the chunk is the next one.
        starts[1:] += data[step - 1 : (chunks - 1) * step : step] != 10
        return starts

    def word_at(self, i: int) -> str:
        """The word of row ``i``, without decoding the whole vocabulary."""
        if "words" in self.__dict__:
            return self.words[i]
        if not 0 <= i < self.vocab_size:
            raise IndexError(f"row {i} outside the vocabulary of {self.vocab_size} words")
        data = self._vocab_map
        if "_line_ends" in self.__dict__:
            ends = self._line_ends
            return self._decode(data[int(ends[i - 1]) + 1 if i else 0 : int(ends[i])], i)
        starts, step = self._chunk_starts, self._CHUNK
        c = int(np.searchsorted(starts, i, side="right")) - 1
        pos, skip = c * step, i - int(starts[c])
        if pos and data[pos - 1] != 10:
            pos = data.find(b"\n", pos) + 1  # skip the tail of a word begun in the chunk before
        if skip:  # the word starts after the skip-th newline from pos, in this chunk
            chunk = np.frombuffer(data, np.uint8, count=min((c + 1) * step, len(data)) - pos, offset=pos)
            pos += int(np.flatnonzero(chunk == 10)[skip - 1]) + 1
        return self._decode(data[pos : data.find(b"\n", pos)], i)


_MASK64 = (1 << 64) - 1
_P1, _P2, _P3 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [_MASK64], dtype=np.uint64)


def _fingerprint(key: bytes) -> int:
    """A word's 64-bit fingerprint: its first and last 8 bytes and its length, mixed."""
    n = len(key)
    first = int.from_bytes(key[:8], "little")
    last = int.from_bytes(key[-8:], "little") if n >= 8 else 0
    return ((first * _P1) & _MASK64) ^ ((last * _P2) & _MASK64) ^ ((n * _P3) & _MASK64)


def _line_fingerprints(data: bytes, ends: np.ndarray) -> np.ndarray:
    """``_fingerprint`` of every line of ``data`` at once (lines end at ``ends``)."""
    padded = np.zeros(len(data) + 16, dtype=np.uint8)
    padded[8 : 8 + len(data)] = np.frombuffer(data, dtype=np.uint8)
    # Every position's next 8 bytes as a little-endian integer: an unaligned, overlapping view.
    u64 = np.ndarray((len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    lengths = (ends - starts).astype(np.uint64)
    first = u64[starts + 8] & _BYTE_MASKS[np.minimum(lengths, 8).astype(np.intp)]
    last = np.where(lengths >= 8, u64[ends], np.uint64(0))
    return (first * np.uint64(_P1)) ^ (last * np.uint64(_P2)) ^ (lengths * np.uint64(_P3))
