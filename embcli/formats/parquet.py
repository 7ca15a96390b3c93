"""Parquet: one row per word with columns ``word``, ``count`` and ``vector``.

Schema: ``word: string``, ``count: int64`` (null where unknown), ``vector:
fixed_size_list<float32>[D]``; the model's metadata is JSON under the schema metadata key ``emb``.
Rows are written and read in row groups, so neither direction holds the matrix twice. Files are
written by ``parquet_writer`` (plain, uncompressed pages: random-looking floats do not compress);
reading slices such pages straight out of the file and hands any other layout (compressed,
dictionary-encoded, nullable, written by other tools) to pyarrow.

Whatever a damaged or unexpected file makes pyarrow raise (``ArrowInvalid``, corrupt compressed
pages, thrift headers that do not decode) is answered by one ``FormatError`` naming the file and
the row group being read; nulls, mistyped columns and nested lists are named by their row or type.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from embcli.errors import EmbError, FormatError
from embcli.folder import FolderWriter, ImportSummary
from embcli.wire.thrift import decode_struct

ROW_GROUP = 65536
_DROP_META = ("vocab_size", "dim", "import", "created", "emb_version", "format_version")


def write_parquet(model, dst, limit=None, normalize=False, progress=None) -> int:
    """Write ``model`` to the Parquet file ``dst`` in row groups of 65,536 words."""
    import pyarrow as pa

    from embcli.formats.parquet_writer import ParquetTableWriter
    from embcli.formats.word2vec import iter_export_blocks

    meta = {k: v for k, v in model.meta.items() if k not in ("fasttext", "storage", "compression")}
    if normalize:
        meta["normalized"] = True
    emb_meta = json.dumps(meta, ensure_ascii=False)
    # Word and vector are never null; saying so spares readers a definition level per value.
    vector_type = pa.list_(pa.field("element", pa.float32(), nullable=False), model.dim)
    schema = pa.schema(
        [
            pa.field("word", pa.string(), nullable=False),
            pa.field("count", pa.int64()),
            pa.field("vector", vector_type, nullable=False),
        ],
        metadata={"emb": emb_meta},
    )
    total = model.vocab_size if limit is None else min(limit, model.vocab_size)
    counts = model.counts
    done = 0
    with open(dst, "wb", buffering=0) as fh:
        writer = ParquetTableWriter(fh, model.dim, schema, {"emb": emb_meta})
        for words, block in iter_export_blocks(model, limit, normalize, rows=ROW_GROUP):
            n = len(words)
            writer.write(words, None if counts is None else np.asarray(counts[done : done + n]), block)
            done += n
            if progress:
                progress(done, total, done)
        writer.close()
    return done


def _dim_of(field, pf, source: str) -> int:
    import pyarrow as pa

    t = field.type
    is_list = pa.types.is_fixed_size_list(t) or pa.types.is_list(t) or pa.types.is_large_list(t)
    value_type = t.value_type if is_list else None
    if not is_list or not (pa.types.is_floating(value_type) or pa.types.is_integer(value_type)):
        raise FormatError(f"{source}: column 'vector' has type {t}: expected a list of numbers (float32)")
    if pa.types.is_fixed_size_list(t):
        return t.list_size
    first = pf.read_row_group(0, columns=["vector"]).column(0) if pf.num_row_groups else None
    if first is None or not len(first):
        return 0
    valid = first.drop_null()
    if not len(valid):
        raise FormatError(f"{source}: row 1: the vector is null")
    return len(valid[0])


def _check_count_type(schema, source: str) -> None:
    import pyarrow as pa

    t = schema.field("count").type
    if not (pa.types.is_integer(t) or pa.types.is_null(t)):
        raise FormatError(f"{source}: column 'count' has type {t}: expected integers (or leave the column out)")


def _vector_values(vec, dim: int, row: int, source: str) -> np.ndarray:
    """A float32 (n, dim) array from an Arrow list column; nulls and ragged rows are errors."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(vec, pa.ChunkedArray):
        vec = vec.combine_chunks()
    if vec.null_count:
        bad = row + int(np.flatnonzero(vec.is_null().to_numpy(zero_copy_only=False))[0]) + 1
        raise FormatError(f"{source}: row {bad}: the vector is null")
    values = vec.flatten()
    if values.null_count:
        at = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
        raise FormatError(f"{source}: row {row + at // max(dim, 1) + 1}: the vector holds a null value")
    if not pa.types.is_fixed_size_list(vec.type):
        lengths = pc.list_value_length(vec).to_numpy(zero_copy_only=False)
        if (lengths != dim).any():
            i = int(np.flatnonzero(lengths != dim)[0])
            raise FormatError(f"{source}: row {row + i + 1}: {lengths[i]} values, but the first row has {dim}")
    with np.errstate(over="ignore"):  # float64 beyond float32 becomes inf, which the folder writer names
        return values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(len(vec), dim)


