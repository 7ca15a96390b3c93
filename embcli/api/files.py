"""The API's file and store functions: import and convert vector files, choose, inspect and remove
models of the store (``emb import``, ``emb convert``, ``emb models info|use|rm``)."""

from __future__ import annotations

from pathlib import Path

from embcli.api.model import Model
from embcli.api.results import RowProgressFn, Transfer


def _skips(summary) -> dict:
    return {
        "duplicates": summary.duplicates, "first_duplicate": summary.first_duplicate,
        "empty": getattr(summary, "empty", 0), "replaced_bytes": summary.replaced_bytes,
        "nonfinite_rows": getattr(summary, "nonfinite_rows", 0),
        "nonfinite_values": getattr(summary, "nonfinite_values", 0),
        "uncounted": getattr(summary, "uncounted", 0),
        "sorted_by_count": bool(getattr(summary, "extra", {}).get("sorted_by_count")),
    }


def import_vectors(
    source: str | Path, name: str | None = None, format: str | None = None, limit: int | None = None,
    lossy: bool = False, force: bool = False, make_default: bool = True, progress: RowProgressFn | None = None,
    nonfinite: str = "error",
) -> Transfer:
    """Import a vector file (word2vec text or binary, GloVe, fastText .vec/.bin, Parquet; compressed
    too; ``-`` for stdin) into the store as model ``name`` (default: from the file name). ``format``
    is detected from the suffix or the first bytes when not given; ``lossy`` replaces invalid UTF-8 in
    words instead of failing; ``nonfinite="zero"`` replaces NaN and infinite values by 0 (counted in
    the result) instead of failing. The ``Transfer`` holds the opened model as ``model``."""
    from embcli.formats.convert import import_to_store

    name, found, summary = import_to_store(str(source), name, format, limit, lossy, force, make_default,
                                           progress=progress, nonfinite=nonfinite)
    model = load_name(name)
    return Transfer(str(source), name, found, None, summary.rows, summary.dim, model=model, **_skips(summary))


def convert(
    source: str | Path, target: str | Path, from_format: str | None = None, to_format: str | None = None,
    limit: int | None = None, lossy: bool = False, normalize: bool = False, force: bool = False,
    progress: RowProgressFn | None = None, nonfinite: str = "error",
) -> Transfer:
    """Convert a vector file (or model folder) to another format without touching the store; ``-``
    reads stdin or writes stdout. The formats follow the suffixes unless given; ``nonfinite`` as
    for ``import_vectors``."""
    from embcli.api.paths import writing
    from embcli.formats.convert import convert as _convert

    with writing(target):
        found, written, summary, rows = _convert(str(source), str(target), from_format, to_format, limit, lossy,
                                                 normalize, force, progress, nonfinite)
    return Transfer(str(source), str(target), found, written, rows, summary.dim, **_skips(summary))


def load_name(name: str) -> Model:
    """The store's model ``name``."""
    from embcli.folder import ModelFolder
    from embcli.store import ModelStore

    return Model(ModelFolder(ModelStore().lookup(name)))


def model_info(spec: str | Path | None = None) -> dict:
    """A model's metadata (``meta.json``: algorithm, training options, corpus, tokenizer) with its
    ``name``, ``path``, whether it is the store's ``default``, whether it can be ``continuable``
    (``emb train --continue``; else ``not_continuable`` says why), its ``state_bytes`` on disk and
    its ``index`` (``emb index``; None without one)."""
    from embcli.folder import read_meta
    from embcli.open import resolve
    from embcli.store import ModelStore, storage_label
    from embcli.training.resume import state_summary

    store = ModelStore()
    path = resolve(None if spec is None else str(spec), store)
    meta = read_meta(path)
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return {"name": path.name, "path": str(path), "default": store.default_name() == path.name,
            "storage_kind": storage_label(meta), "size_bytes": size, **state_summary(path, meta), **meta,
            "index": _index_summary(path)}


def _index_summary(path: Path) -> dict | None:
    """The model's approximate-neighbour index (``emb index``) as ``index.json`` has it, and whether
    queries use it (``used``: false for an index of a model the folder held before, or an earlier
    emb's); None without one."""
    from embcli import ann
    from embcli.errors import EmbError
    from embcli.folder import ModelFolder

    try:
        found = ann.read_info(path)
        return None if found is None else {**found.as_dict(), "used": ann.usable(found, ModelFolder(path))}
    except EmbError as exc:
        return {"error": str(exc)}


def set_default(name: str) -> None:
    """Make the store's model ``name`` the default (what ``load()`` and ``emb`` without -m open)."""
    from embcli.errors import ModelError
    from embcli.folder import ModelFolder
    from embcli.store import ModelStore

    store = ModelStore()
    store.lookup(name)  # unknown, or a folder without meta.json: named as such
    if store.exists(name):
        try:
            ModelFolder(store.path(name))  # a damaged model would make every later command fail
        except OSError:
            pass  # removed meanwhile by another process: set_default says so, under the store's lock
        except ModelError as exc:
            if store.exists(name):  # else removed while being read: as above
                raise ModelError(f"model {name!r} cannot be the default: {exc}; remove it with"
                                 f" `emb models rm {name}`") from None
    store.set_default(name)


def remove(name: str) -> bool:
    """Delete the store's model ``name``; return whether it was the default (there is none then)."""
    from embcli.store import ModelStore

    return ModelStore().remove(name)


def store_folder() -> Path:
    """The folder of the store's models (under ``EMB_HOME``)."""
    from embcli.store import ModelStore

    return ModelStore().models_dir


def write_output(path, write, force: bool = True):
    """Run ``write(tmp_path)`` so that the file ``path`` is written safely; return what it returns.

    A regular file is written under a temporary sibling and renamed over ``path`` (its mode kept, or
    the umask's); a FIFO or a device (``/dev/stdout``) is written through; a symlink is followed; a
    folder is refused. Without ``force`` an existing file is refused.
    """
    from embcli.folder.output import write_file

    return write_file(Path(path), write, force=force)
