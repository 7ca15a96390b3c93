"""Thrift compact protocol: the same bytes as Apache Thrift's own library, and Parquet footers pyarrow reads."""

from __future__ import annotations

import json
import math
import random
import struct

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from thrift.protocol.TCompactProtocol import TCompactProtocol
from thrift.Thrift import TType
from thrift.transport.TTransport import TMemoryBuffer

from embcli.errors import FormatError
from embcli.formats import parquet_writer
from embcli.formats.parquet import _fast_vector_column, _map_chunk, _plain_pages, read_parquet
from embcli.wire import thrift as t

TTYPE = {t.BOOL: TType.BOOL, t.BYTE: TType.BYTE, t.I16: TType.I16, t.I32: TType.I32, t.I64: TType.I64,
         t.DOUBLE: TType.DOUBLE, t.BINARY: TType.STRING, t.LIST: TType.LIST, t.SET: TType.SET, t.MAP: TType.MAP,
         t.STRUCT: TType.STRUCT}
COMPACT = {v: k for k, v in TTYPE.items()}


# ---- Apache Thrift's library as the reference: write and read the same triples through it ----------


def _ref_write_value(p, kind, value):
    if kind == t.STRUCT:
        _ref_write_struct(p, value)
    elif kind in (t.LIST, t.SET):
        elem, items = value
        (p.writeListBegin if kind == t.LIST else p.writeSetBegin)(TTYPE[elem], len(items))
        for item in items:
            _ref_write_value(p, elem, item)
        (p.writeListEnd if kind == t.LIST else p.writeSetEnd)()
    elif kind == t.MAP:
        kk, vk, items = value
        p.writeMapBegin(TTYPE[kk], TTYPE[vk], len(items))
        for k, v in items.items():
            _ref_write_value(p, kk, k)
            _ref_write_value(p, vk, v)
        p.writeMapEnd()
    else:
        write = {t.BOOL: p.writeBool, t.BYTE: p.writeByte, t.I16: p.writeI16, t.I32: p.writeI32,
                 t.I64: p.writeI64, t.DOUBLE: p.writeDouble, t.BINARY: p.writeBinary}[kind]
        write(value)


def _ref_write_struct(p, fields):
    p.writeStructBegin("s")
    for fid, kind, value in fields:
        p.writeFieldBegin("f", TTYPE[kind], fid)
        _ref_write_value(p, kind, value)
        p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()


def ref_encode(fields) -> bytes:
    buf = TMemoryBuffer()
    _ref_write_struct(TCompactProtocol(buf), fields)
    return buf.getvalue()


def _ref_read_value(p, ttype):
    if ttype == TType.STRUCT:
        return _ref_read_struct(p)
    if ttype in (TType.LIST, TType.SET):
        elem, size = (p.readListBegin if ttype == TType.LIST else p.readSetBegin)()
        items = [_ref_read_value(p, elem) for _ in range(size)]
        (p.readListEnd if ttype == TType.LIST else p.readSetEnd)()
        return items
    if ttype == TType.MAP:
        kt, vt, size = p.readMapBegin()
        items = {}
        for _ in range(size):
            k = _ref_read_value(p, kt)
            items[k] = _ref_read_value(p, vt)
        p.readMapEnd()
        return items
    return {TType.BOOL: p.readBool, TType.BYTE: p.readByte, TType.I16: p.readI16, TType.I32: p.readI32,
            TType.I64: p.readI64, TType.DOUBLE: p.readDouble, TType.STRING: p.readBinary}[ttype]()


def _ref_read_struct(p) -> dict:
    p.readStructBegin()
    fields = {}
    while True:
        _, ttype, fid = p.readFieldBegin()
        if ttype == TType.STOP:
            break
        fields[fid] = _ref_read_value(p, ttype)
        p.readFieldEnd()
    p.readStructEnd()
    return fields


def ref_decode(data: bytes) -> dict:
    return _ref_read_struct(TCompactProtocol(TMemoryBuffer(data)))


# ---- random structs of every type ------------------------------------------------------------------

SCALARS = [t.BOOL, t.BYTE, t.I16, t.I32, t.I64, t.DOUBLE, t.BINARY]
LIMITS = {t.BYTE: 7, t.I16: 15, t.I32: 31, t.I64: 63}


