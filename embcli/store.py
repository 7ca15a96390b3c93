"""The model store: one folder per model under ``$EMB_HOME/models``, written atomically.

A model folder holds ``meta.json``, ``vocab.txt`` (one word a line, most frequent first),
``vectors.npy`` (float32 [V, D], raw), ``norms.npy`` (float32 [V]), optionally ``counts.npy``
(int64 [V]) and, for FastText, ``ngrams.npy`` (float32 [buckets, D]). Nothing is pickled; arrays are
loaded with ``allow_pickle=False`` and memory-mapped.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from embcli import __version__
from embcli.errors import ModelError, UsageError

FORMAT_VERSION = 1
MODEL_FILES = ("meta.json", "vocab.txt", "vectors.npy", "norms.npy")


def store_root() -> Path:
    """``$EMB_HOME``, else ``$XDG_DATA_HOME/emb``, else ``~/.local/share/emb``."""
    if os.environ.get("EMB_HOME"):
        return Path(os.environ["EMB_HOME"]).expanduser()
    if os.environ.get("XDG_DATA_HOME"):
        return Path(os.environ["XDG_DATA_HOME"]).expanduser() / "emb"
    return Path.home() / ".local" / "share" / "emb"


def check_name(name: str) -> str:
    """Return ``name`` if it can name a model folder; refuse separators, ``..`` and hidden names."""
    if (
        not name
        or name in (".", "..")
        or name.startswith(".")
        or any(c in name for c in "/\\\x00")
        or len(name.encode("utf-8")) > 200
        or name != name.strip()
    ):
        raise UsageError(
            f"invalid model name {name!r}: use letters, digits, '-', '_' or '.', without '/' or a leading '.'"
        )
    return name


def write_model_dir(
    folder: Path,
    words: list[str],
    vectors: np.ndarray,
    meta: dict,
    counts: np.ndarray | None = None,
    ngrams: np.ndarray | None = None,
) -> None:
    """Write the files of a model into ``folder`` (which must exist and be empty)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ModelError(f"{len(words)} words but a vector matrix of shape {vectors.shape}")
    for word in words:
        if "\n" in word or "\r" in word:
            raise ModelError(f"word {word!r} holds a line break and cannot be stored")
    with open(folder / "vocab.txt", "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(words))
        if words:
            fh.write("\n")
    np.save(folder / "vectors.npy", vectors)
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64)).astype(np.float32)
    np.save(folder / "norms.npy", norms)
    if counts is not None:
        np.save(folder / "counts.npy", np.asarray(counts, dtype=np.int64))
    if ngrams is not None:
        np.save(folder / "ngrams.npy", np.ascontiguousarray(ngrams, dtype=np.float32))
    meta = dict(meta)
    meta.setdefault("format_version", FORMAT_VERSION)
    meta.setdefault("emb_version", __version__)
    meta.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    meta["vocab_size"] = len(words)
    meta["dim"] = int(vectors.shape[1])
    with open(folder / "meta.json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=2, ensure_ascii=False)
        fh.write("\n")


@contextmanager
def atomic_dir(target: Path, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``target``; rename it into place if the block succeeds.

    On any exception (Ctrl-C included) the temporary folder is removed and ``target`` is untouched.
    With ``force`` an existing ``target`` is replaced; without it, it is refused before any work.
    """
    target = Path(target)
    if target.exists() and not force:
        raise ModelError(f"{target} exists: pass --force to replace it, or choose another name")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            if not force:
                raise ModelError(f"{target} appeared while writing: pass --force to replace it")
            old = target.parent / f".old-{target.name}-{os.getpid()}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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


class ModelStore:
    """Models by name under a root folder; the default model's name is kept in ``default``."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else store_root()
        self.models_dir = self.root / "models"

    def path(self, name: str) -> Path:
        return self.models_dir / check_name(name)

    def names(self) -> list[str]:
        if not self.models_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.models_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def exists(self, name: str) -> bool:
        return (self.path(name) / "meta.json").is_file()

    def default_name(self) -> str | None:
        try:
            name = (self.root / "default").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return name or None

    def set_default(self, name: str) -> None:
        if not self.exists(name):
            raise ModelError(self._unknown(name))
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".default-", dir=self.root)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(name + "\n")
        os.replace(tmp, self.root / "default")

    def remove(self, name: str) -> bool:
        """Delete a model; return whether it was the default (which is then cleared)."""
        path = self.path(name)
        if not path.is_dir():
            raise ModelError(self._unknown(name))
        was_default = self.default_name() == name
        trash = self.models_dir / f".rm-{name}-{os.getpid()}"
        os.replace(path, trash)
        if was_default:
            (self.root / "default").unlink(missing_ok=True)
        shutil.rmtree(trash, ignore_errors=True)
        return was_default

    @contextmanager
    def writer(self, name: str, force: bool = False) -> Iterator[Path]:
        """Atomically create (or with ``force`` replace) model ``name``; see ``atomic_dir``."""
        target = self.path(name)
        if target.exists() and not force:
            raise ModelError(f"model {name!r} exists: pass --force to replace it, or --name to choose another")
        with atomic_dir(target, force=force) as tmp:
            yield tmp

    def resolve(self, name_or_path: str | None) -> Path:
        """The folder of a model given by name, folder path or file path; None means the default model."""
        if name_or_path is None:
            name = self.default_name()
            if name is None or not self.exists(name):
                raise ModelError("no model yet: train one with `emb train FILE`, or pass -m")
            return self.path(name)
        candidate = Path(name_or_path)
        if candidate.is_file() and (os.sep in name_or_path or not self._is_model(name_or_path)):
            # A file in a supported format (a model of the same name wins): read once, then cached.
            from embcli.formats import cached_model_dir

            return cached_model_dir(candidate, self)
        if os.sep in name_or_path or candidate.exists() and (candidate / "meta.json").is_file():
            if not (candidate / "meta.json").is_file():
                raise ModelError(f"{name_or_path}: not a model folder (no meta.json): pass a model name or folder")
            return candidate
        check_name(name_or_path)
        if not self.exists(name_or_path):
            raise ModelError(self._unknown(name_or_path))
        return self.path(name_or_path)

    def _is_model(self, name: str) -> bool:
        try:
            return self.exists(name)
        except UsageError:
            return False

    def info(self, name: str) -> ModelInfo:
        path = self.path(name)
        meta = read_meta(path)
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        return ModelInfo(
            name=name,
            path=path,
            algorithm=str(meta.get("algorithm", "?")),
            dim=int(meta.get("dim", 0)),
            vocab_size=int(meta.get("vocab_size", 0)),
            size_bytes=size,
            created=str(meta.get("created", "")),
            default=self.default_name() == name,
        )

    def list(self) -> list[ModelInfo]:
        return [self.info(n) for n in self.names() if self.exists(n)]

    def _unknown(self, name: str) -> str:
        names = self.names()
        known = ", ".join(names) if names else "none yet"
        return f"no model named {name!r} (models: {known}): see `emb models list`"


def read_meta(folder: Path) -> dict:
    """The parsed ``meta.json`` of a model folder."""
    path = Path(folder) / "meta.json"
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh)
    except FileNotFoundError:
        raise ModelError(f"{path}: missing: the model folder is damaged; train or import it again") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({exc}): the model folder is damaged") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: not a JSON object: the model folder is damaged")
    return meta
