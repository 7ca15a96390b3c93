"""Writing a user's output file safely: replace a regular file atomically, write through a FIFO or device.

One policy for every output file emb writes (exports, sentence vectors, maps): a regular file is
written under a temporary sibling (its name carries the PID, so a killed run's leftover is cleaned
later) and renamed over the target, keeping the target's mode or taking the umask's; a FIFO or a
character device (``/dev/stdout``, ``/dev/null``) is written through, never replaced; a symlink is
followed (the link stays); a folder, a block device or a socket is refused.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

from embcli.errors import FormatError, storage_error
from embcli.folder.atomic import apply_umask, clean_stale, describe

T = TypeVar("T")


def write_file(dst: Path, write: Callable[[str], T], force: bool = False, streams: bool = True) -> T:
    """Run ``write(path)`` so that ``dst`` ends up written by the policy above; return what it returns.

    ``streams``: ``write`` can write into a FIFO or device path directly (else it gets a temporary
    file, copied through). Without ``force`` an existing regular file is refused.
    """
    target, through = output_target(Path(dst), force)
    if through:
        return write_through(target, write, streams)
    return write_replacing(target, write)


def output_target(dst: Path, force: bool) -> tuple[Path, bool]:
    """The path an export writes, and whether it writes through it (a FIFO, a device) or replaces it."""
    try:
        st = os.stat(dst)  # follows symlinks: what a write would reach
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise storage_error(exc, dst) or FormatError(f"{dst}: {exc.strerror}: choose another path") from None
    if st is not None and (stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        return dst, True  # written through like ``cat > dst``; nothing is replaced, so no --force needed
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = describe(Path(os.path.realpath(dst))) or "not a regular file"
        raise FormatError(f"{dst} is {kind}: a file is written there; choose another path")
    if st is not None and not force:
        raise FormatError(f"{dst} exists: pass --force to replace it")
    # A symlink (even a dangling one) is followed: the file it points to is replaced, the link stays.
    return (Path(os.path.realpath(dst)) if os.path.islink(dst) else dst), False


def write_through(target: Path, write, streams: bool) -> int:
    """Write into an existing FIFO or device (a format that needs a real file goes through a temporary one)."""
    if streams:
        return write(str(target))
    fd, tmp = tempfile.mkstemp(prefix=f".emb-export-{os.getpid()}-", suffix=".tmp")
    os.close(fd)
    try:
        rows = write(tmp)
        with open(tmp, "rb") as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        return rows
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_replacing(target: Path, write) -> int:
    """Write a temporary sibling of ``target``, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target.parent)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)  # a replaced file keeps its mode, as with ``cp``
    except OSError:
        mode = None
    tmp, prefix = None, f".{target.name[:80]}.{os.getpid()}."
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
        os.close(fd)
        rows = write(tmp)
        apply_umask(Path(tmp), folder=False, like=mode)
        os.replace(tmp, target)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and (exc.filename is None or os.path.basename(str(exc.filename)).startswith(prefix)):
            raise OSError(exc.errno, exc.strerror, str(target)) from None  # the temporary file is gone
        raise
    return rows
