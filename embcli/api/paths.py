"""Paths: the corpus paths a function is given, checked; an operating-system error while writing an
output becomes one line naming it."""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path

from embcli.errors import EmbError, UsageError


@contextmanager
def writing(output: str | Path):
    """Turn an ``OSError`` raised on ``output``, a temporary sibling of it or one of its folders into
    an ``EmbError`` that names the output and the reason (``--output file/sub``, ``/proc/x``)."""
    try:
        yield
    except OSError as exc:
        if str(output) == "-" or not _concerns(output, exc.filename):
            raise
        raise EmbError(f"cannot write {output}: {_reason(output, exc)}") from None


def _concerns(output: str | Path, filename) -> bool:
    if not isinstance(filename, (str, bytes, os.PathLike)):
        return False
    target = Path(os.path.abspath(output))
    path = Path(os.path.abspath(os.fsdecode(filename)))
    return path == target or path.parent == target.parent or path in target.parents


def _reason(output: str | Path, exc: OSError) -> str:
    """Why: a file where a folder should be is named; otherwise the system's reason."""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        for parent in Path(os.path.abspath(output)).parents:
            if parent.exists():
                if not parent.is_dir():
                    return f"{parent} is a file, not a folder"
                break
    where = Path(os.path.abspath(output)).parent
    return f"{exc.strerror or exc} ({where} cannot hold it: choose another path)"


def input_paths(corpus) -> list[str]:
    """A corpus given as one path (str or ``os.PathLike``) or a list of them, as a list of strings."""
    items = [corpus] if isinstance(corpus, (str, os.PathLike, bytes, bytearray)) else corpus
    try:
        items = list(items)
    except TypeError:
        raise UsageError(f"a corpus is a path or a list of paths, not {type(corpus).__name__}") from None
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise UsageError(f"a corpus path must be a string or a Path, not {type(item).__name__} ({item!r:.60})")
    return [str(item) for item in items]


def refuse_input_as_output(output: Path, inputs: list[str], what: str) -> None:
    """Refuse to write ``output`` when it is one of the corpus's files (a folder or a glob counts by
    the files it holds): with ``--force`` the corpus itself would be replaced."""
    if not output.exists():
        return
    from embcli.corpus import resolve_inputs

    for source in resolve_inputs(inputs):
        if source != "-" and os.path.exists(source) and os.path.samefile(source, output):
            raise UsageError(f"{output} is also an input: write {what} to another file")
