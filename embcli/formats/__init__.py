"""The registry of external formats: names, suffixes, readers and writers.

Each format has a reader (file -> model folder, streamed block by block into the folder writer)
unless it is write-only, and a writer (model -> file) unless it is read-only. Command-line choices, help texts and the
round-trip tests are all derived from ``FORMATS``. Choosing a format for a file is
``formats.detect``'s job; compressed streams are ``formats.streams``'; importing, exporting and
converting through the registry is ``formats.convert``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Callable

from embcli.errors import UsageError

COMPRESSED = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}


@dataclass(frozen=True)
class Format:
    """One external format: its name, what it is, its suffixes, its reader and writer."""

    name: str
    summary: str
    suffixes: tuple[str, ...]
    reader: str | None
    writer: str | None = None
    streams: bool = True  # the reader takes a stream (stdin, compressed); else a seekable path
    folder: bool = False  # the format is a folder, not a file

    def read_fn(self) -> Callable:
        if self.reader is None:
            raise UsageError(f"format {self.name} can be written but not read: import the vectors in another format")
        module, fn = self.reader.split(":")
        return getattr(import_module(module), fn)

    def write_fn(self) -> Callable:
        if self.writer is None:
            raise UsageError(f"format {self.name} can be read but not written: choose another --format")
        module, fn = self.writer.split(":")
        return getattr(import_module(module), fn)


_W2V = "embcli.formats.word2vec"
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("word2vec", "text, a 'ROWS DIM' header then 'word v1 ... vD' lines",
               (".txt", ".w2v"), f"{_W2V}:read_word2vec", f"{_W2V}:write_word2vec"),
        Format("word2vec-binary", "the C tool's and gensim's binary layout",
               (".bin",), f"{_W2V}:read_word2vec_binary", f"{_W2V}:write_word2vec_binary"),
        Format("glove", "text, 'word v1 ... vD' lines without header",
               (".txt", ".glove"), "embcli.formats.glove:read_glove", "embcli.formats.glove:write_glove"),
        Format("fasttext-vec", "fastText's .vec text (the word2vec layout)",
               (".vec",), f"{_W2V}:read_word2vec", f"{_W2V}:write_word2vec"),
        Format("fasttext-bin", "Facebook's full model with its n-gram buckets (read only)",
               (".bin",), "embcli.formats.fasttext:read_fasttext_bin"),
        Format("parquet", "columns word, count, vector (fixed_size_list<float32>)",
               (".parquet", ".pq"), "embcli.formats.parquet:read_parquet", "embcli.formats.parquet:write_parquet",
               streams=False),
        Format("folder", "an emb model folder",
               (), "embcli.formats.folder:read_folder", "embcli.formats.folder:write_folder",
               streams=False, folder=True),
        Format("projector", "a folder for TensorBoard's Embedding Projector: vectors.tsv, metadata.tsv,"
               " projector_config.pbtxt (write only)",
               (), None, "embcli.formats.projector:write_projector", streams=False, folder=True),
    )
}
READABLE = [f.name for f in FORMATS.values() if f.reader]
WRITABLE = [f.name for f in FORMATS.values() if f.writer]


def format_help(writable: bool = False) -> str:
    """One line per format that can be read (or, with ``writable``, written), for ``--help``."""
    return "; ".join(f"{f.name}: {f.summary}" for f in FORMATS.values() if (f.writer if writable else f.reader))


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise UsageError(f"unknown format {name!r}: choose one of {', '.join(FORMATS)}") from None






def strip_compression(path: str) -> tuple[str, str | None]:
    """(``path`` without a compression suffix, the compression's name or None)."""
    for suffix, kind in COMPRESSED.items():
        if path.lower().endswith(suffix):
            return path[: -len(suffix)], kind
    return path, None


def default_name(src: str) -> str:
    """A model name from a file name: ``glove.6B.100d.txt.gz`` -> ``glove.6B.100d``."""
    if src == "-":
        return "stdin"
    bare, _ = strip_compression(Path(src.rstrip("/")).name)
    stem = bare
    for f in FORMATS.values():
        for suffix in f.suffixes:
            if stem.lower().endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
                break
    return stem.lstrip(".") or "imported"
