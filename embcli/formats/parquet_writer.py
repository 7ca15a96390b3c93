"""A direct Parquet writer for emb's own table: word, count, vector, all plain and uncompressed.

pyarrow spends most of its time on the repetition and definition levels of a list column, one
per float. Here every page is written straight from the float32 matrix: the levels of a
fixed-size list repeat the same few bytes for every row, so they are built once and tiled, and the
values are the matrix's own bytes. The footer (Thrift compact protocol) also carries the Arrow
schema, so pyarrow reads the column back as ``fixed_size_list<float32>[D]``.
"""

from __future__ import annotations

import base64
import struct
from typing import BinaryIO

import numpy as np

from embcli.wire.thrift import BINARY, I32, I64, LIST, STRUCT, encode_struct
from embcli.wire.varint import varint

# Parquet enums
_FLOAT, _INT64, _BYTE_ARRAY = 4, 2, 6
_REQUIRED, _OPTIONAL, _REPEATED = 0, 1, 2
_PLAIN, _RLE = 0, 3
_UTF8, _LIST_CONVERTED = 0, 3
PAGE_BYTES = 1 << 20


def _rle_run(count: int, value: int) -> bytes:
    """One RLE run of the hybrid encoding for bit width 1."""
    return varint(count << 1) + bytes([value])


def _levels(body: bytes) -> bytes:
    return struct.pack("<I", len(body)) + body


def _page(num_values: int, body: list) -> list:
    size = sum(len(b) for b in body)
    data_header = [(1, I32, num_values), (2, I32, _PLAIN), (3, I32, _RLE), (4, I32, _RLE)]
    header = encode_struct([(1, I32, 0), (2, I32, size), (3, I32, size), (5, STRUCT, data_header)])
    return [header, *body]


def _plain_strings(words: list[str]) -> bytes:
    """PLAIN BYTE_ARRAY values: each word's 4-byte length, then its UTF-8 bytes."""
    import pyarrow as pa

    arr = pa.array(words, pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=len(arr) + 1)
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None else np.empty(0, np.uint8)
    data = data[offsets[0] : offsets[-1]]
    lengths = np.diff(offsets).astype("<u4")
    n = len(words)
    out = np.empty(4 * n + len(data), dtype=np.uint8)
    starts = (offsets[:-1] - offsets[0]) + 4 * np.arange(n)
    out[(starts[:, None] + np.arange(4)).ravel()] = lengths.view(np.uint8)
    mask = np.ones(len(out), dtype=bool)
    mask[(starts[:, None] + np.arange(4)).ravel()] = False
    out[mask] = data
    return out.tobytes()


class ParquetTableWriter:
    """Write row groups of (words, counts or None, float32 block) and the footer at ``close``."""

    def __init__(self, out: BinaryIO, dim: int, arrow_schema, key_values: dict[str, str]):
        self.out = out
        self.dim = dim
        self.pos = 0
        self.rows = 0
        self.groups: list = []
        self.key_values = dict(key_values)
        self.key_values["ARROW:schema"] = base64.b64encode(arrow_schema.serialize().to_pybytes()).decode()
        rep_row = _rle_run(1, 0) + (_rle_run(dim - 1, 1) if dim > 1 else b"")
        self._rep_row = rep_row
        self._write(b"PAR1")

    def _write(self, data) -> None:
        self.out.write(data)
        self.pos += len(data) if isinstance(data, (bytes, bytearray)) else memoryview(data).nbytes

    def _chunk(self, pages: list[list], kind: int, path: list[str], num_values: int, encodings: list[int]) -> tuple[list, int]:
        start = self.pos
        for page in pages:
            for piece in page:
                self._write(piece)
        size = self.pos - start
        meta = [
            (1, I32, kind), (2, LIST, (I32, encodings)), (3, LIST, (BINARY, path)), (4, I32, 0),
            (5, I64, num_values), (6, I64, size), (7, I64, size), (9, I64, start),
        ]
        return [(2, I64, start), (3, STRUCT, meta)], size

    def write(self, words: list[str], counts: np.ndarray | None, block: np.ndarray) -> None:
        n = len(words)
        block = np.ascontiguousarray(block, dtype="<f4")
        group_start = self.pos
        word_chunk, word_size = self._chunk([_page(n, [_plain_strings(words)])], _BYTE_ARRAY, ["word"], n, [_PLAIN])
        if counts is None:
            count_pages = [_page(n, [_levels(_rle_run(n, 0))])]
        else:
            values = np.ascontiguousarray(counts, dtype="<i8").tobytes()
            count_pages = [_page(n, [_levels(_rle_run(n, 1)), values])]
        count_chunk, count_size = self._chunk(count_pages, _INT64, ["count"], n, [_PLAIN, _RLE])
        per_page = max(1, PAGE_BYTES // (4 * self.dim))
        pages = []
        raw = memoryview(block).cast("B")
        row_bytes = 4 * self.dim
        for a in range(0, n, per_page):
            b = min(a + per_page, n)
            values = (b - a) * self.dim
            pages.append(
                _page(values, [_levels(self._rep_row * (b - a)), _levels(_rle_run(values, 1)), raw[a * row_bytes : b * row_bytes]])
            )
        vec_chunk, vec_size = self._chunk(pages, _FLOAT, ["vector", "list", "element"], n * self.dim, [_PLAIN, _RLE])
        total = word_size + count_size + vec_size
        self.groups.append(
            [
                (1, LIST, (STRUCT, [word_chunk, count_chunk, vec_chunk])), (2, I64, total), (3, I64, n),
                (5, I64, group_start), (6, I64, total),
            ]
        )
        self.rows += n

    def close(self) -> None:
        schema = [
            [(4, BINARY, "schema"), (5, I32, 3)],
            [(1, I32, _BYTE_ARRAY), (3, I32, _REQUIRED), (4, BINARY, "word"), (6, I32, _UTF8),
             (10, STRUCT, [(1, STRUCT, [])])],
            [(1, I32, _INT64), (3, I32, _OPTIONAL), (4, BINARY, "count")],
            [(3, I32, _REQUIRED), (4, BINARY, "vector"), (5, I32, 1), (6, I32, _LIST_CONVERTED),
             (10, STRUCT, [(3, STRUCT, [])])],
            [(3, I32, _REPEATED), (4, BINARY, "list"), (5, I32, 1)],
            [(1, I32, _FLOAT), (3, I32, _REQUIRED), (4, BINARY, "element")],
        ]
        from embcli._version import __version__

        footer = encode_struct(
            [
                (1, I32, 2), (2, LIST, (STRUCT, schema)), (3, I64, self.rows),
                (4, LIST, (STRUCT, self.groups)),
                (5, LIST, (STRUCT, [[(1, BINARY, k), (2, BINARY, v)] for k, v in self.key_values.items()])),
                (6, BINARY, f"emb version {__version__}"),
            ]
        )
        self._write(footer)
        self._write(struct.pack("<I", len(footer)) + b"PAR1")
