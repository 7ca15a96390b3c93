"""Unsigned LEB128 varints and zigzag, as both Thrift's compact protocol (Parquet) and protobuf (ONNX) use them."""

from __future__ import annotations

from embcli.errors import FormatError

# A 64-bit value takes at most ten 7-bit groups.
MAX_BYTES = 10


def varint(n: int) -> bytes:
    """``n`` >= 0 in 7-bit groups, low first, the high bit set on every byte but the last."""
    if n < 0:
        raise ValueError(f"varint of a negative number ({n}): zigzag or mask it first")
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(buf, pos: int) -> tuple[int, int]:
    """The varint starting at ``buf[pos]`` and the position after it.

    ``buf`` is anything indexable by position that gives ints (bytes, bytearray, memoryview, mmap).
    """
    shift = result = 0
    try:
        while True:
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result, pos
            shift += 7
            if shift >= 7 * MAX_BYTES:
                raise FormatError(f"a varint longer than {MAX_BYTES} bytes at byte {pos - MAX_BYTES}")
    except IndexError:
        raise FormatError(f"a varint cut short at byte {pos}: the data is truncated") from None


def zigzag(n: int, bits: int = 64) -> int:
    """Signed ``n`` mapped to unsigned so that small magnitudes stay small: 0, -1, 1, -2 -> 0, 1, 2, 3."""
    if not -(1 << (bits - 1)) <= n < 1 << (bits - 1):
        raise ValueError(f"{n} does not fit in a signed {bits}-bit integer")
    return (n << 1) ^ (n >> (bits - 1))


def unzigzag(n: int) -> int:
    """The inverse of ``zigzag``."""
    return (n >> 1) ^ -(n & 1)