def _random_value(rng: random.Random, kind: int, depth: int):
    if kind == t.BOOL:
        return rng.random() < 0.5
    if kind in LIMITS:
        bits = LIMITS[kind]
        edge = [n for n in (0, -1, 1, 63, 64, -64, -65, 2047, 2048) if -(1 << bits) <= n < 1 << bits]
        edge += [(1 << bits) - 1, -(1 << bits)]
        return rng.choice(edge) if rng.random() < 0.4 else rng.randint(-(1 << bits), (1 << bits) - 1)
    if kind == t.DOUBLE:
        return rng.choice([0.0, -0.0, 1.5, -1e300, 5e-324, math.inf, -math.inf, rng.uniform(-1e9, 1e9)])
    if kind == t.BINARY:
        return bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 5, 127, 128, 300])))
    if kind in (t.LIST, t.SET):
        elem = rng.choice(SCALARS + ([t.STRUCT, t.LIST] if depth < 3 else []))
        n = rng.choice([0, 1, 3, 14, 15, 16, 40])
        return elem, [_random_value(rng, elem, depth + 1) for _ in range(n)]
    if kind == t.MAP:
        kk, vk = rng.choice([t.I32, t.BINARY, t.I64]), rng.choice(SCALARS + ([t.STRUCT] if depth < 3 else []))
        return kk, vk, {_random_value(rng, kk, depth + 1): _random_value(rng, vk, depth + 1)
                        for _ in range(rng.choice([0, 1, 4, 20]))}
    return random_struct(rng, depth + 1)


def random_struct(rng: random.Random, depth: int = 0) -> list:
    kinds = SCALARS + ([t.LIST, t.SET, t.MAP, t.STRUCT] if depth < 3 else [])
    fid, fields = 0, []
    for _ in range(rng.randint(0, 8)):
        # Mostly small steps (the one-byte header), sometimes big ones or backwards (the long header).
        fid = min(32767, max(1, fid + rng.choice([1, 1, 2, 15, 16, 300, -3, 32000 - fid])))
        if fid in {f for f, _, _ in fields}:
            continue
        kind = rng.choice(kinds)
        fields.append((fid, kind, _random_value(rng, kind, depth)))
    return fields


def expected(fields) -> dict:
    """What a reader gives back for triples: {id: value}, binaries as bytes, collections as lists/dicts."""

    def value(kind, v):
        if kind == t.STRUCT:
            return expected(v)
        if kind in (t.LIST, t.SET):
            return [value(v[0], item) for item in v[1]]
        if kind == t.MAP:
            return {value(v[0], k): value(v[1], x) for k, x in v[2].items()}
        return v.encode() if isinstance(v, str) else v

    return {fid: value(kind, v) for fid, kind, v in fields}


@pytest.mark.parametrize("seed", range(60))
def test_random_structs_match_apache_thrift_both_ways(seed):
    rng = random.Random(seed)
    fields = random_struct(rng)
    ours = t.encode_struct(fields)
    assert ours == ref_encode(fields)
    want = expected(fields)
    decoded, end = t.decode_struct(ours)
    assert end == len(ours)
    assert decoded == want
    assert ref_decode(ours) == want
    # The same bytes read from the middle of a larger buffer, as from an mmap or a memoryview.
    padded = memoryview(b"xyz" + ours + b"tail")
    assert t.decode_struct(padded, 3) == (want, 3 + len(ours))


def test_strings_write_as_utf8_and_none_fields_are_left_out():
    fields = [(1, t.BINARY, "naïve 東京"), (2, t.I32, None), (3, t.LIST, (t.BINARY, ["a", "é"]))]
    data = t.encode_struct(fields)
    assert data == ref_encode([(1, t.BINARY, "naïve 東京".encode()), (3, t.LIST, (t.BINARY, [b"a", "é".encode()]))])
    assert t.decode_struct(data)[0] == {1: "naïve 東京".encode(), 3: [b"a", "é".encode()]}


def test_bools_in_fields_and_lists():
    fields = [(1, t.BOOL, True), (2, t.BOOL, False), (3, t.LIST, (t.BOOL, [True, False, True]))]
    data = t.encode_struct(fields)
    # A bool field is its header alone: type 1 for true, 2 for false.
    assert data[:2] == bytes([0x11, 0x12])
    assert data == ref_encode(fields)
    assert t.decode_struct(data)[0] == {1: True, 2: False, 3: [True, False, True]}


