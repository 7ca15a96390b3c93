"""Atomic creation of a folder: work in a temporary sibling, rename it into place at the end.

Also the rules every writer of a path follows:

- ``check_folder_target``: only a model folder (or an empty folder) is ever replaced; a file, a
  device, a FIFO or a folder of someone else's files is refused, even with ``force``.
- Temporary names carry the writing process's id (``.tmp-NAME-PID-xxxxxxxx``); ``clean_stale``
  removes those whose process is gone (killed), and remembers what it removed (``drain_cleaned``).
- Files and folders get the modes the umask gives (``umask``), as ``cp`` and ``mkdir`` do, not the
  0600/0700 of ``mkstemp``/``mkdtemp``.
- Replacing an existing folder swaps the two in one step (``renameat2(RENAME_EXCHANGE)``), so the
  target never disappears, not even for a moment, while another process reads it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import stat
import tempfile
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable, ContextManager, Iterator

from embcli.errors import ModelError, UsageError, raise_if_interrupted, storage_error

# The files and folders of the folders emb writes (a model folder, an Embedding Projector export):
# a folder holding only these (or nothing) is emb's, and ``--force`` may replace it.
_FOLDER_PARTS = {
    "meta.json", "vocab.txt", "vectors.npy", "norms.npy", "counts.npy", "ngrams.npy", "search-index", "state",
    "ann-index", "hnsw.base.npy", "hnsw.upper.npy", "hnsw.upper-ids.npy", "index.json", "hnsw.usearch",
    "vectors.tsv", "metadata.tsv", "projector_config.pbtxt",
}

# Temporary names with the id of the process that made them: .tmp-NAME-PID-xxxxxxxx (atomic_dir),
# .old-NAME-PID-xxxxxxxx (a replaced folder), .rm-NAME-PID-xxxxxxxx (a removed model),
# .emb-convert-PID-xxxxxxxx (convert's work folder), .NAME.PID.xxxxxxxx.tmp (an export's file),
# .default-PID-xxxxxxxx (the store's default), .int8-PID-xxxxxxxx.npy / .index-PID-xxxxxxxx.json.
_STALE = re.compile(
    r"^\.(?:(?:tmp|old|rm)-.+-(?P<a>\d+)-[A-Za-z0-9_]{6,}"
    r"|(?:emb-convert|default|int8|index)-(?P<b>\d+)-[A-Za-z0-9_]{6,}(?:\.npy|\.json)?"
    r"|.+\.(?P<c>\d+)\.[A-Za-z0-9_]{6,}\.tmp)$"
)
_CLEANED: list[Path] = []


def umask() -> int:
    """The process's umask (read without changing it where the system allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path: Path, folder: bool, like: int | None = None) -> None:
    """Give ``path`` the mode a new file (0666) or folder (0777) gets under the umask, or ``like``."""
    mode = like if like is not None else (0o777 if folder else 0o666) & ~umask()
    os.chmod(path, stat.S_IMODE(mode))


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), where /proc tells."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat", encoding="ascii") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _owner_gone(pid: int, made: float) -> bool:
    """Whether the process that made a leftover (at time ``made``) no longer runs."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False
    start = _process_start(pid)
    # The id was reused: this process started after the leftover was last written.
    return start is not None and start > made + 2


def clean_stale(folder: Path) -> list[Path]:
    """Remove the temporary leftovers in ``folder`` whose process is gone; return what was removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _STALE.match(entry.name)
        if not match:
            continue
        pid = int(match.group("a") or match.group("b") or match.group("c"))
        try:
            made = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if not _owner_gone(pid, made):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue  # another process cleaned it first
        except OSError:
            continue  # not ours to remove (read-only, permissions): left as it is
        removed.append(path)
    _CLEANED.extend(removed)
    return removed


def drain_cleaned() -> list[Path]:
    """The leftovers removed by ``clean_stale`` in this process since the last call."""
    out = list(_CLEANED)
    _CLEANED.clear()
    return out