def _words_counts(words, counts, row: int, source: str) -> tuple[list[bytes], np.ndarray | None]:
    """Words as UTF-8 bytes and counts (-1 where null) from Arrow columns; null words are errors."""
    import pyarrow as pa

    if isinstance(words, pa.ChunkedArray):
        words = words.combine_chunks()
    if words.null_count:
        bad = row + int(np.flatnonzero(words.is_null().to_numpy(zero_copy_only=False))[0]) + 1
        raise FormatError(f"{source}: row {bad}: the word is null")
    if pa.types.is_dictionary(words.type):
        words = words.dictionary_decode()
    if pa.types.is_string(words.type) or pa.types.is_large_string(words.type):
        # As bytes: Arrow strings are UTF-8 already, so there is nothing to decode and encode again.
        words = words.cast(pa.large_binary())
    elif not (pa.types.is_binary(words.type) or pa.types.is_large_binary(words.type)):
        raise FormatError(f"{source}: column 'word' has type {words.type}: expected strings")
    if counts is not None:
        if pa.types.is_null(counts.type):  # a column of nulls only (pyarrow's type for [None, None])
            counts = None
        else:
            counts = counts.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return words.to_pylist(), counts


def _add(sink: FolderWriter, words, values: np.ndarray, counts, row: int, source: str) -> None:
    names, counts = _words_counts(words, counts, row, source)
    sink.add(names, values, counts, where=lambda i: f"row {row + i + 1}")


def read_parquet(path, folder: Path, source: str, limit=None, lossy=False, total=None, progress=None,
                 nonfinite="error") -> ImportSummary:
    """Read a Parquet file with ``word`` and ``vector`` columns (``count`` optional) into ``folder``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise FormatError(f"{source}: not a readable Parquet file ({_one_line(exc)})") from None
    place = {"where": ""}
    try:
        return _read(pf, path, folder, source, limit, lossy, progress, nonfinite, place)
    except (pa.ArrowException, OSError, ValueError, OverflowError, IndexError) as exc:
        # pyarrow's own errors carry no errno; one that does is the disk, not the file's content.
        if isinstance(exc, EmbError) or isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise FormatError(
            f"{source}: damaged Parquet data{place['where']} ({_one_line(exc)}): the file is corrupt or truncated"
        ) from None


def _one_line(exc: BaseException) -> str:
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return (text[:200] + "...") if len(text) > 200 else text or type(exc).__name__


def _read(pf, path, folder: Path, source: str, limit, lossy, progress, nonfinite, place: dict) -> ImportSummary:
    schema = pf.schema_arrow
    names = schema.names
    if "word" not in names or "vector" not in names:
        raise FormatError(
            f"{source}: expected columns 'word' and 'vector' (and optionally 'count'),"
            f" found {', '.join(repr(n) for n in names) or 'none'}"
        )
    if "count" in names:
        _check_count_type(schema, source)
    place["where"] = " in row group 1"
    dim = _dim_of(schema.field("vector"), pf, source)
    meta: dict = {}
    raw_meta = (schema.metadata or {}).get(b"emb")
    if raw_meta:
        try:
            meta = {k: v for k, v in json.loads(raw_meta).items() if k not in _DROP_META}
        except (ValueError, AttributeError):
            meta = {}
    with_counts = "count" in names
    sink = FolderWriter(folder, dim, source, "parquet", limit=limit, lossy=lossy, with_counts=with_counts,
                        nonfinite=nonfinite)
    columns = ["word", "vector"] + (["count"] if with_counts else [])
    rows_total = pf.metadata.num_rows
    fast = _fast_vector_column(pf, dim)
    row = 0
    try:
        if fast is not None:
            with open(path, "rb") as fh:
                for g in range(pf.metadata.num_row_groups):
                    n = pf.metadata.row_group(g).num_rows
                    place["where"] = f" in row group {g + 1} (rows {row + 1:,} to {row + n:,})"
                    rest = pf.read_row_group(g, columns=[c for c in columns if c != "vector"])
                    counts = rest.column("count") if with_counts else None
                    mapped, at = _map_chunk(fh, pf.metadata.row_group(g).column(fast))
                    try:
                        pages = _plain_pages(mapped, at, n, dim)
                        if pages is None:  # an unusual page: let pyarrow decode this group
                            values = pf.read_row_group(g, columns=["vector"]).column(0)
                            _add(sink, rest.column("word"), _vector_values(values, dim, row, source), counts, row, source)
                        else:
                            _add_pages(sink, pages, rest.column("word"), counts, n, dim, row, source)
                    finally:
                        pages = None
                        try:
                            mapped.close()
                        except BufferError:  # a view is still held by an error being raised
                            pass
                    row += n
                    if progress:
                        progress(row, rows_total, sink.summary.rows)
                    if sink.full:
                        break
        else:
            for g in range(pf.metadata.num_row_groups):
                n = pf.metadata.row_group(g).num_rows
                place["where"] = f" in row group {g + 1} (rows {row + 1:,} to {row + n:,})"
                for batch in pf.iter_batches(batch_size=ROW_GROUP, row_groups=[g], columns=columns):
                    values = _vector_values(batch.column(1), dim, row, source)
                    _add(sink, batch.column(0), values, batch.column(2) if with_counts else None, row, source)
                    row += batch.num_rows
                    if progress:
                        progress(row, rows_total, sink.summary.rows)
                    if sink.full:
                        break
                if sink.full:
                    break
        place["where"] = ""
        if row != rows_total and not sink.full:
            raise FormatError(f"{source}: the footer says {rows_total:,} rows but the row groups hold {row:,}: the file is damaged")
        return sink.finish(meta)
    finally:
        sink.abort()


# ----------------------------------------------------------------------------------------------
# A fast path for the vector column: plain, uncompressed float32 pages (what ``write_parquet``
# writes) are sliced straight out of the file, which spares Arrow's per-value list decoding.
# Anything else (compression, dictionaries, nulls, other types) goes through pyarrow.
# ----------------------------------------------------------------------------------------------


def _fast_vector_column(pf, dim: int) -> int | None:
    """Index of the vector's leaf column if every chunk of it can be sliced directly, else None."""
    leaves = [pf.schema.column(i) for i in range(pf.metadata.num_columns)]
    index = next((i for i, c in enumerate(leaves) if c.path.split(".")[0] == "vector"), None)
    if index is None or index + 1 < len(leaves) and leaves[index + 1].path.split(".")[0] == "vector":
        return None
    leaf = leaves[index]
    if leaf.physical_type != "FLOAT" or leaf.max_repetition_level != 1 or leaf.max_definition_level != 1:
        return None
    for g in range(pf.metadata.num_row_groups):
        chunk = pf.metadata.row_group(g).column(index)
        if chunk.compression != "UNCOMPRESSED" or chunk.has_dictionary_page or "PLAIN_DICTIONARY" in chunk.encodings:
            return None
    return index