def test_values_out_of_range_are_refused_when_written():
    with pytest.raises(ValueError):
        t.encode_struct([(1, t.I32, 1 << 31)])
    with pytest.raises(ValueError):
        t.encode_struct([(1, t.I64, -(1 << 63) - 1)])
    assert t.decode_struct(t.encode_struct([(1, t.I64, -(1 << 63))]))[0] == {1: -(1 << 63)}


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "truncated"),
        (b"\x15", "truncated"),  # an i32 field with no value
        (b"\x15\x80\x80", "truncated"),  # a varint still going at the end
        (b"\x18\x05ab", "runs past the end"),  # a 5-byte binary with 2 bytes
        (b"\x17\x00\x00", "runs past the end"),  # a double with 2 of its 8 bytes
        (b"\x1e\x00", "unknown thrift compact type 14"),
        (b"\x15" + b"\xff" * 11, "longer than 10 bytes"),
        (b"\x1c" * 200, "nested more than"),
    ],
)
def test_damaged_bytes_raise_format_error(data, message):
    with pytest.raises(FormatError, match=message):
        t.decode_struct(data)


# ---- Parquet footers and page headers pyarrow writes ----------------------------------------------


def _footer(path) -> bytes:
    raw = path.read_bytes()
    assert raw[-4:] == b"PAR1"
    size = struct.unpack("<I", raw[-8:-4])[0]
    return raw[-8 - size : -8]


def _table(rows: int) -> pa.Table:
    rng = np.random.default_rng(rows)
    vec = rng.standard_normal((rows, 3)).astype(np.float32)
    return pa.table(
        {
            "word": pa.array([f"w{i}" for i in range(rows)]),
            "count": pa.array([None if i % 3 == 0 else i * 10 for i in range(rows)], pa.int64()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vec.ravel()), 3),
            "ragged": pa.array([[float(j) for j in range(i % 4)] for i in range(rows)], pa.list_(pa.float64())),
            "flag": pa.array([i % 2 == 0 for i in range(rows)]),
            "small": pa.array(list(range(rows)), pa.int16()),
            "tag": pa.array([["a", "b", "c"][i % 3] for i in range(rows)]).dictionary_encode(),
            "when": pa.array(np.arange(rows).astype("datetime64[ms]")),
        },
        metadata={"emb": json.dumps({"k": "v"})},
    )


@pytest.mark.parametrize(
    "rows, options",
    [
        (10, {"row_group_size": 3}),
        (200, {"row_group_size": 64, "compression": "snappy"}),
        (50, {"row_group_size": 1000, "compression": "none", "data_page_version": "2.0"}),
        (300, {"row_group_size": 100, "compression": "zstd", "write_statistics": False, "data_page_size": 64}),
    ],
)
def test_pyarrow_footers_and_page_headers_decode(tmp_path, rows, options):
    path = tmp_path / "t.parquet"
    pq.write_table(_table(rows), path, **options)
    meta = pq.ParquetFile(path).metadata
    footer = _footer(path)
    fm, end = t.decode_struct(footer)
    assert end == len(footer)
    assert fm == ref_decode(footer)
    assert fm[3] == meta.num_rows == rows
    assert fm[6] == meta.created_by.encode()
    assert [e[4] for e in fm[2]][:4] == [b"schema", b"word", b"count", b"vector"]
    assert {kv[1] for kv in fm[5]} >= {b"ARROW:schema", b"emb"}
    assert len(fm[4]) == meta.num_row_groups
    data = path.read_bytes()
    for g, group in enumerate(fm[4]):
        assert group[3] == meta.row_group(g).num_rows
        for c, chunk in enumerate(group[1]):
            col, ref = chunk[3], meta.row_group(g).column(c)
            assert [p.decode() for p in col[3]] == ref.path_in_schema.split(".")
            assert (col[5], col[7], col[9]) == (ref.num_values, ref.total_compressed_size, ref.data_page_offset)
            # Walk the chunk's pages by their headers: their values add up to the chunk's.
            pos = col.get(11, col[9])  # the dictionary page comes first when there is one
            stop, values = pos + col[7], 0
            while pos < stop:
                header, pos = t.decode_struct(data, pos)
                values += (header.get(5) or header.get(8) or {}).get(1, 0)
                pos += header[3]
            assert pos == stop and values == ref.num_values


# ---- emb's Parquet writer: pyarrow reads it; the fast reader slices pyarrow's pages ---------------


