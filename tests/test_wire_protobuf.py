"""Protobuf for the ONNX graph: the bytes onnx's own builder writes, accepted by its checker, run by onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from embcli.onnxgraph import int8_products_model
from embcli.wire.protobuf import bytes_field, int_field, key


def reference_model(dim: int, block: int, group: int) -> onnx.ModelProto:
    """The graph of ``int8_products_model`` built with onnx's helpers."""
    nodes = [
        helper.make_node("MatMulInteger", ["A", "B", "a_zero"], ["Y"]),
        helper.make_node("Reshape", ["Y", "groups"], ["Y3"]),
        helper.make_node("ReduceMax", ["Y3"], ["G"], axes=[2], keepdims=0),
    ]
    initializers = [
        helper.make_tensor("a_zero", TensorProto.UINT8, [], bytes([128]), raw=True),
        helper.make_tensor("groups", TensorProto.INT64, [3], np.array([0, block // group, group], "<i8").tobytes(),
                           raw=True),
    ]
    graph = helper.make_graph(
        nodes, "int8_products",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, ["M", dim]),
         helper.make_tensor_value_info("B", TensorProto.INT8, [dim, block])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, ["M", block]),
         helper.make_tensor_value_info("G", TensorProto.INT32, ["M", block // group])],
        initializer=initializers,
    )
    return helper.make_model(graph, producer_name="emb", opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


@pytest.mark.parametrize("dim, block, group", [(1, 64, 64), (37, 256, 64), (300, 4096, 128)])
def test_the_graph_is_the_bytes_onnx_writes_and_its_checker_accepts(dim, block, group):
    ours = int8_products_model(dim, block, group)
    assert ours == reference_model(dim, block, group).SerializeToString()
    model = onnx.load_from_string(ours)
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    dims = [[d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] for out in inferred.graph.output]
    assert dims == [["M", block], ["M", block // group]]


@pytest.mark.parametrize("dim, block, group, rows", [(1, 64, 64, 1), (37, 256, 64, 5), (300, 1024, 128, 33)])
def test_onnxruntime_runs_the_graph_exactly(dim, block, group, rows):
    session = ort.InferenceSession(int8_products_model(dim, block, group), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(dim)
    a = rng.integers(0, 256, (rows, dim), dtype=np.uint8)
    b = rng.integers(-128, 128, (dim, block), dtype=np.int8)
    y, g = session.run(None, {"A": a, "B": b})
    want = (a.astype(np.int64) - 128) @ b.astype(np.int64)
    assert y.dtype == np.int32 and np.array_equal(y, want)
    assert np.array_equal(g, want.reshape(rows, block // group, group).max(axis=2))


def test_fields_are_protobufs_bytes_negative_and_large_values_included():
    values = [-1, 0, 1, 127, 128, -(1 << 63), (1 << 63) - 1, 1 << 40]
    ours = bytes_field(1, "axes") + b"".join(int_field(8, v) for v in values) + int_field(20, 7)
    assert ours == helper.make_attribute("axes", values).SerializeToString()
    text = "naïve 東京"
    assert bytes_field(1, text) + int_field(3, -5) + int_field(20, 2) == helper.make_attribute(text, -5).SerializeToString()
    raw = bytes(range(256)) * 3  # a length that takes a two-byte varint
    tensor = helper.make_tensor("t", TensorProto.UINT8, [768], raw, raw=True)
    assert int_field(1, 768) + int_field(2, TensorProto.UINT8) + bytes_field(8, "t") + bytes_field(9, raw) == (
        tensor.SerializeToString()
    )
    # Field numbers past 15 take a two-byte key.
    assert key(20, 0) == b"\xa0\x01" and key(1, 2) == b"\x0a"
    with pytest.raises(ValueError):
        key(0, 0)
