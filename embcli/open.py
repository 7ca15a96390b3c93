"""Open a model from what a user names: a store name, a model folder, or a vector file.

A file in any supported format is imported once into the store's cache (``$EMB_HOME/cache``) and
opened from there; the cache keeps the ``CACHE_ENTRIES`` most recently used files.
"""

from __future__ import annotations

import os
from pathlib import Path

from embcli.errors import ModelError
from embcli.folder import ModelFolder, is_model_folder
from embcli.store import ModelStore

# The readers of vector files (embcli.formats) are imported when a file is opened: a query on a
# model folder does not pay for them.


def resolve(spec: str | None = None, store: ModelStore | None = None) -> Path:
    """The folder of a model given by name, folder path or file path; None means the default model."""
    store = store or ModelStore()
    if spec is None:
        return store.default_path()
    candidate = Path(spec)
    if candidate.is_file() and (os.sep in spec or not store.has(spec)):
        # A file in a supported format (a model of the same name wins): read once, then cached.
        return cached_model_dir(candidate, store)
    if os.sep in spec and not candidate.exists():
        raise ModelError(f"{spec}: no such file or folder: pass a model name, a model folder or a vector file")
    # A bare name is the store's model when there is one, as for a file of that name: ./NAME for the
    # folder here.
    if os.sep in spec or candidate.exists() and is_model_folder(candidate) and not store.has(spec):
        if not is_model_folder(candidate):
            raise ModelError(f"{spec}: not a model folder (no meta.json): pass a model name or folder")
        return candidate
    if candidate.suffix and not candidate.exists() and not store.has(spec):
        # A file name (words.vec), most likely: say that no file is there either.
        raise ModelError(f"{spec}: no such file, and no model of that name {store.lookup_hint()}")
    return store.lookup(spec)


def open_model(spec: str | None = None, store: ModelStore | None = None) -> ModelFolder:
    """Open a model by name, folder path, file in a supported format, or the store's default (None)."""
    return ModelFolder(resolve(spec, store))


def cached_model_dir(path: Path, store) -> Path:
    """The model folder of a file passed as ``-m FILE``: imported once, kept in the store's cache.

    The cache entry is keyed by the file's absolute path, size, modification time, inode and
    status-change time (which no tool can set back, unlike the modification time that ``cp -p``,
    ``rsync -t`` and ``tar`` restore), so a changed file is read again; ``$EMB_HOME/cache`` can be
    deleted at any time. It keeps the
    ``CACHE_ENTRIES`` most recently used models: adding one removes the least recently used.
    """
    import hashlib

    from embcli.formats.convert import read_into

    path = Path(path).resolve()
    st = path.stat()
    stamp = f"{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0{st.st_ctime_ns}"
    key = hashlib.sha256(f"{path}\0{stamp}".encode()).hexdigest()[:24]
    target = store.root / "cache" / f"{path.name[:60]}-{key}"
    if (target / "meta.json").is_file():
        try:
            os.utime(target)  # most recently used
        except OSError:
            pass
        return target
    # Several processes may read the same new file at once: the first to finish fills the entry and
    # the others keep it (``keep_existing``); a reader never sees the entry missing or half written.
    from embcli.folder.atomic import atomic_dir  # (here: opening a model folder writes nothing)

    with atomic_dir(target, keep_existing=True) as tmp:
        read_into(str(path), tmp)
    _prune_cache(target.parent, keep=target)
    return target


CACHE_ENTRIES = 8


def _prune_cache(cache: Path, keep: Path) -> None:
    """Remove the least recently used cache entries beyond ``CACHE_ENTRIES`` (never ``keep``)."""
    import shutil
    import tempfile

    entries = []
    for entry in cache.iterdir():
        if entry.is_dir() and not entry.name.startswith(".") and entry != keep:
            try:
                entries.append((entry.stat().st_mtime_ns, entry))
            except OSError:
                continue
    entries.sort(reverse=True)
    for _, entry in entries[CACHE_ENTRIES - 1 :]:
        # Moved aside first, so that a process opening it finds it whole or not at all.
        trash = None
        try:
            trash = Path(tempfile.mkdtemp(prefix=f".rm-{entry.name[:80]}-{os.getpid()}-", dir=cache))
            os.replace(entry, trash)
        except OSError:  # another process or thread removed it first: its empty trash folder goes too
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
            continue
        shutil.rmtree(trash, ignore_errors=True)