def _write_ours(path, words, counts, vectors, rows_per_group):
    dim = vectors.shape[1]
    vtype = pa.list_(pa.field("element", pa.float32(), nullable=False), dim)
    schema = pa.schema(
        [pa.field("word", pa.string(), nullable=False), pa.field("count", pa.int64()),
         pa.field("vector", vtype, nullable=False)],
        metadata={"emb": "{}"},
    )
    with open(path, "wb") as fh:
        writer = parquet_writer.ParquetTableWriter(fh, dim, schema, {"emb": "{}"})
        for a in range(0, len(words), rows_per_group):
            b = a + rows_per_group
            writer.write(words[a:b], None if counts is None else counts[a:b], vectors[a:b])
        writer.close()


@pytest.mark.parametrize("dim, rows, per_group, page_bytes, with_counts",
                         [(1, 7, 7, 1 << 20, True), (7, 100, 30, 64, False), (300, 40, 16, 4000, True)])
def test_pyarrow_reads_the_parquet_we_write(tmp_path, monkeypatch, dim, rows, per_group, page_bytes, with_counts):
    monkeypatch.setattr(parquet_writer, "PAGE_BYTES", page_bytes)  # several pages per chunk
    rng = np.random.default_rng(dim)
    words = [f"w{i}" for i in range(rows - 2)] + ["東京", "naïve"]
    counts = np.arange(rows, dtype=np.int64) * 3 if with_counts else None
    vectors = rng.standard_normal((rows, dim)).astype(np.float32)
    path = tmp_path / "ours.parquet"
    _write_ours(path, words, counts, vectors, per_group)
    table = pq.read_table(path)
    assert table.column("word").to_pylist() == words
    assert table.column("count").to_pylist() == (counts.tolist() if with_counts else [None] * rows)
    assert str(table.schema.field("vector").type) == f"fixed_size_list<element: float not null>[{dim}]"
    back = np.asarray(table.column("vector").combine_chunks().flatten()).reshape(rows, dim)
    assert np.array_equal(back.view(np.uint32), vectors.view(np.uint32))
    assert pq.ParquetFile(path).metadata.num_row_groups == -(-rows // per_group)
    footer = _footer(path)
    assert t.decode_struct(footer)[0] == ref_decode(footer)


def _read_back(tmp_path, path, name):
    folder = tmp_path / name
    folder.mkdir()
    read_parquet(path, folder, str(path))
    words = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return words, np.load(folder / "vectors.npy")


@pytest.mark.parametrize("per_group", [1, 4, 1000])
@pytest.mark.parametrize("page_version", ["1.0", "2.0"])
@pytest.mark.parametrize("vtype", ["fixed", "list"])
def test_we_read_the_plain_pages_pyarrow_writes(tmp_path, per_group, page_version, vtype):
    rng = np.random.default_rng(per_group)
    rows, dim = 23, 5
    vectors = rng.standard_normal((rows, dim)).astype(np.float32)
    words = [f"w{i}" for i in range(rows)]
    # Non-null vectors of non-null floats: one definition level, the layout the fast path slices.
    element = pa.field("element", pa.float32(), nullable=False)
    schema = pa.schema([pa.field("word", pa.string()),
                        pa.field("vector", pa.list_(element, dim) if vtype == "fixed" else pa.list_(element),
                                 nullable=False)])
    column = [row.tolist() for row in vectors]
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"word": words, "vector": column}, schema=schema), path, row_group_size=per_group,
                   compression="none", use_dictionary=False, data_page_version=page_version, data_page_size=100,
                   write_batch_size=8)
    pf = pq.ParquetFile(path)
    index = _fast_vector_column(pf, dim)
    assert index is not None
    with open(path, "rb") as fh:  # every row group's pages parse (no fall back to pyarrow)
        for g in range(pf.metadata.num_row_groups):
            mapped, at = _map_chunk(fh, pf.metadata.row_group(g).column(index))
            pages = _plain_pages(mapped, at, pf.metadata.row_group(g).num_rows, dim)
            assert pages is not None and (len(pages) > 1 or per_group < 20)
            assert np.array_equal(np.concatenate(pages), vectors[g * per_group : (g + 1) * per_group].ravel())
            del pages
            mapped.close()
    got_words, got = _read_back(tmp_path, path, f"in-{per_group}-{page_version}-{vtype}")
    assert got_words == words and np.array_equal(got, vectors)
