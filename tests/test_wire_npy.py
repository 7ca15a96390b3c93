"""The .npy header: numpy reads what we write, and we read every header numpy writes."""

from __future__ import annotations

import io

import numpy as np
import pytest

from embcli.errors import FormatError
from embcli.wire.npy import HEADER_LEN, NpyAppender, npy_header, read_npy_header

SHAPES = [(0,), (3,), (0, 5), (4, 7), (2, 3, 4), (1_000_000, 300), (2**40, 1)]
DESCRS = ["<f4", "<f8", "<i8", "|u1", "|i1", "<f2", ">f4", "<u4", "|b1"]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("descr", DESCRS)
def test_numpy_reads_our_header(shape, descr):
    header = npy_header(shape, descr)
    assert len(header) == HEADER_LEN
    fh = io.BytesIO(header)
    assert np.lib.format.read_magic(fh) == (1, 0)
    assert np.lib.format.read_array_header_1_0(fh) == (shape, False, np.dtype(descr))
    assert fh.tell() == HEADER_LEN


@pytest.mark.parametrize("shape", [(0,), (5,), (0, 3), (4, 3), (2, 3, 2)])
@pytest.mark.parametrize("descr", ["<f4", ">i8", "|u1"])
def test_np_load_reads_a_file_with_our_header(tmp_path, shape, descr):
    data = np.arange(int(np.prod(shape)), dtype=descr).reshape(shape)
    path = tmp_path / "a.npy"
    path.write_bytes(npy_header(shape, descr) + data.tobytes())
    back = np.load(path, allow_pickle=False)
    assert back.dtype == np.dtype(descr) and back.shape == shape and np.array_equal(back, data)
    with open(path, "rb") as fh:
        assert read_npy_header(fh) == (shape, False, np.dtype(descr), HEADER_LEN)


def test_a_shape_too_long_for_the_fixed_header_is_refused():
    with pytest.raises(FormatError, match="too large for a .npy header"):
        npy_header((10**20,) * 5)


ARRAYS = {
    "float32 matrix": np.arange(12, dtype=np.float32).reshape(3, 4),
    "fortran float64": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
    "big-endian int": np.arange(5, dtype=">i4"),
    "scalar": np.array(3.5),
    "empty": np.zeros((0, 300), dtype=np.float32),
    "3-d int8": np.arange(24, dtype=np.int8).reshape(2, 3, 4),
    "bool": np.array([True, False]),
    "unicode": np.array(["a", "bcd"]),
    "complex": np.array([1 + 2j]),
    "structured": np.zeros(3, dtype=[("word", "S8"), ("count", "<i8"), ("vec", "<f4", (2,))]),
    "object": np.array([None, 1], dtype=object),
}


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
@pytest.mark.parametrize("name", list(ARRAYS))
def test_we_read_the_headers_numpy_writes(name, version):
    array = ARRAYS[name]
    fh = io.BytesIO()
    fh.write(b"junk")  # the header need not start the file
    np.lib.format.write_array(fh, array, version=version, allow_pickle=name == "object")
    fh.seek(4)
    shape, fortran, dtype, offset = read_npy_header(fh)
    fh.seek(4)
    assert np.lib.format.read_magic(fh) == version
    assert (shape, fortran, dtype) == (array.shape, name == "fortran float64", array.dtype)
    if version != (3, 0):  # numpy's public readers stop at 2.0
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        assert read(fh) == (shape, fortran, dtype) and offset == fh.tell()
    assert dtype.hasobject == (name == "object")
    if not dtype.hasobject:  # the data that follows is the array's
        fh.seek(offset)
        back = np.frombuffer(fh.read(), dtype=dtype).reshape(shape, order="F" if fortran else "C")
        assert np.array_equal(back, array)


def test_a_large_header_written_by_numpy_needs_version_2():
    dtype = np.dtype([(f"field{i:04d}", "<f4") for i in range(4000)])  # a header over 64 KiB
    fh = io.BytesIO()
    np.lib.format.write_array(fh, np.zeros(1, dtype), version=(2, 0))
    fh.seek(0)
    with pytest.raises(FormatError, match="longer than 10,000"):
        read_npy_header(fh)


def _raw(text: str, version: int = 1, length: int | None = None) -> io.BytesIO:
    body = text.encode("latin1")
    size = (len(body) if length is None else length).to_bytes(2 if version == 1 else 4, "little")
    return io.BytesIO(b"\x93NUMPY" + bytes([version, 0]) + size + body)


@pytest.mark.parametrize(
    "fh, message",
    [
        (io.BytesIO(b""), "ends inside its magic"),
        (io.BytesIO(b"PK\x03\x04 not npy at all"), "not a .npy file"),
        (io.BytesIO(b"\x93NUMPY\x09\x00\x10\x00"), "version 9.0 is not supported"),
        (io.BytesIO(b"\x93NUMPY\x01\x00\x10"), "ends inside its header length"),
        (_raw("{'descr': '<f4'", length=200), "ends inside its header"),
        (_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}"), "exactly the keys"),
        (_raw("[1, 2, 3]"), "exactly the keys"),
        (_raw("{'descr': '<f4', 'fortran_order': False, 'shape': __import__('os').getcwd()}"), "not a Python literal"),
        (_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (3, -1)}"), "not a tuple of sizes"),
        (_raw("{'descr': '<f4', 'fortran_order': False, 'shape': [3]}"), "not a tuple of sizes"),
        (_raw("{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}"), "fortran_order is not True or False"),
        (_raw("{'descr': 'nonsense', 'fortran_order': False, 'shape': (3,)}"), "is no data type"),
        (_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (%d, 2)}" % 2**61), "larger than any file"),
    ],
)
def test_damaged_headers_raise_format_error(fh, message):
    with pytest.raises(FormatError, match=message):
        read_npy_header(fh)


@pytest.mark.parametrize("width, dtype", [(7, "<f4"), (0, "<i8"), (3, "|i1")])
def test_the_appender_writes_a_file_np_load_reads(tmp_path, width, dtype):
    rng = np.random.default_rng(width)
    blocks = [rng.integers(-100, 100, size=(n, width) if width else (n,)).astype(dtype) for n in (5, 0, 1, 12)]
    path = tmp_path / "rows.npy"
    appender = NpyAppender(path, width, dtype)
    for block in blocks:
        appender.append(block)
    appender.close()
    appender.close()  # closing twice is harmless
    back = np.load(path, allow_pickle=False)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, np.concatenate(blocks))
    with open(path, "rb") as fh:
        assert read_npy_header(fh) == (back.shape, False, np.dtype(dtype), HEADER_LEN)


def test_an_appender_closed_with_no_rows_leaves_an_empty_array(tmp_path):
    path = tmp_path / "none.npy"
    NpyAppender(path, 4).close()
    back = np.load(path)
    assert back.shape == (0, 4) and back.dtype == np.float32


@pytest.mark.parametrize("shape", [(0, 3), (9,), (10, 3), (4097, 2)])
def test_all_finite_finds_a_bad_value_in_any_piece(shape):
    from embcli.folder import all_finite

    values = np.ones(shape, dtype=np.float32)
    assert all_finite(values, piece_rows=4)
    if values.size:
        for bad in (np.nan, np.inf, -np.inf):
            for where in (0, values.shape[0] // 2, values.shape[0] - 1):  # first, middle and last (partial) piece
                broken = values.copy()
                broken[where] = bad
                assert not all_finite(broken, piece_rows=4)
                assert not all_finite(broken)
