"""Unsigned LEB128 varints, as both Thrift's compact protocol (Parquet) and protobuf (ONNX) write them."""

from __future__ import annotations


def varint(n: int) -> bytes:
    """``n`` >= 0 in 7-bit groups, low first, the high bit set on every byte but the last."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
