"""Writers for line vectors: TSV, JSON lines, ``.npy`` and Parquet, block by block.

- ``tsv``: a header ``line	text	vector``, then one row a line; the vector's values are separated
  by spaces, each the shortest decimal that reads back as the same float32.
- ``jsonl``: ``{"line": n, "text": ..., "vector": [...]}`` a line.
- ``npy``: the float32 [N, D] matrix alone (row i is the i-th line written).
- ``parquet``: columns ``line`` (int64, 1-based), ``text`` (string) and ``vector``
  (``fixed_size_list<float32>[D]``; DuckDB reads it as ``FLOAT[]``); the schema metadata key ``emb`` holds
  JSON with the model, the pooling and, for SIF, the removed component, so that ``emb search``
  embeds queries the same way.

Floats are formatted by pyarrow (C++), a few times faster than Python's ``format``; text formats
are still far slower than the binary ones for wide vectors.
"""

from __future__ import annotations

import json
from typing import BinaryIO, Sequence

import numpy as np

from embcli.errors import UsageError
from embcli.wire.npy import npy_header

FORMATS = ("tsv", "jsonl", "npy", "parquet")
META_KEY = b"emb"
ROW_GROUP = 65536


def _vector_strings(vectors: np.ndarray, sep: str):
    """Each row of ``vectors`` as one string of its values joined by ``sep`` (a pyarrow array)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n, dim = vectors.shape
    flat = pc.cast(pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel()), pa.string())
    offsets = pa.array(np.arange(0, n * dim + 1, dim, dtype=np.int64))
    return pc.binary_join(pa.LargeListArray.from_arrays(offsets, flat), sep)


def _cell(text: str) -> str:
    """Text as one TSV cell: tabs and carriage returns become spaces."""
    if "\t" in text or "\r" in text:
        return text.replace("\t", " ").replace("\r", " ")
    return text


class _Text:
    def __init__(self, out: BinaryIO, fmt: str):
        self.out, self.fmt = out, fmt
        if fmt == "tsv":
            out.write(b"line\ttext\tvector\n")

    def write(self, numbers: np.ndarray, lines: Sequence[str], vectors: np.ndarray) -> None:
        if not len(lines):
            return
        values = _vector_strings(vectors, " " if self.fmt == "tsv" else ",").to_pylist()
        if self.fmt == "tsv":
            rows = [f"{n}\t{_cell(t)}\t{v}\n" for n, t, v in zip(numbers.tolist(), lines, values)]
        else:
            dumps = json.dumps
            rows = [
                f'{{"line": {n}, "text": {dumps(t, ensure_ascii=False)}, "vector": [{v}]}}\n'
                for n, t, v in zip(numbers.tolist(), lines, values)
            ]
        self.out.write("".join(rows).encode("utf-8", "surrogateescape"))

    def close(self, meta: dict) -> None:
        self.out.flush()


class _Npy:
    """Rows to a seekable file as they come (the header rewritten at the end), else held until then."""

    def __init__(self, out: BinaryIO, dim: int):
        self.out, self.dim, self.rows = out, dim, 0
        try:
            self.start = out.tell()
            out.write(npy_header((0, dim)))
            self.held = None
        except (OSError, AttributeError, ValueError):
            self.held = []

    def write(self, numbers, lines, vectors) -> None:
        block = np.ascontiguousarray(vectors, dtype="<f4")
        self.rows += len(block)
        if self.held is not None:
            self.held.append(block)
        elif block.size:
            self.out.write(memoryview(block).cast("B"))

    def close(self, meta: dict) -> None:
        if self.held is None:
            end = self.out.tell()
            self.out.seek(self.start)
            self.out.write(npy_header((self.rows, self.dim)))
            self.out.seek(end)
        else:
            self.out.write(npy_header((self.rows, self.dim)))
            for block in self.held:
                if block.size:
                    self.out.write(memoryview(block).cast("B"))
        self.out.flush()


class _Parquet:
    def __init__(self, out: BinaryIO, dim: int, meta: dict):
        import pyarrow as pa

        self.pa = pa
        self.dim = dim
        self.schema = pa.schema(
            [
                pa.field("line", pa.int64(), nullable=False),
                pa.field("text", pa.string(), nullable=False),
                pa.field("vector", pa.list_(pa.field("element", pa.float32(), nullable=False), dim), nullable=False),
            ],
            metadata={META_KEY: json.dumps(meta, ensure_ascii=False).encode("utf-8")},
        )
        self.out = out
        self.writer = None
        self.pending: list = []
        self.pending_rows = 0

    def _open(self, meta: dict):
        import pyarrow.parquet as pq

        schema = self.schema.with_metadata({META_KEY: json.dumps(meta, ensure_ascii=False).encode("utf-8")})
        # Random-looking floats do not compress: plain pages keep writing and reading cheap.
        return pq.ParquetWriter(
            self.out, schema, compression={"line": "zstd", "text": "zstd", "vector": "none"},
            use_dictionary=False, write_statistics=["line"],
        )

    def write(self, numbers, lines, vectors) -> None:
        pa = self.pa
        if not len(lines):
            return
        flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel())
        batch = pa.record_batch(
            [
                pa.array(numbers, type=pa.int64()),
                pa.array(list(lines), type=pa.string()),
                pa.FixedSizeListArray.from_arrays(flat, type=self.schema.field("vector").type),
            ],
            schema=self.schema,
        )
        self.pending.append(batch)
        self.pending_rows += len(lines)
        if self.pending_rows >= ROW_GROUP:
            self._flush()

    def _flush(self, meta: dict | None = None) -> None:
        if self.writer is None:
            # The writer starts with the first row group, when a SIF component is known.
            self.writer = self._open(meta if meta is not None else self._meta)
        if self.pending:
            self.writer.write_table(self.pa.Table.from_batches(self.pending, schema=self.schema))
        self.pending, self.pending_rows = [], 0

    def close(self, meta: dict) -> None:
        self._meta = meta
        self._flush(meta)
        self.writer.close()


class VectorWriter:
    """Write (line numbers, texts, vectors) blocks in one of ``FORMATS``; ``close(meta)`` at the end.

    ``meta`` (JSON-able) is stored in Parquet's schema metadata; ``set_meta`` gives it before the
    first row group is written (a SIF component is known only after the first lines).
    """

    def __init__(self, fmt: str, out: BinaryIO, dim: int, meta: dict | None = None):
        if fmt not in FORMATS:
            raise UsageError(f"unknown output format {fmt!r}: use one of {', '.join(FORMATS)}")
        self.fmt = fmt
        self.meta = dict(meta or {})
        if fmt in ("tsv", "jsonl"):
            self._impl = _Text(out, fmt)
        elif fmt == "npy":
            self._impl = _Npy(out, dim)
        else:
            self._impl = _Parquet(out, dim, self.meta)
            self._impl._meta = self.meta

    def set_meta(self, **items) -> None:
        self.meta.update(items)
        if isinstance(self._impl, _Parquet):
            self._impl._meta = self.meta

    def write(self, numbers: np.ndarray, lines: Sequence[str], vectors: np.ndarray) -> None:
        self._impl.write(np.asarray(numbers, dtype=np.int64), lines, vectors)

    def close(self) -> None:
        self._impl.close(self.meta)
