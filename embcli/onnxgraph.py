"""The one compute graph emb runs with onnxruntime: an int8 matrix product and its maxima by group.

``Y = (A - 128) @ B`` for uint8 A [M, D] and int8 B [D, N] gives exact int32 dot products (onnxruntime's
int8 kernels use the CPU's VNNI instructions, several times faster than a float32 product), and
``G`` holds the maximum of every run of ``group`` consecutive columns of Y, so that callers can skip
the runs that hold nothing above their threshold. The model is written here as ONNX protobuf bytes by
a small encoder, so the ``onnx`` package is not needed.
"""

from __future__ import annotations

import struct

from embcli._varint import varint as _varint

# ONNX TensorProto data types.
UINT8, INT8, INT32, INT64 = 2, 3, 6, 7
_IR_VERSION = 8
_OPSET = 13


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _key(field, 2) + _varint(len(data)) + data


def _value_info(name: str, elem_type: int, dims: list[int | str]) -> bytes:
    shape = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _bytes(2, d)) for d in dims)
    tensor_type = _int(1, elem_type) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def _tensor(name: str, elem_type: int, dims: list[int], raw: bytes) -> bytes:
    return b"".join(_int(1, d) for d in dims) + _int(2, elem_type) + _bytes(8, name) + _bytes(9, raw)


def _node(op: str, inputs: list[str], outputs: list[str], attributes: bytes = b"") -> bytes:
    return (
        b"".join(_bytes(1, i) for i in inputs)
        + b"".join(_bytes(2, o) for o in outputs)
        + _bytes(4, op)
        + attributes
    )


def _ints_attribute(name: str, values: list[int]) -> bytes:
    # AttributeProto: name = 1, ints = 8, type = 20 (INTS = 7).
    return _bytes(5, _bytes(1, name) + b"".join(_int(8, v) for v in values) + _int(20, 7))


def _int_attribute(name: str, value: int) -> bytes:
    # AttributeProto: name = 1, i = 3, type = 20 (INT = 2).
    return _bytes(5, _bytes(1, name) + _int(3, value) + _int(20, 2))


def int8_products_model(dim: int, block: int, group: int) -> bytes:
    """ONNX bytes: inputs A uint8 [M, dim], B int8 [dim, block]; outputs Y int32 [M, block], G int32."""
    if block % group:
        raise ValueError("block must be a multiple of group")
    nodes = [
        _node("MatMulInteger", ["A", "B", "a_zero"], ["Y"]),
        _node("Reshape", ["Y", "groups"], ["Y3"]),
        _node("ReduceMax", ["Y3"], ["G"], _ints_attribute("axes", [2]) + _int_attribute("keepdims", 0)),
    ]
    initializers = [
        _tensor("a_zero", UINT8, [], bytes([128])),
        _tensor("groups", INT64, [3], struct.pack("<3q", 0, block // group, group)),
    ]
    graph = (
        b"".join(_bytes(1, n) for n in nodes)
        + _bytes(2, "int8_products")
        + b"".join(_bytes(5, t) for t in initializers)
        + _bytes(11, _value_info("A", UINT8, ["M", dim]))
        + _bytes(11, _value_info("B", INT8, [dim, block]))
        + _bytes(12, _value_info("Y", INT32, ["M", block]))
        + _bytes(12, _value_info("G", INT32, ["M", block // group]))
    )
    opset = _bytes(1, "") + _int(2, _OPSET)
    return _int(1, _IR_VERSION) + _bytes(2, "emb") + _bytes(7, graph) + _bytes(8, opset)
