"""A folder for TensorBoard's Embedding Projector (write only).

``vectors.tsv`` holds one row of tab-separated floats per word, ``metadata.tsv`` the word (and its
count, and its cluster when one is given), ``projector_config.pbtxt`` points a local TensorBoard at
both; projector.tensorflow.org loads the two TSV files through its "Load" button. A word's tab
would split its metadata row, so it is written as a space.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from embcli.formats.word2vec import iter_export_blocks

VECTORS_TSV = "vectors.tsv"
METADATA_TSV = "metadata.tsv"
CONFIG = "projector_config.pbtxt"


def _tsv_rows(block: np.ndarray) -> bytes:
    """Tab-separated rows of floats, each in its shortest round-trip form."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n, dim = block.shape
    if n == 0:
        return b""
    values = pc.cast(pa.array(np.ascontiguousarray(block, dtype=np.float32).ravel()), pa.string())
    offsets = pa.array(np.arange(0, n * dim + 1, dim, dtype=np.int32))
    rows = pc.binary_join(pa.ListArray.from_arrays(offsets, values), "\t")
    whole = pc.binary_join(pa.ListArray.from_arrays(pa.array(np.array([0, n], dtype=np.int32)), rows), "\n")
    return whole[0].as_buffer().to_pybytes() + b"\n"


def _config(name: str) -> str:
    # The text form of TensorBoard's ProjectorConfig protobuf.
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return (
        "embeddings {\n"
        f'  tensor_name: "{quoted}"\n'
        f'  tensor_path: "{VECTORS_TSV}"\n'
        f'  metadata_path: "{METADATA_TSV}"\n'
        "}\n"
    )


def write_projector(model, dst: Path, limit=None, normalize=False, progress=None,
                    clusters: Sequence[int] | None = None) -> int:
    """Write ``model``'s first ``limit`` rows as a projector folder into the empty folder ``dst``.

    ``clusters`` (one cluster number per written row) adds a ``cluster`` column to the metadata.
    """
    dst = Path(dst)
    total = model.vocab_size if limit is None else min(limit, model.vocab_size)
    if clusters is not None and len(clusters) < total:
        total = len(clusters)
    counts = None if model.counts is None else np.asarray(model.counts[:total])
    columns = ["word"] + (["count"] if counts is not None else []) + (["cluster"] if clusters is not None else [])
    done = 0
    with open(dst / VECTORS_TSV, "wb") as vec, open(dst / METADATA_TSV, "w", encoding="utf-8", newline="\n") as meta:
        if len(columns) > 1:  # the projector reads a header only when there is more than one column
            meta.write("\t".join(columns) + "\n")
        for words, block in iter_export_blocks(model, total, normalize):
            vec.write(_tsv_rows(block))
            lines = []
            for i, word in enumerate(words, start=done):
                cells = [word.replace("\t", " ")]
                if counts is not None:
                    cells.append(str(int(counts[i])))
                if clusters is not None:
                    cells.append(str(int(clusters[i])))
                lines.append("\t".join(cells))
            meta.write("\n".join(lines) + "\n")
            done += len(words)
            if progress:
                progress(done, total, done)
    (dst / CONFIG).write_text(_config(model.name or "emb"), encoding="utf-8")
    return done
