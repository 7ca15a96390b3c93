"""The protobuf wire encoding, as much of it as an ONNX graph needs: varint and length-delimited fields.

A message is the concatenation of its fields; a nested message is the bytes of that message written as
a length-delimited field. Repeated fields are written one field per item (proto2's unpacked form, which
ONNX's ``.proto`` files use). Fields written in increasing number give the bytes protobuf itself writes.
"""

from __future__ import annotations

from embcli.wire.varint import varint

# Wire types.
VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
_INT64_MASK = (1 << 64) - 1


def key(field: int, wire_type: int) -> bytes:
    """A field's tag: its number and wire type."""
    if field < 1:
        raise ValueError(f"protobuf field number {field}: must be at least 1")
    return varint(field << 3 | wire_type)


def int_field(field: int, value: int) -> bytes:
    """An int32/int64/uint64/enum/bool field; a negative value takes ten bytes (two's complement), as in protobuf."""
    return key(field, VARINT) + varint(int(value) & _INT64_MASK)


def bytes_field(field: int, value: bytes | str) -> bytes:
    """A bytes, string (UTF-8) or nested message field."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    return key(field, LENGTH_DELIMITED) + varint(len(data)) + data
