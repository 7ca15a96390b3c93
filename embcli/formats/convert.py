"""Import, export and convert through the registry: file -> model folder -> file."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from embcli.errors import FormatError, UsageError, storage_error
from embcli.folder import ImportSummary, ModelFolder, RowProgress, atomic_dir
from embcli.folder.atomic import clean_stale, describe
from embcli.folder.output import write_file
from embcli.formats import default_name, get_format, strip_compression
from embcli.formats.detect import detect_format, output_format, refuse_other_format, sniff
from embcli.formats.streams import open_input, open_output
from embcli.store import ModelStore


def read_into(src: str, folder: Path, fmt: str | None = None, limit: int | None = None, lossy: bool = False,
              progress: RowProgress | None = None, nonfinite: str = "error") -> tuple[str, ImportSummary]:
    """Read the file ``src`` (``-`` for stdin) into the empty folder ``folder``; return format and summary.

    ``nonfinite`` is ``"error"`` (NaN or infinite values refuse the file, naming the row) or ``"zero"``
    (they are replaced by 0 and counted in the summary).
    """
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
            return fmt, spec.read_fn()(Path(src), folder, source, limit=limit, lossy=lossy, progress=progress,
                                       nonfinite=nonfinite)
        if not spec.streams:
            path = src
            if src == "-" or strip_compression(src)[1]:
                stream = stream or open_input(src)[0]
                spooled = folder / ".input.tmp"
                with open(spooled, "wb") as fh:
                    shutil.copyfileobj(stream, fh, 1 << 22)
                path = str(spooled)
            return fmt, spec.read_fn()(path, folder, source, limit=limit, lossy=lossy, progress=progress,
                                       nonfinite=nonfinite)
        if stream is None:
            stream, size = open_input(src)
        refuse_other_format(stream.peek(16)[:16], fmt, source)
        return fmt, spec.read_fn()(stream, folder, source, limit=limit, lossy=lossy, total=size, progress=progress,
                                   nonfinite=nonfinite)
    finally:
        if stream is not None and src != "-":
            stream.close()
        if spooled is not None:
            spooled.unlink(missing_ok=True)


def import_to_store(src: str, name: str | None = None, fmt: str | None = None, limit: int | None = None,
                    lossy: bool = False, force: bool = False, make_default: bool = True, store=None,
                    progress: RowProgress | None = None, nonfinite: str = "error") -> tuple[str, str, ImportSummary]:
    """Import a file into the store as model ``name``; return (name, format, summary)."""
    store = store or ModelStore()
    name = name or default_name(src)
    with store.writer(name, force=force) as tmp:
        found, summary = read_into(src, tmp, fmt, limit, lossy, progress, nonfinite)
    if make_default:
        store.set_default(name)
    return name, found, summary


def export_model(model, dst: str, fmt: str | None = None, limit: int | None = None, normalize: bool = False,
                force: bool = False, progress: RowProgress | None = None) -> tuple[str, int]:
    """Write ``model`` to ``dst`` (``-`` for stdout) in ``fmt``; return (format, rows written).

    A file is written under a temporary name and renamed at the end, so a failed export leaves no
    half file behind; it gets the mode of the file it replaces, or the one the umask gives. A FIFO
    or a character device (``/dev/null``) is written through, never replaced; a symlink to a file is
    followed (the link stays); a folder, a block device or a socket is refused. A full or read-only
    disk is a ``StorageError`` naming ``dst``.
    """
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    fmt = output_format(dst, fmt)
    spec = get_format(fmt)
    writer = spec.write_fn()
    if spec.folder or not spec.streams:
        if dst == "-":
            raise UsageError(f"format {fmt} cannot be written to stdout: give an output path")
        if strip_compression(dst)[1]:
            raise UsageError(f"{dst}: format {fmt} cannot be compressed this way: drop the {Path(dst).suffix} suffix")
    if spec.folder:
        source = getattr(model, "path", None)
        if source is not None and Path(dst).resolve() == Path(source).resolve():
            raise UsageError(f"{dst}: the export would replace the model it is read from: give another output path")
        with atomic_dir(Path(dst), force=force) as tmp:
            rows = writer(model, tmp, limit=limit, normalize=normalize, progress=progress)
        return fmt, rows
    if dst == "-":
        return fmt, _export_to_stdout(writer, model, limit, normalize, progress)
    compression = strip_compression(dst)[1]

    def write(path: str) -> int:
        if spec.streams:
            with open_output(path, compression) as out:
                return writer(model, out, limit=limit, normalize=normalize, progress=progress)
        return writer(model, path, limit=limit, normalize=normalize, progress=progress)

    try:
        return fmt, write_file(Path(dst), write, force=force, streams=spec.streams)
    except OSError as exc:
        raise storage_error(exc, dst) or exc


def _export_to_stdout(writer, model, limit, normalize, progress) -> int:
    """Write to stdout; a reader that closes the pipe early makes the export fail (it is incomplete)."""
    total = model.vocab_size if limit is None else min(limit, model.vocab_size)
    done = [0]

    def seen(rows: int, total_: int | None, rows_: int) -> None:
        done[0] = rows
        if progress:
            progress(rows, total_, rows_)

    out = open_output("-")
    try:
        rows = writer(model, out, limit=limit, normalize=normalize, progress=seen)
        out.flush()
    except BrokenPipeError:
        # Later flushes of stdout (at exit too) would fail again: send what is left to /dev/null.
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, out.fileno())
        os.close(null)
        raise FormatError(
            f"stdout: the pipe was closed by its reader before the export ended ({done[0]:,} of {total:,} rows"
            " handed over): the output is incomplete; write to a file instead"
        ) from None
    return rows


def convert(src: str, dst: str, from_fmt: str | None = None, to_fmt: str | None = None, limit: int | None = None,
            lossy: bool = False, normalize: bool = False, force: bool = False,
            progress: RowProgress | None = None, nonfinite: str = "error") -> tuple[str, str, ImportSummary, int]:
    """Convert a file to another format without touching the store; return formats, summary, rows."""
    to_fmt = output_format(dst, to_fmt)
    if from_fmt is None and src != "-" and Path(src).is_dir():
        from_fmt = "folder"
    if from_fmt == "folder":
        model = ModelFolder(Path(src))
        fmt, rows = export_model(model, dst, to_fmt, limit, normalize, force, progress)
        summary = ImportSummary(rows=model.vocab_size, dim=model.dim)
        return "folder", fmt, summary, rows
    if dst != "-" and Path(dst).exists() and not force:
        raise FormatError(f"{dst} exists: pass --force to replace it")
    # The work folder goes next to a regular file's destination (same disk), else to the temp folder.
    regular = dst != "-" and describe(Path(dst).resolve()) in (None, "a file")
    where = Path(dst).resolve().parent if regular else None
    try:
        if where is not None:
            where.mkdir(parents=True, exist_ok=True)
            clean_stale(where)
        work = Path(tempfile.mkdtemp(prefix=f".emb-convert-{os.getpid()}-", dir=where))
    except OSError as exc:
        raise storage_error(exc, where) or exc
    try:
        found, summary = read_into(src, work, from_fmt, limit, lossy, progress, nonfinite)
        fmt, rows = export_model(ModelFolder(work), dst, to_fmt, None, normalize, force, progress)
    except OSError as exc:
        raise storage_error(exc, work) or exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return found, fmt, summary, rows
