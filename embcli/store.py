"""The model store: names, the default model, listing and removal under ``$EMB_HOME``.

Models live in ``models/NAME/`` (model folders, see ``embcli.folder``); the default model's name is
in ``default`` at the root. The store knows no file formats: opening a file given as a model is
``embcli.open``'s job.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from embcli.errors import EmbError, ModelError, StorageError, UsageError, storage_error
from embcli.folder.layout import REQUIRED_FILES, VECTORS, is_model_folder, read_meta, validate_meta
from embcli.folder.reader import load_array
from embcli.folder.storage import required_files


def store_root() -> Path:
    """``$EMB_HOME``, else ``$XDG_DATA_HOME/emb``, else ``~/.local/share/emb``."""
    if os.environ.get("EMB_HOME"):
        return Path(os.environ["EMB_HOME"]).expanduser()
    if os.environ.get("XDG_DATA_HOME"):
        return Path(os.environ["XDG_DATA_HOME"]).expanduser() / "emb"
    return Path.home() / ".local" / "share" / "emb"


def check_name(name: str) -> str:
    """Return ``name`` if it can name a model folder; refuse separators, ``..``, hidden names, tabs,
    line breaks and other characters that do not print, and names over 200 bytes."""
    if len(name.encode("utf-8")) > 200:
        raise UsageError(f"invalid model name {name[:40]!r}...: a name is at most 200 bytes of UTF-8 (a shorter --name)")
    if (
        not name
        or name in (".", "..")
        or name.startswith(".")
        or any(c in name for c in "/\\\x00")
        or name != name.strip()
        or not name.isprintable()
    ):
        raise UsageError(
            f"invalid model name {name!r}: use letters, digits, '-', '_' or '.', without '/', a leading '.',"
            " spaces at the ends or characters that do not print (tabs, line breaks)"
        )
    return name


def _valid(name: str) -> bool:
    try:
        check_name(name)
    except UsageError:
        return False
    return True


@dataclass
class ModelInfo:
    """A line of ``emb models list``."""

    name: str
    path: Path
    algorithm: str
    dim: int
    vocab_size: int
    size_bytes: int
    created: str
    default: bool
    storage: str = "float32"
    damaged: str | None = None  # what is wrong, for a model that cannot be opened


class ModelStore:
    """Models by name under a root folder; the default model's name is kept in ``default``."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else store_root()
        self.models_dir = self.root / "models"

    def path(self, name: str) -> Path:
        self._check_folders()
        return self.models_dir / check_name(name)

    def _check_folders(self) -> None:
        """Refuse a store whose root or ``models`` folder is a file (``EMB_HOME`` set to a file, say)."""
        for folder in (self.root, self.models_dir):
            if folder.exists() and not folder.is_dir():
                raise StorageError(
                    f"{folder} is a file, where the model store keeps its folders: point EMB_HOME at a folder"
                    " (or move the file away)"
                )

    def names(self) -> list[str]:
        self._check_folders()
        if not self.models_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.models_dir.iterdir() if p.is_dir() and not p.name.startswith(".") and _valid(p.name)
        )

    def exists(self, name: str) -> bool:
        return is_model_folder(self.path(name))

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's lock (``.lock`` at the root): changes of names and the default, one at a time."""
        self._check_folders()
        try:
            import fcntl
        except ImportError:  # no flock on this system: renames alone keep each change whole
            yield
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise storage_error(exc, self.root) or exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def clean(self) -> list[Path]:
        """Remove the leftovers of killed runs (temporary and half-removed models); return them."""
        from embcli.folder.atomic import clean_stale

        return clean_stale(self.models_dir) + clean_stale(self.root / "cache") + clean_stale(self.root)

    def default_name(self) -> str | None:
        try:
            name = (self.root / "default").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return name or None

    def set_default(self, name: str) -> None:
        """Make ``name`` the default model (under the store's lock: never a removed model)."""
        import tempfile  # (here: a query imports none of the writing code)

        from embcli.folder.atomic import apply_umask

        with self.lock():
            if not self.exists(name):
                raise ModelError(self._unknown(name))
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".default-{os.getpid()}-", dir=self.root)
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as fh:
                        fh.write(name + "\n")
                    apply_umask(Path(tmp), folder=False)
                    os.replace(tmp, self.root / "default")
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
            except OSError as exc:
                raise storage_error(exc, self.root / "default") or exc

    def remove(self, name: str) -> bool:
        """Delete a model; return whether it was the default (which is then cleared)."""
        import shutil
        import tempfile

        path = self.path(name)
        self.clean()
        trash = None
        with self.lock():
            if not path.is_dir():
                raise ModelError(self._unknown(name))
            was_default = self.default_name() == name
            try:
                if path.is_symlink():
                    path.unlink()  # a linked model: the link goes, the folder it points to stays
                else:
                    trash = Path(tempfile.mkdtemp(prefix=f".rm-{name[:80]}-{os.getpid()}-", dir=self.models_dir))
                    os.replace(path, trash)
                if was_default:
                    (self.root / "default").unlink(missing_ok=True)
            except OSError as exc:
                raise storage_error(exc, path) or exc
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        return was_default

    @contextmanager
    def writer(self, name: str, force: bool = False, expect: Callable[[], None] | None = None) -> Iterator[Path]:
        """Atomically create (or with ``force`` replace) model ``name``; see ``atomic_dir``.

        The finished folder is moved into place under the store's lock, so parallel writers of
        one name each finish cleanly (the last one wins) and never race a removal. ``expect`` is
        called under the lock first and may refuse the move by raising.
        """
        from embcli.folder.atomic import atomic_dir

        target = self.path(name)
        if target.exists() and not force:
            raise ModelError(f"model {name!r} exists: pass --force to replace it, or --name to choose another")
        with atomic_dir(target, force=force, lock=self.lock, expect=expect) as tmp:
            yield tmp

    def default_path(self) -> Path:
        """The folder of the default model; an error naming what to do when there is none."""
        name = self.default_name()
        if name is not None and not _valid(name):
            raise ModelError(f"{self.root / 'default'} names {name[:60]!r}, which is not a model name (the file was"
                             " edited by hand?): choose the default model with `emb models use NAME`")
        if name is not None and not self.exists(name) and self.path(name).is_dir():
            raise _no_meta(f"the default model {name!r}", name, "choose another with `emb models use NAME`")
        if name is None or not self.exists(name):
            names = [n for n in self.names() if self.exists(n)]
            if names:
                shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
                gone = f"the default model {name!r} is gone" if name else "no default model"
                raise ModelError(f"{gone}: choose one with `emb models use NAME` (models: {shown}), or pass -m")
            raise ModelError("no model yet: train one with `emb train FILE`, or pass -m")
        return self.path(name)

    def lookup(self, name: str) -> Path:
        """The folder of the model called ``name``; an error listing the models when there is none."""
        check_name(name)
        if not self.exists(name):
            if self.path(name).is_dir():
                raise _no_meta(f"model {name!r}", name, "train or import it again")
            raise ModelError(self._unknown(name))
        return self.path(name)

    def has(self, name: str) -> bool:
        """Whether ``name`` is a valid model name with a model in the store."""
        try:
            return self.exists(name)
        except UsageError:
            return False

    def info(self, name: str) -> ModelInfo:
        """A model's line in the listing; a damaged model is described, not an error."""
        path = self.path(name)
        size = 0
        for f in path.rglob("*"):
            try:
                size += f.stat().st_size if f.is_file() else 0
            except OSError:
                continue
        default = self.default_name() == name
        try:
            meta = validate_meta(read_meta(path), path)
            kind = storage_label(meta)  # a compressed folder (emb compress) has no vectors.npy
            for part in [f for f in REQUIRED_FILES if f != VECTORS] + list(required_files(kind)):
                if not (path / part).is_file():
                    raise ModelError(f"{path / part}: missing: the model folder is damaged")
                if part.endswith(".npy"):
                    load_array(path / part, part)  # its header against its size: a file cut short is damage
        except EmbError as exc:
            return ModelInfo(name, path, "?", 0, 0, size, "", default, damaged=str(exc))
        return ModelInfo(
            name=name,
            path=path,
            algorithm=str(meta.get("algorithm", "?")),
            dim=int(meta.get("dim", 0)),
            vocab_size=int(meta.get("vocab_size", 0)),
            size_bytes=size,
            created=str(meta.get("created", "")),
            default=default,
            storage=storage_label(meta),
        )

    def list(self) -> list[ModelInfo]:
        """Every model folder of the store, damaged ones included (with ``damaged`` saying why).

        Leftovers of killed runs are removed first (``clean``).
        """
        self.clean()
        return [self.info(n) for n in self.names()]

    def _unknown(self, name: str) -> str:
        return f"no model named {name!r} {self.lookup_hint()}"

    def lookup_hint(self) -> str:
        """The models there are, for an error about one that is not."""
        names = self.names()
        known = ", ".join(names) if names else "none yet"
        return f"(models: {known}): see `emb models list`"


def storage_label(meta: dict) -> str:
    """How a model's vectors are stored (float32, float16, int8, pq), for listings; ``?`` if unreadable."""
    storage = meta.get("storage")
    if storage is None:
        return "float32"
    kind = storage.get("kind") if isinstance(storage, dict) else None
    return str(kind) if isinstance(kind, str) else "?"


def _no_meta(what: str, name: str, or_else: str) -> ModelError:
    """A store folder without meta.json: damaged, and the ways out."""
    return ModelError(f"{what} is damaged (its meta.json is missing): remove it with `emb models rm {name}`, or"
                      f" {or_else}")

