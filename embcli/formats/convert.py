"""Import, export and convert through the registry: file -> model folder -> file."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from embcli.errors import FormatError, UsageError
from embcli.folder import ImportSummary, ModelFolder, RowProgress, atomic_dir
from embcli.formats import default_name, get_format, strip_compression
from embcli.formats.detect import detect_format, output_format, sniff
from embcli.formats.streams import open_input, open_output
from embcli.store import ModelStore


def read_into(src: str, folder: Path, fmt: str | None = None, limit: int | None = None, lossy: bool = False,
              progress: RowProgress | None = None) -> tuple[str, ImportSummary]:
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
            if src == "-" or strip_compression(src)[1]:
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


def import_to_store(src: str, name: str | None = None, fmt: str | None = None, limit: int | None = None,
                    lossy: bool = False, force: bool = False, make_default: bool = True, store=None,
                    progress: RowProgress | None = None) -> tuple[str, str, ImportSummary]:
    """Import a file into the store as model ``name``; return (name, format, summary)."""
    store = store or ModelStore()
    name = name or default_name(src)
    with store.writer(name, force=force) as tmp:
        found, summary = read_into(src, tmp, fmt, limit, lossy, progress)
    if make_default:
        store.set_default(name)
    return name, found, summary


def export_model(model, dst: str, fmt: str | None = None, limit: int | None = None, normalize: bool = False,
                force: bool = False, progress: RowProgress | None = None) -> tuple[str, int]:
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
        if strip_compression(dst)[1]:
            raise UsageError(f"{dst}: format {fmt} cannot be compressed this way: drop the {Path(dst).suffix} suffix")
    if dst != "-" and Path(dst).exists() and not force and not spec.folder:
        raise FormatError(f"{dst} exists: pass --force to replace it")
    if spec.folder:
        with atomic_dir(Path(dst), force=force) as tmp:
            rows = writer(model, tmp, limit=limit, normalize=normalize, progress=progress)
        return fmt, rows
    if dst == "-":
        out = open_output(dst)
        rows = writer(model, out, limit=limit, normalize=normalize, progress=progress)
        out.flush()
        return fmt, rows
    target = Path(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        if spec.streams:
            with open_output(tmp, strip_compression(dst)[1]) as out:
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
            progress: RowProgress | None = None) -> tuple[str, str, ImportSummary, int]:
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
    where = Path(dst).resolve().parent if dst != "-" else None
    if where is not None:
        where.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".emb-convert-", dir=where))
    try:
        found, summary = read_into(src, work, from_fmt, limit, lossy, progress)
        fmt, rows = export_model(ModelFolder(work), dst, to_fmt, None, normalize, force, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return found, fmt, summary, rows
