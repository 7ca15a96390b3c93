"""The one compute graph emb runs with onnxruntime: an int8 matrix product and its maxima by group.

``Y = (A - 128) @ B`` for uint8 A [M, D] and int8 B [D, N] gives exact int32 dot products (onnxruntime's
int8 kernels use the CPU's VNNI instructions, several times faster than a float32 product), and
``G`` holds the maximum of every run of ``group`` consecutive columns of Y, so that callers can skip
the runs that hold nothing above their threshold. The model is written here as ONNX protobuf bytes by
the small protobuf encoder in ``embcli.wire.protobuf``, so the ``onnx`` package is not needed.
"""

from __future__ import annotations

import struct

from embcli.wire.protobuf import bytes_field, int_field

# ONNX TensorProto data types.
UINT8, INT8, INT32, INT64 = 2, 3, 6, 7
_IR_VERSION = 8
_OPSET = 13


def _value_info(name: str, elem_type: int, dims: list[int | str]) -> bytes:
    # TensorShapeProto.Dimension: dim_value = 1, dim_param = 2.
    shape = b"".join(bytes_field(1, int_field(1, d) if isinstance(d, int) else bytes_field(2, d)) for d in dims)
    tensor_type = int_field(1, elem_type) + bytes_field(2, shape)
    return bytes_field(1, name) + bytes_field(2, bytes_field(1, tensor_type))


def _tensor(name: str, elem_type: int, dims: list[int], raw: bytes) -> bytes:
    dims_bytes = b"".join(int_field(1, d) for d in dims)
    return dims_bytes + int_field(2, elem_type) + bytes_field(8, name) + bytes_field(9, raw)


def _node(op: str, inputs: list[str], outputs: list[str], attributes: bytes = b"") -> bytes:
    return (
        b"".join(bytes_field(1, i) for i in inputs)
        + b"".join(bytes_field(2, o) for o in outputs)
        + bytes_field(4, op)
        + attributes
    )


def _ints_attribute(name: str, values: list[int]) -> bytes:
    # AttributeProto: name = 1, ints = 8, type = 20 (INTS = 7).
    return bytes_field(5, bytes_field(1, name) + b"".join(int_field(8, v) for v in values) + int_field(20, 7))


def _int_attribute(name: str, value: int) -> bytes:
    # AttributeProto: name = 1, i = 3, type = 20 (INT = 2).
    return bytes_field(5, bytes_field(1, name) + int_field(3, value) + int_field(20, 2))


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
        b"".join(bytes_field(1, n) for n in nodes)
        + bytes_field(2, "int8_products")
        + b"".join(bytes_field(5, t) for t in initializers)
        + bytes_field(11, _value_info("A", UINT8, ["M", dim]))
        + bytes_field(11, _value_info("B", INT8, [dim, block]))
        + bytes_field(12, _value_info("Y", INT32, ["M", block]))
        + bytes_field(12, _value_info("G", INT32, ["M", block // group]))
    )
    opset = bytes_field(1, "") + int_field(2, _OPSET)
    return int_field(1, _IR_VERSION) + bytes_field(2, "emb") + bytes_field(7, graph) + bytes_field(8, opset)
