"""Thrift's compact protocol, written and read: Parquet's page headers and file footer use it.

A struct is written from a list of ``(field id, type, value)`` triples (fields whose value is None are
left out) and read back as ``{field id: value}``, so callers name fields by the numbers of the ``.thrift``
file. Values by type:

    BOOL    bool                   BYTE, I16, I32, I64   int          DOUBLE   float
    BINARY  bytes or str (UTF-8); read back as bytes     STRUCT       a list of triples; read: a dict
    LIST, SET  (element type, [items]); read: a list     MAP          (key type, value type, {k: v}); read: a dict
"""

from __future__ import annotations

import struct

from embcli.errors import FormatError
from embcli.wire.varint import read_varint, unzigzag, varint, zigzag

# Compact protocol types. A bool field carries its value in its type (1 true, 2 false); inside a
# list, set or map a bool is one byte, 1 or 2.
BOOL, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
_BOOL_FALSE = 2
_BITS = {BYTE: 8, I16: 16, I32: 32, I64: 64}
# Deeper nesting than this is no Parquet header: refuse it rather than exhaust the stack.
MAX_DEPTH = 64


def encode_struct(fields) -> bytes:
    """Encode ``(field id, type, value)`` triples as a compact struct (ids in increasing order are shortest)."""
    out = bytearray()
    last = 0
    for fid, kind, value in fields:
        if value is None:
            continue
        wire = (BOOL if value else _BOOL_FALSE) if kind == BOOL else kind
        delta = fid - last
        out += bytes([(delta << 4) | wire]) if 0 < delta <= 15 else bytes([wire]) + varint(zigzag(fid, 16))
        if kind != BOOL:
            out += encode_value(kind, value)
        last = fid
    out.append(0)
    return bytes(out)


def _collection_head(size: int, elem: int) -> bytes:
    return bytes([(size << 4) | elem]) if size < 15 else bytes([0xF0 | elem]) + varint(size)


def encode_value(kind: int, value) -> bytes:
    """One value of type ``kind`` as it appears after a field header or inside a collection."""
    if kind in (I16, I32, I64):
        return varint(zigzag(value, _BITS[kind]))
    if kind == BINARY:
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return varint(len(raw)) + raw
    if kind == STRUCT:
        return encode_struct(value)
    if kind in (LIST, SET):
        elem, items = value
        return _collection_head(len(items), elem) + b"".join(encode_value(elem, item) for item in items)
    if kind == BOOL:
        return bytes([BOOL if value else _BOOL_FALSE])
    if kind == BYTE:
        return struct.pack("<b", value)
    if kind == DOUBLE:
        return struct.pack("<d", value)
    if kind == MAP:
        key_kind, value_kind, items = value
        if not items:
            return b"\x00"
        pairs = (encode_value(key_kind, k) + encode_value(value_kind, v) for k, v in items.items())
        return varint(len(items)) + bytes([(key_kind << 4) | value_kind]) + b"".join(pairs)
    raise ValueError(f"thrift compact type {kind}")


def decode_struct(buf, pos: int = 0, depth: int = 0) -> tuple[dict, int]:
    """Read the compact struct at ``buf[pos]``: ``({field id: value}, position after it)``.

    ``buf`` is bytes, a memoryview or an mmap; damaged or truncated data raises ``FormatError``.
    """
    if depth > MAX_DEPTH:
        raise FormatError(f"thrift structs nested more than {MAX_DEPTH} deep at byte {pos}")
    fields: dict = {}
    last = 0
    try:
        while True:
            head = buf[pos]
            pos += 1
            if head == 0:
                return fields, pos
            delta, kind = head >> 4, head & 0x0F
            if delta:
                fid = last + delta
            else:
                raw, pos = read_varint(buf, pos)
                fid = unzigzag(raw)
            last = fid
            if kind == BOOL or kind == _BOOL_FALSE:
                fields[fid] = kind == BOOL
            else:
                fields[fid], pos = _value(buf, pos, kind, depth)
    except IndexError:
        raise FormatError(f"a thrift struct cut short at byte {pos}: the data is truncated") from None


def _collection(buf, pos: int) -> tuple[int, int, int]:
    head = buf[pos]
    pos += 1
    size, elem = head >> 4, head & 0x0F
    if size == 15:
        size, pos = read_varint(buf, pos)
    return size, elem, pos


def decode_value(buf, pos: int, kind: int) -> tuple[object, int]:
    """Read one value of type ``kind`` at ``buf[pos]``: ``(value, position after it)``."""
    try:
        return _value(buf, pos, kind, 0)
    except IndexError:
        raise FormatError(f"a thrift value cut short after byte {pos}: the data is truncated") from None


def _value(buf, pos: int, kind: int, depth: int) -> tuple[object, int]:
    if kind in (I16, I32, I64):
        raw, pos = read_varint(buf, pos)
        return unzigzag(raw), pos
    if kind == BINARY:
        size, pos = read_varint(buf, pos)
        if pos + size > len(buf):
            raise FormatError(f"a thrift binary of {size} bytes at byte {pos} runs past the end: the data is truncated")
        return bytes(buf[pos : pos + size]), pos + size
    if kind == STRUCT:
        return decode_struct(buf, pos, depth + 1)
    if kind in (LIST, SET):
        size, elem, pos = _collection(buf, pos)
        items = []
        for _ in range(size):
            item, pos = _value(buf, pos, elem, depth + 1)
            items.append(item)
        return items, pos
    if kind == BOOL or kind == _BOOL_FALSE:  # inside a collection: one byte
        return buf[pos] == BOOL, pos + 1
    if kind == BYTE:
        b = buf[pos]
        return b - 256 if b > 127 else b, pos + 1
    if kind == DOUBLE:
        if pos + 8 > len(buf):
            raise FormatError(f"a thrift double at byte {pos} runs past the end: the data is truncated")
        return struct.unpack_from("<d", buf, pos)[0], pos + 8
    if kind == MAP:
        size, pos = read_varint(buf, pos)
        items: dict = {}
        if size:
            types = buf[pos]
            pos += 1
            for _ in range(size):
                key, pos = _value(buf, pos, types >> 4, depth + 1)
                value, pos = _value(buf, pos, types & 0x0F, depth + 1)
                if isinstance(key, (dict, list)):
                    raise FormatError(f"a thrift map keyed by {type(key).__name__} at byte {pos}: not supported")
                items[key] = value
        return items, pos
    raise FormatError(f"unknown thrift compact type {kind} before byte {pos}: the data is damaged")
