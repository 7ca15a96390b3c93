"""Varints and zigzag: the bytes protobuf and Apache Thrift write, read back, big values included."""

from __future__ import annotations

import random

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from thrift.protocol import TCompactProtocol
from thrift.transport.TTransport import TMemoryBuffer

from embcli.errors import FormatError
from embcli.wire.varint import read_varint, unzigzag, varint, zigzag

EDGES = sorted({0, 1, 2, 127, 128, 129, 255, 256, 300, 16383, 16384, (1 << 31) - 1, 1 << 31, (1 << 32) - 1,
                1 << 32, (1 << 35) + 7, (1 << 56) - 1, 1 << 56, (1 << 63) - 1, 1 << 63, (1 << 64) - 1}
               | {random.Random(n).getrandbits(n) for n in range(1, 65)})
SIGNED = sorted({0, -1, 1, -2, 2, 63, -64, 64, -65, (1 << 31) - 1, -(1 << 31), (1 << 63) - 1, -(1 << 63)}
                | {random.Random(n).randint(-(1 << 63), (1 << 63) - 1) for n in range(50)})


@pytest.fixture(scope="module")
def proto():
    """A protobuf message class built at run time: one field of each varint kind."""
    fdp = descriptor_pb2.FileDescriptorProto(name="emb_varint_test.proto", package="embtest", syntax="proto3")
    msg = fdp.message_type.add(name="Numbers")
    kinds = {"u64": "TYPE_UINT64", "i64": "TYPE_INT64", "s64": "TYPE_SINT64", "s32": "TYPE_SINT32"}
    for number, (name, kind) in enumerate(kinds.items(), start=1):
        msg.field.add(name=name, number=number, type=getattr(descriptor_pb2.FieldDescriptorProto, kind),
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("embtest.Numbers"))


@pytest.mark.parametrize("n", EDGES)
def test_unsigned_varints_are_protobufs_and_thrifts_bytes(proto, n):
    data = varint(n)
    if n:  # proto3 leaves a zero field out
        assert proto(u64=n).SerializeToString() == b"\x08" + data
    buf = TMemoryBuffer()
    TCompactProtocol.writeVarint(buf, n)
    assert buf.getvalue() == data
    assert TCompactProtocol.readVarint(TMemoryBuffer(data)) == n
    assert read_varint(data, 0) == (n, len(data))
    assert read_varint(b"\xff" + data + b"\x01", 1) == (n, 1 + len(data))
    assert len(data) == max(1, -(-n.bit_length() // 7)) <= 10


@pytest.mark.parametrize("n", SIGNED)
def test_zigzag_is_protobufs_sint_and_thrifts_zigzag(proto, n):
    z = zigzag(n)
    if n:
        assert proto(s64=n).SerializeToString() == b"\x18" + varint(z)
    assert z == TCompactProtocol.makeZigZag(n, 64) >= 0
    assert unzigzag(z) == n == TCompactProtocol.fromZigZag(z)
    if -(1 << 31) <= n < 1 << 31:
        assert zigzag(n, 32) == z == TCompactProtocol.makeZigZag(n, 32)
        if n:
            assert proto(s32=n).SerializeToString() == b"\x20" + varint(zigzag(n, 32))
    else:
        with pytest.raises(ValueError):
            zigzag(n, 32)


def test_negative_int64_is_ten_bytes_of_twos_complement(proto):
    # protobuf's int64 field (not sint64): the value masked to 64 bits, as embcli.wire.protobuf writes it.
    for n in (-1, -2, -(1 << 63)):
        data = varint(n & ((1 << 64) - 1))
        assert len(data) == 10
        assert proto(i64=n).SerializeToString() == b"\x10" + data


def test_out_of_range_values_are_refused():
    with pytest.raises(ValueError, match="negative"):
        varint(-1)
    with pytest.raises(ValueError):
        zigzag(1 << 63)
    with pytest.raises(ValueError):
        zigzag(-(1 << 63) - 1)


def test_damaged_varints_raise_format_error():
    with pytest.raises(FormatError, match="truncated"):
        read_varint(b"\x80\x80", 0)
    with pytest.raises(FormatError, match="truncated"):
        read_varint(b"", 0)
    with pytest.raises(FormatError, match="longer than 10 bytes"):
        read_varint(b"\xff" * 11, 0)
