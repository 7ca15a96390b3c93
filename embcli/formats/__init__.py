"""The registry of external formats, and import, export and conversion through it.

Each format has a reader (file -> model folder, streamed block by block) and, unless it is
read-only, a writer (model -> file). Command-line choices, help texts and the round-trip tests are
all derived from ``FORMATS``. A format is chosen by name, else by the file's suffix, else by sniffing
its first bytes; compressed files (.gz .bz2 .xz .zst) are read and written transparently.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable

from embcli.errors import FormatError, UsageError

if TYPE_CHECKING:  # the sink imports numpy; keep `emb --help` light
    from embcli.formats.sink import ImportSummary, ModelSink, ProgressFn

COMPRESSED = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}


@dataclass(frozen=True)
class Format:
    """One external format: its name, what it is, its suffixes, its reader and writer."""

    name: str
    summary: str
    suffixes: tuple[str, ...]
    reader: str
    writer: str | None = None
    streams: bool = True  # the reader takes a stream (stdin, compressed); else a seekable path
    folder: bool = False  # the format is a folder, not a file

    def read_fn(self) -> Callable:
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
    )
}
WRITABLE = [f.name for f in FORMATS.values() if f.writer]


def format_help(writable: bool = False) -> str:
    """One line per format, for ``--help``."""
    return "; ".join(f"{f.name}: {f.summary}" for f in FORMATS.values() if f.writer or not writable)


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise UsageError(f"unknown format {name!r}: choose one of {', '.join(FORMATS)}") from None


def _strip_compression(path: str) -> tuple[str, str | None]:
    for suffix, kind in COMPRESSED.items():
        if path.lower().endswith(suffix):
            return path[: -len(suffix)], kind
    return path, None


# ----------------------------------------------------------------------------------------------
# detection
# ----------------------------------------------------------------------------------------------

_TEXT_BYTES = frozenset(b"0123456789+-.eEinfINFa \t\r\n")


def sniff(head: bytes, source: str) -> str:
    """Name the format of a file from its first bytes (up to a few KB)."""
    from embcli.formats.fasttext import looks_like_fasttext

    if looks_like_fasttext(head):
        return "fasttext-bin"
    if head.startswith(b"PAR1"):
        return "parquet"
    first, _, rest = head.partition(b"\n")
    parts = first.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        dim = int(parts[1])
        space = rest.find(b" ")
        if space < 0:
            return "word2vec"
        row, newline, _ = rest[space + 1 :].partition(b"\n")
        text_like = set(row) <= _TEXT_BYTES
        # A text row has D numbers (or runs past what was read); binary bytes hardly ever look like that.
        if text_like and (len(row.split()) == dim or not newline):
            return "word2vec"
        return "word2vec-binary"
    if len(parts) >= 2:
        try:
            [float(p) for p in parts[1:]]
            return "glove"
        except ValueError:
            pass
    raise FormatError(
        f"{source}: cannot tell the format from its first bytes: pass --format ({', '.join(FORMATS)})"
    )


def _head(path: str, n: int = 4096) -> bytes:
    from embcli.corpus import _decompressed, detect_compression

    with open(path, "rb") as raw:
        start = raw.read(8)
        raw.seek(0)
        stream = _decompressed(raw, detect_compression(start))
        return stream.read(n)


def detect_format(path: str, head: bytes | None = None) -> str:
    """The format of an input: a folder, else the suffix when it is unambiguous, else sniffing."""
    if path != "-" and Path(path).is_dir():
        return "folder"
    bare, _ = _strip_compression(path)
    by_suffix = [f.name for f in FORMATS.values() if Path(bare).suffix.lower() in f.suffixes]
    if len(by_suffix) == 1:
        return by_suffix[0]
    if head is None:
        head = _head(path)
    found = sniff(head, path)
    if by_suffix and found not in by_suffix and not (found == "word2vec" and "fasttext-vec" in by_suffix):
        raise FormatError(f"{path}: the suffix says {' or '.join(by_suffix)} but the content looks like {found}: pass --format")
    return found


def output_format(path: str, fmt: str | None) -> str:
    """The format to write ``path`` in: ``fmt``, else the suffix, else word2vec text for stdout."""
    if fmt:
        get_format(fmt).write_fn()
        return fmt
    if path == "-":
        return "word2vec"
    bare, _ = _strip_compression(path)
    suffix = Path(bare).suffix.lower()
    for f in FORMATS.values():
        if suffix in f.suffixes and f.writer:
            return f.name
    if not suffix or path.endswith(os.sep) or Path(path).is_dir():
        return "folder"
    raise UsageError(f"{path}: cannot tell the output format from the suffix {suffix!r}: pass --format/--to")


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------


def open_input(path: str) -> tuple[BinaryIO, int | None]:
    """A binary stream over ``path`` (``-`` for stdin), decompressed by magic bytes; and its size."""
    from embcli.corpus import _decompressed, detect_compression

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
    stream = _decompressed(buffered, kind)
    if kind is not None:
        size = None
    return stream, size


def stream_text(src: BinaryIO, folder: Path, source: str, fmt: str, header: bool, limit=None,
                lossy=False, total=None, progress=None) -> ImportSummary:
    """Read a word2vec-style text stream into ``folder``."""
    from embcli.formats.sink import ModelSink
    from embcli.formats.word2vec import read_text_into

    made: list[ModelSink] = []

    def sink_for(dim: int) -> ModelSink:
        made.append(ModelSink(folder, dim, source, fmt, limit=limit, lossy=lossy))
        return made[0]

    try:
        sink = read_text_into(src, sink_for, source, header, total, progress)
        return sink.finish({"algorithm": "imported"})
    finally:
        for s in made:
            s.abort()


def stream_binary(src: BinaryIO, folder: Path, source: str, fmt: str, limit=None, lossy=False,
                  total=None, progress=None) -> ImportSummary:
    """Read a word2vec binary stream into ``folder``."""
    from embcli.formats.sink import ModelSink
    from embcli.formats.word2vec import read_binary_into

    made: list[ModelSink] = []

    def sink_for(dim: int) -> ModelSink:
        made.append(ModelSink(folder, dim, source, fmt, limit=limit, lossy=lossy))
        return made[0]

    try:
        sink = read_binary_into(src, sink_for, source, total, progress)
        return sink.finish({"algorithm": "imported"})
    finally:
        for s in made:
            s.abort()


def read_into(src: str, folder: Path, fmt: str | None = None, limit: int | None = None, lossy: bool = False,
              progress: ProgressFn | None = None) -> tuple[str, ImportSummary]:
    """Read the file ``src`` (``-`` for stdin) into the empty folder ``folder``; return format and summary."""
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    if src != "-" and not Path(src).exists():
        raise FormatError(f"{src}: no such file: check the path")
    stream, size = (None, None)
    spooled = None
    try:
        if fmt is None and src == "-":
            stream, size = open_input(src)
            fmt = sniff(stream.peek(4096)[:4096] if hasattr(stream, "peek") else b"", "stdin")
        fmt = fmt or detect_format(src)
        spec = get_format(fmt)
        source = "stdin" if src == "-" else src
        if spec.folder:
            return fmt, spec.read_fn()(Path(src), folder, source, limit=limit, lossy=lossy, progress=progress)
        if not spec.streams:
            path = src
            if src == "-" or _strip_compression(src)[1]:
                stream = stream or open_input(src)[0]
                spooled = folder / ".input.tmp"
                with open(spooled, "wb") as fh:
                    shutil.copyfileobj(stream, fh, 1 << 22)
                path = str(spooled)
            return fmt, spec.read_fn()(path, folder, source, limit=limit, lossy=lossy, progress=progress)
        if stream is None:
            stream, size = open_input(src)
        return fmt, spec.read_fn()(stream, folder, source, limit=limit, lossy=lossy, total=size, progress=progress)
    finally:
        if stream is not None and src != "-":
            stream.close()
        if spooled is not None:
            spooled.unlink(missing_ok=True)


def default_name(src: str) -> str:
    """A model name from a file name: ``glove.6B.100d.txt.gz`` -> ``glove.6B.100d``."""
    if src == "-":
        return "stdin"
    bare, _ = _strip_compression(Path(src.rstrip("/")).name)
    stem = bare
    for f in FORMATS.values():
        for suffix in f.suffixes:
            if stem.lower().endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
                break
    return stem.lstrip(".") or "imported"


def import_to_store(src: str, name: str | None = None, fmt: str | None = None, limit: int | None = None,
                    lossy: bool = False, force: bool = False, make_default: bool = True, store=None,
                    progress: ProgressFn | None = None) -> tuple[str, str, ImportSummary]:
    """Import a file into the store as model ``name``; return (name, format, summary)."""
    from embcli.store import ModelStore

    store = store or ModelStore()
    name = name or default_name(src)
    with store.writer(name, force=force) as tmp:
        found, summary = read_into(src, tmp, fmt, limit, lossy, progress)
    if make_default:
        store.set_default(name)
    return name, found, summary


# ----------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------


def _open_output(path: str, kind: str | None = None) -> BinaryIO:
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


def write_model(model, dst: str, fmt: str | None = None, limit: int | None = None, normalize: bool = False,
                force: bool = False, progress: ProgressFn | None = None) -> tuple[str, int]:
    """Write ``model`` to ``dst`` (``-`` for stdout) in ``fmt``; return (format, rows written).

    A file is written under a temporary name and renamed at the end, so a failed export leaves no
    half file behind.
    """
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    fmt = output_format(dst, fmt)
    spec = get_format(fmt)
    writer = spec.write_fn()
    if spec.folder or not spec.streams:
        if dst == "-":
            raise UsageError(f"format {fmt} cannot be written to stdout: give an output path")
        if _strip_compression(dst)[1]:
            raise UsageError(f"{dst}: format {fmt} cannot be compressed this way: drop the {Path(dst).suffix} suffix")
    if dst != "-" and Path(dst).exists() and not force and not spec.folder:
        raise FormatError(f"{dst} exists: pass --force to replace it")
    if spec.folder:
        from embcli.store import atomic_dir

        with atomic_dir(Path(dst), force=force) as tmp:
            rows = writer(model, tmp, limit=limit, normalize=normalize, progress=progress)
        return fmt, rows
    if dst == "-":
        out = _open_output(dst)
        rows = writer(model, out, limit=limit, normalize=normalize, progress=progress)
        out.flush()
        return fmt, rows
    target = Path(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        if spec.streams:
            with _open_output(tmp, _strip_compression(dst)[1]) as out:
                rows = writer(model, out, limit=limit, normalize=normalize, progress=progress)
        else:
            rows = writer(model, tmp, limit=limit, normalize=normalize, progress=progress)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return fmt, rows


def convert(src: str, dst: str, from_fmt: str | None = None, to_fmt: str | None = None, limit: int | None = None,
            lossy: bool = False, normalize: bool = False, force: bool = False,
            progress: ProgressFn | None = None) -> tuple[str, str, ImportSummary, int]:
    """Convert a file to another format without touching the store; return formats, summary, rows."""
    from embcli.formats.sink import ImportSummary
    from embcli.model import Model

    to_fmt = output_format(dst, to_fmt)
    if from_fmt is None and src != "-" and Path(src).is_dir():
        from_fmt = "folder"
    if from_fmt == "folder":
        model = Model(Path(src))
        fmt, rows = write_model(model, dst, to_fmt, limit, normalize, force, progress)
        summary = ImportSummary(rows=model.vocab_size, dim=model.dim)
        return "folder", fmt, summary, rows
    if dst != "-" and Path(dst).exists() and not force:
        raise FormatError(f"{dst} exists: pass --force to replace it")
    where = Path(dst).resolve().parent if dst != "-" else None
    if where is not None:
        where.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".emb-convert-", dir=where))
    try:
        found, summary = read_into(src, work, from_fmt, limit, lossy, progress)
        fmt, rows = write_model(Model(work), dst, to_fmt, None, normalize, force, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return found, fmt, summary, rows


# ----------------------------------------------------------------------------------------------
# -m FILE
# ----------------------------------------------------------------------------------------------


def cached_model_dir(path: Path, store) -> Path:
    """The model folder of a file passed as ``-m FILE``: imported once, kept in the store's cache.

    The cache entry is keyed by the file's absolute path, size and modification time, so a
    changed file is read again; ``$EMB_HOME/cache`` can be deleted at any time. It keeps the
    ``CACHE_ENTRIES`` most recently used models: adding one removes the least recently used.
    """
    import os

    from embcli.store import atomic_dir

    path = Path(path).resolve()
    st = path.stat()
    key = hashlib.sha256(f"{path}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:24]
    target = store.root / "cache" / f"{path.name[:60]}-{key}"
    if (target / "meta.json").is_file():
        try:
            os.utime(target)  # most recently used
        except OSError:
            pass
        return target
    with atomic_dir(target, force=True) as tmp:
        read_into(str(path), tmp)
    _prune_cache(target.parent, keep=target)
    return target


CACHE_ENTRIES = 8


def _prune_cache(cache: Path, keep: Path) -> None:
    """Remove the least recently used cache entries beyond ``CACHE_ENTRIES`` (never ``keep``)."""
    import shutil

    entries = []
    for entry in cache.iterdir():
        if entry.is_dir() and not entry.name.startswith(".") and entry != keep:
            try:
                entries.append((entry.stat().st_mtime_ns, entry))
            except OSError:
                continue
    entries.sort(reverse=True)
    for _, entry in entries[CACHE_ENTRIES - 1 :]:
        shutil.rmtree(entry, ignore_errors=True)
