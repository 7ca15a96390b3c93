"""The API's maps of words, model comparisons and projector folders (``emb plot``, ``emb cluster``):
build a map, save it, align two models and list the words that moved most."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from embcli.errors import UsageError


@dataclass
class Alignment:
    """Two models aligned by orthogonal Procrustes on their shared frequent words.

    ``moved``: (word, cosine distance between its two aligned vectors) for the compared words both
    models have, largest first; ``only_first``: compared words the second model lacks; ``unknown``:
    words asked for that the first model lacks.
    """

    first: str
    second: str
    moved: list[tuple[str, float]]
    only_first: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The fields as a dict (for JSON)."""
        return {"first": self.first, "second": self.second, "only_first": self.only_first, "unknown": self.unknown,
                "moved": [{"word": w, "moved": d} for w, d in self.moved]}


def _folder(model):
    return getattr(model, "folder", model)


def map_kind(path: str | Path, force: bool = False) -> str:
    """``png``, ``svg`` or ``html`` from a map's file name; a missing ``plot`` extra, and without
    ``force`` an existing file, are one-line errors raised before any work."""
    from embcli.render import check_map_path

    return check_map_path(path, force)


def read_words(path: str | Path) -> list[str]:
    """The words of a file: whitespace-separated, any number a line (``-`` reads stdin)."""
    from embcli.maps import read_words_file

    return read_words_file(str(path))


def word_map(models, words: Sequence[str] | None = None, top: int | None = None, neighbors_of: str | None = None,
             k: int = 30, method: str = "pca", seed: int = 0, clusters: int | None = None,
             hover_neighbours: int = 0):
    """A ``WordMap`` (words, panels of 2-D coordinates, counts, clusters, ``moved`` words of two
    models, ``unknown`` words, ``notes`` for the person) of one model or two (a list; the second is
    rotated onto the first). Save it with ``save_map``; ``Model.plot`` does both."""
    from embcli.maps import build_map

    if isinstance(words, str):
        raise UsageError("give a list of words, not one string")
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    return build_map([_folder(m) for m in models], list(words) if words else None, top, neighbors_of, k, method,
                     seed, clusters, hover_neighbours=hover_neighbours)


def save_map(wmap, path: str | Path, force: bool = False) -> tuple[Path, list[str]]:
    """Write a ``WordMap`` as .png, .svg or .html (an existing file refused unless ``force``, then
    replaced atomically); return the path and notes for the person (labels thinned out, characters
    no font has)."""
    from embcli.api.paths import writing
    from embcli.render import save_map as _save

    with writing(path):  # an OSError on the path (/proc/x.png, a full disk) becomes one line naming it
        return _save(wmap, path, force)


def align(first, second, words: Sequence[str] | None = None, top: int | None = None,
          neighbors_of: str | None = None, k: int = 30) -> Alignment:
    """Align ``second`` onto ``first`` (models or folders) by orthogonal Procrustes on their shared
    frequent words, and rank the chosen words (a list, the ``top`` most frequent of ``first``, or a
    word and its ``k`` neighbours; by default the 300 most frequent) by how far they moved."""
    from embcli.maps import align as _align
    from embcli.maps import moved_most, select

    if isinstance(words, str):
        raise UsageError("give a list of words, not one string")
    a, b = _folder(first), _folder(second)
    selection = select(a, list(words) if words else None, top, neighbors_of, k)
    kept, ua, ub, only_a = _align(a, b, selection)
    return Alignment(a.name, b.name, moved_most(kept.words, ua, ub), only_a, list(selection.unknown))


def write_projector(model, folder: str | Path, limit: int | None = None, clusters: Sequence[int] | None = None,
                    normalize: bool = False, force: bool = False) -> int:
    """Write a folder for TensorBoard's Embedding Projector (``vectors.tsv``, ``metadata.tsv`` with
    word, count and, given ``clusters`` (one number per row), a cluster column;
    ``projector_config.pbtxt``) from the first ``limit`` rows; return the rows written. The folder is
    written whole or not at all; an existing one is replaced only with ``force``."""
    from embcli.api.paths import writing
    from embcli.folder import atomic_dir
    from embcli.formats.projector import write_projector as _write

    with writing(folder), atomic_dir(Path(folder), force=force) as tmp:
        return _write(_folder(model), tmp, limit=limit, normalize=normalize,
                      clusters=None if clusters is None else [int(c) for c in clusters])
