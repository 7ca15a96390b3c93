"""A model read from a store folder: vocabulary, memory-mapped vectors, metadata.

Opening a model reads ``meta.json`` and maps the arrays; nothing is copied. A single word is looked
up by searching ``vocab.txt``'s bytes, without building a dict of the whole vocabulary; the dict is
built only when many words are looked up (``index_of`` after ``build_index``) or ``words`` is asked for.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from embcli.errors import ModelError
from embcli.store import read_meta
from embcli.tokenize import TokenizerSettings, normalize_word


def load_array(path: Path, what: str) -> np.ndarray:
    """Memory-map a .npy file without ever unpickling; errors name the file."""
    if not path.is_file():
        raise ModelError(f"{path}: missing {what}: the model folder is damaged; train or import it again")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ModelError(f"{path}: unreadable {what} ({exc}): the file is damaged or truncated") from None


class Model:
    """A model folder opened for reading."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.meta = read_meta(self.path)
        self.name = self.path.name
        self.algorithm = str(self.meta.get("algorithm", "unknown"))
        self.tokenizer = TokenizerSettings.from_dict(self.meta.get("tokenizer"))
        self.vectors = load_array(self.path / "vectors.npy", "vectors")
        if self.vectors.ndim != 2 or self.vectors.dtype != np.float32:
            raise ModelError(
                f"{self.path / 'vectors.npy'}: expected a float32 matrix, found {self.vectors.dtype}"
                f" {self.vectors.shape}: the model folder is damaged"
            )
        self.vocab_size, self.dim = (int(n) for n in self.vectors.shape)
        self._vocab_path = self.path / "vocab.txt"
        if not self._vocab_path.is_file():
            raise ModelError(f"{self._vocab_path}: missing vocabulary: the model folder is damaged")
        lines = self._vocab_bytes.count(b"\n")
        if lines != self.vocab_size:
            raise ModelError(
                f"{self._vocab_path}: {lines} words but vectors.npy has {self.vocab_size} rows:"
                " the model folder is damaged"
            )
        self._index: dict[str, int] | None = None

    @cached_property
    def _vocab_bytes(self) -> bytes:
        with open(self._vocab_path, "rb") as fh:
            return fh.read()

    @cached_property
    def norms(self) -> np.ndarray:
        path = self.path / "norms.npy"
        if not path.is_file():
            return np.sqrt(np.einsum("ij,ij->i", self.vectors, self.vectors)).astype(np.float32)
        norms = load_array(path, "norms")
        if norms.shape != (self.vocab_size,):
            raise ModelError(f"{path}: {norms.shape[0]} norms for {self.vocab_size} words: the model folder is damaged")
        return norms

    @cached_property
    def counts(self) -> np.ndarray | None:
        path = self.path / "counts.npy"
        if not path.is_file():
            return None
        counts = load_array(path, "counts")
        if counts.shape != (self.vocab_size,):
            raise ModelError(f"{path}: {counts.shape[0]} counts for {self.vocab_size} words: the model folder is damaged")
        return counts

    @cached_property
    def ngrams(self) -> np.ndarray | None:
        """FastText's n-gram bucket matrix, or None for models without subwords."""
        path = self.path / "ngrams.npy"
        if not path.is_file():
            return None
        grams = load_array(path, "n-gram vectors")
        if grams.ndim != 2 or grams.shape[1] != self.dim:
            raise ModelError(f"{path}: shape {grams.shape} does not fit dimension {self.dim}: the model folder is damaged")
        return grams

    @cached_property
    def words(self) -> list[str]:
        """The whole vocabulary, most frequent first."""
        data = self._vocab_bytes
        return data.decode("utf-8").split("\n")[:-1] if data else []

    def build_index(self) -> dict[str, int]:
        """Build (once) and return the word -> row dict, for many lookups."""
        if self._index is None:
            index: dict[str, int] = {}
            for i, w in enumerate(self.words):
                index.setdefault(w, i)
            self._index = index
        return self._index

    def normalize(self, word: str) -> str:
        """A query word in the form of the model's vocabulary (its own tokenizer settings)."""
        return normalize_word(word, self.tokenizer)

    def index_of(self, word: str) -> int | None:
        """Row of ``word`` (already normalized), or None; a byte search unless the index is built."""
        if self._index is not None:
            return self._index.get(word)
        key = word.encode("utf-8")
        if b"\n" in key or not key:
            return None
        data = self._vocab_bytes
        if data[: len(key) + 1] == key + b"\n":
            return 0
        pos = data.find(b"\n" + key + b"\n")
        if pos < 0:
            return None
        return data.count(b"\n", 0, pos + 1)

    def word_at(self, i: int) -> str:
        """The word of row ``i``."""
        return self.words[i]


def open_model(name_or_path: str | None = None, store=None) -> Model:
    """Open a model by name, folder path, file in a supported format, or the store's default (None)."""
    from embcli.store import ModelStore

    store = store or ModelStore()
    return Model(store.resolve(name_or_path))
