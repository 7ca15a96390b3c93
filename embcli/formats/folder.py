"""An emb model folder as a format: import a folder someone gave you, or export one.

Reading checks the folder by opening it as a model (which loads nothing with pickle) and copies
its files; ``--limit`` and ``--normalize`` rewrite the arrays instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from embcli.errors import FormatError
from embcli.folder import MODEL_FILES, ImportSummary, ModelFolder, write_model
from embcli.folder.layout import STATE, read_meta, write_meta
from embcli.folder.ngram_rows import encode_ngrams


def read_folder(src: Path, folder: Path, source: str, limit=None, lossy=False, progress=None,
                nonfinite="error") -> ImportSummary:
    """Copy the model folder ``src`` into ``folder`` (first ``limit`` rows only, if given)."""
    src = Path(src)
    if not (src / "meta.json").exists() and (src / "projector_config.pbtxt").exists():
        raise FormatError(f"{source}: a TensorBoard Embedding Projector folder, which emb writes but does not read:"
                          " import the model or vector file it was exported from")
    model = ModelFolder(src)
    rows = write_folder(model, folder, limit=limit)
    return ImportSummary(rows=rows, dim=model.dim)


def write_folder(model: ModelFolder, dst: Path, limit=None, normalize=False, progress=None) -> int:
    """Write ``model`` as a model folder into the empty folder ``dst``: a float32 model whole is copied
    with its training state; otherwise rows are written as float32 without it, and a pruned fastText
    model's n-grams stay pruned."""
    dst = Path(dst)
    rows = model.vocab_size if limit is None else min(limit, model.vocab_size)
    if rows == model.vocab_size and not normalize and model.storage == "float32":
        for name in MODEL_FILES:
            if (model.path / name).is_file():
                shutil.copyfile(model.path / name, dst / name)
        if (model.path / STATE).is_dir():
            shutil.copytree(model.path / STATE, dst / STATE)
        return rows
    vectors = np.asarray(model.vectors[:rows], dtype=np.float32)
    if normalize:
        norms = np.asarray(model.norms[:rows])[:, None]
        vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    # A compressed model is written decompressed (float32 rows), its storage and cost dropped.
    meta = {k: v for k, v in model.meta.items() if k not in ("storage", "compression")}
    if normalize:
        meta["normalized"] = True
    meta.pop("state", None)  # the training state is not written: the folder must not list it
    counts = None if model.counts is None else np.asarray(model.counts[:rows])
    kept = getattr(model.ngrams, "kept", None)
    write_model(dst, model.words[:rows], vectors, meta, counts=counts, ngrams=None if kept is not None else model.ngrams,
                phrases=model.phrases)
    if kept is not None:
        _write_pruned_ngrams(dst, model.ngrams, kept)
    if progress:
        progress(rows, rows, rows)
    return rows


def _write_pruned_ngrams(dst: Path, ngrams, kept) -> None:
    """A pruned model's n-gram rows, as float32, with the buckets they belong to (``ngram_rows``): a
    bucket it dropped has no row, as in the model (a zero row would count in every unseen word's mean)."""
    files, spec = encode_ngrams(ngrams, "float32", kept)
    for name, array in files.items():
        np.save(dst / name, array)
    meta = read_meta(dst)
    meta["ngram_storage"] = spec
    write_meta(dst, meta)
