"""Parquet: one row per word with columns ``word``, ``count`` and ``vector``.

Schema: ``word: string``, ``count: int64`` (null where unknown), ``vector:
fixed_size_list<float32>[D]``; the model's metadata is JSON under the schema metadata key ``emb``.
Rows are written and read in row groups, so neither direction holds the matrix twice. The vector
column is stored uncompressed (random-looking floats do not compress) and the words with zstd.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from embcli.errors import FormatError
from embcli.formats.sink import ImportSummary, ModelSink

ROW_GROUP = 65536
_DROP_META = ("vocab_size", "dim", "import", "created", "emb_version", "format_version")


def write_parquet(model, dst, limit=None, normalize=False, progress=None) -> int:
    """Write ``model`` to the Parquet file ``dst`` in row groups of 65,536 words."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from embcli.formats.word2vec import iter_export_blocks

    meta = {k: v for k, v in model.meta.items() if k != "fasttext"}
    if normalize:
        meta["normalized"] = True
    # Word and vector are never null; saying so spares Parquet a definition level per value.
    vector_type = pa.list_(pa.field("element", pa.float32(), nullable=False), model.dim)
    schema = pa.schema(
        [
            pa.field("word", pa.string(), nullable=False),
            pa.field("count", pa.int64()),
            pa.field("vector", vector_type, nullable=False),
        ],
        metadata={"emb": json.dumps(meta, ensure_ascii=False)},
    )
    total = model.vocab_size if limit is None else min(limit, model.vocab_size)
    counts = model.counts
    done = 0
    with pq.ParquetWriter(
        dst, schema, compression={"word": "zstd", "count": "zstd", "vector": "none"},
        use_dictionary=["word"], write_statistics=["word", "count"], write_page_index=False,
    ) as writer:
        for words, block in iter_export_blocks(model, limit, normalize, rows=ROW_GROUP):
            n = len(words)
            column = (
                pa.nulls(n, pa.int64()) if counts is None else pa.array(np.asarray(counts[done : done + n]))
            )
            vectors = pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), type=vector_type)
            writer.write_table(pa.Table.from_arrays([pa.array(words, pa.string()), column, vectors], schema=schema))
            done += n
            if progress:
                progress(done, total, done)
    return done


def _dim_of(field, pf, source: str) -> int:
    import pyarrow as pa

    t = field.type
    if pa.types.is_fixed_size_list(t):
        return t.list_size
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        first = pf.read_row_group(0, columns=["vector"]).column(0) if pf.num_row_groups else None
        if first is not None and len(first):
            return len(first[0])
        return 0
    raise FormatError(f"{source}: column 'vector' has type {t}: expected a list of float32")


def read_parquet(path, folder: Path, source: str, limit=None, lossy=False, total=None, progress=None) -> ImportSummary:
    """Read a Parquet file with ``word`` and ``vector`` columns (``count`` optional) into ``folder``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise FormatError(f"{source}: not a readable Parquet file ({exc})") from None
    schema = pf.schema_arrow
    names = schema.names
    if "word" not in names or "vector" not in names:
        raise FormatError(
            f"{source}: expected columns 'word' and 'vector' (and optionally 'count'),"
            f" found {', '.join(repr(n) for n in names) or 'none'}"
        )
    dim = _dim_of(schema.field("vector"), pf, source)
    meta: dict = {}
    raw_meta = (schema.metadata or {}).get(b"emb")
    if raw_meta:
        try:
            meta = {k: v for k, v in json.loads(raw_meta).items() if k not in _DROP_META}
        except (ValueError, AttributeError):
            meta = {}
    with_counts = "count" in names
    sink = ModelSink(folder, dim, source, "parquet", limit=limit, lossy=lossy, with_counts=with_counts)
    columns = ["word", "vector"] + (["count"] if with_counts else [])
    rows_total = pf.metadata.num_rows
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=ROW_GROUP, columns=columns):
            n = batch.num_rows
            words = batch.column(0)
            if words.null_count:
                bad = row + int(np.flatnonzero(words.is_null().to_numpy(zero_copy_only=False))[0]) + 1
                raise FormatError(f"{source}: row {bad}: the word is null")
            vec = batch.column(1)
            if vec.null_count:
                bad = row + int(np.flatnonzero(vec.is_null().to_numpy(zero_copy_only=False))[0]) + 1
                raise FormatError(f"{source}: row {bad}: the vector is null")
            if not pa.types.is_fixed_size_list(vec.type):
                lengths = pc.list_value_length(vec).to_numpy(zero_copy_only=False)
                if (lengths != dim).any():
                    i = int(np.flatnonzero(lengths != dim)[0])
                    raise FormatError(f"{source}: row {row + i + 1}: {lengths[i]} values, but the first row has {dim}")
            values = vec.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(n, dim)
            counts = None
            if with_counts:
                counts = batch.column(2).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
            sink.add(words.to_pylist(), values, counts, where=lambda i, r=row: f"row {r + i + 1}")
            row += n
            if progress:
                progress(row, rows_total, sink.summary.rows)
            if sink.full:
                break
        return sink.finish(meta)
    finally:
        sink.abort()