def _map_chunk(fh, chunk):
    """Memory-map one column chunk (no copy); return the map and where the chunk starts in it."""
    import mmap

    start, size = chunk.data_page_offset, chunk.total_compressed_size
    if start < 0 or size < 0 or start + size > os.fstat(fh.fileno()).st_size:
        raise ValueError(f"the vector column's chunk (bytes {start:,} to {start + size:,}) lies outside the file")
    base = start - start % mmap.ALLOCATIONGRANULARITY
    return mmap.mmap(fh.fileno(), size + start - base, offset=base, access=mmap.ACCESS_READ), start - base


def _plain_pages(data, pos: int, rows: int, dim: int) -> list[np.ndarray] | None:
    """The values of each page of an uncompressed PLAIN float chunk (views into ``data``), or None."""
    pieces: list[np.ndarray] = []
    end = len(data)
    try:
        while pos < end:
            header, pos = decode_struct(data, pos)
            size = header[3]
            body_start, pos = pos, pos + size
            kind = header[1]
            if kind == 0:  # data page v1: [len][repetition levels][len][definition levels][values]
                page = header[5]
                if page.get(2, 0) != 0:
                    return None
                skip = body_start
                for _ in range(2):
                    skip += 4 + int.from_bytes(data[skip : skip + 4], "little")
                values_start = skip
            elif kind == 3:  # data page v2: levels first, their lengths in the header
                page = header[8]
                if page.get(4, 0) != 0 or page.get(2, 0) != 0:
                    return None
                values_start = body_start + page.get(5, 0) + page.get(6, 0)
            else:
                return None
            count = page[1]
            if pos - values_start != 4 * count or pos > end:
                return None
            pieces.append(np.frombuffer(data, dtype="<f4", count=count, offset=values_start))
    except (KeyError, IndexError, ValueError, TypeError, AttributeError, FormatError):
        return None
    if sum(p.size for p in pieces) != rows * dim:
        return None
    return pieces


def _add_pages(sink: FolderWriter, pages: list[np.ndarray], words, counts, rows: int, dim: int, row: int,
               source: str) -> None:
    """Hand a row group to the sink page by page when pages hold whole rows (as emb writes them)."""
    names, counts = _words_counts(words, counts, row, source)
    if any(p.size % dim for p in pages):
        values = np.concatenate(pages).reshape(rows, dim)
        sink.add(names, values, counts, where=lambda i: f"row {row + i + 1}")
        return
    done = 0
    for page in pages:
        k = page.size // dim
        if k:
            part = None if counts is None else counts[done : done + k]
            sink.add(names[done : done + k], page.reshape(k, dim), part, where=lambda i, d=done: f"row {row + d + i + 1}")
        done += k