def describe(path: Path) -> str | None:
    """What kind of thing is at ``path`` (without following a final symlink), None when nothing."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISREG, "a file"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


def is_emb_folder(path: Path) -> bool:
    """Whether ``path`` is a folder emb may replace: empty, a model folder, or only a model's files."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return "meta.json" in names or set(names) <= _FOLDER_PARTS


def check_folder_target(target: Path, force: bool) -> Path:
    """The folder to write for ``target`` (a symlink is followed); refuse what must not be replaced."""
    if str(target) == "-":  # what emb's file outputs read as stdout
        raise UsageError("--output '-': a model is a folder, not a stream: give the name of a folder")
    target = Path(target)
    if os.path.islink(target):
        target = Path(os.path.realpath(target))
    kind = describe(target)
    if kind is None:
        return target
    if kind != "a folder":
        raise ModelError(f"{target} is {kind}, not a model folder: emb does not replace it; choose another path")
    here = Path.cwd().resolve()
    if target.resolve() in (here, *here.parents):
        raise ModelError(f"{target or '.'} is the current folder (or holds it): give the name of a new folder to write")
    if os.listdir(target) and not is_emb_folder(target):
        raise ModelError(
            f"{target} is a folder that is not an emb model: emb replaces only model folders;"
            " choose another path, or empty it first"
        )
    if not force and os.listdir(target):
        raise ModelError(f"{target} exists: pass --force to replace it, or choose another name")
    if not is_emb_folder(target):
        raise ModelError(
            f"{target} is a folder that is not an emb model: emb replaces only model folders;"
            " choose another path, or empty it first"
        )
    return target


def _libc_renameat2():
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _libc_renameat2()
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one step; False when the system cannot (then nothing moved)."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _commit(tmp: Path, target: Path, force: bool, keep_existing: bool) -> None:
    """Move the finished ``tmp`` to ``target``; an existing model folder is swapped out and removed."""
    try:
        os.rename(tmp, target)  # also replaces an empty folder
        return
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise
    # Someone else put something there while we worked.
    if keep_existing and (target / "meta.json").is_file():
        shutil.rmtree(tmp, ignore_errors=True)  # the same content, made by another process
        return
    if not force:
        raise ModelError(f"{target} appeared while writing: pass --force to replace it")
    check_folder_target(target, force=True)
    if exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
        return
    old = Path(tempfile.mkdtemp(prefix=f".old-{target.name[:80]}-{os.getpid()}-", dir=target.parent))
    os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_dir(
    target: Path,
    force: bool = False,
    keep_existing: bool = False,
    lock: Callable[[], ContextManager] | None = None,
    expect: Callable[[], None] | None = None,
) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``target``; move it into place if the block succeeds.

    On any exception (Ctrl-C included) the temporary folder is removed and ``target`` is untouched.
    With ``force`` an existing model folder is replaced; without it, it is refused before any work.
    Anything but a model folder (a file, a device, someone's folder) is refused either way.
    ``keep_existing``: a model folder that another process finished first is kept (a cache).
    ``lock``: held while the result is moved into place (the store's lock).
    ``expect``: called under the lock just before the move; it raises to refuse the move (the
    source of a ``--continue`` replaced meanwhile by another run, say).
    Stale leftovers of killed runs next to ``target`` are removed first (see ``clean_stale``).
    A full or read-only disk is a ``StorageError`` naming ``target``.
    """
    target = check_folder_target(Path(target), force or keep_existing)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(target.parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name[:80]}-{os.getpid()}-", dir=target.parent))
    except OSError as exc:
        raise storage_error(exc, target) or exc
    try:
        yield tmp
        raise_if_interrupted()  # Ctrl-C that some library swallowed: the result is not saved
        apply_umask(tmp, folder=True)
        with lock() if lock is not None else nullcontext():
            if expect is not None:
                expect()
            _commit(tmp, target, force, keep_existing)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            named = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
            if not named or any(p.startswith(str(tmp)) for p in named):
                # A file inside the temporary folder (gone now) is reported as the target.
                exc = OSError(exc.errno, exc.strerror, str(target))
            error = storage_error(exc, target)
            if error is not None:
                raise error from None
        raise
