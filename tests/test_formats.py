"""Formats: round trips derived from the registry, detection, and every bad input the readers refuse."""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from embcli.errors import FormatError, ModelError, UsageError
from embcli.formats import FORMATS, READABLE, WRITABLE
from embcli.formats.convert import convert, export_model, read_into
from embcli.formats.detect import detect_format, sniff
from embcli.wire.npy import npy_header
from embcli.folder import ModelFolder
from embcli.folder import write_model

WORDS = ["the", "café", "한국어", "東京", "naïve", "don't", "x", "ÆØÅ", "emoji🙂", "1990", "nan-word", "end"]


def make_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = (rng.standard_normal((n, dim)) * 0.3).astype(np.float32)
    # Values whose text form is tricky: tiny, huge, negative zero, subnormal, the float32 extremes.
    specials = [1e-7, -0.0, 1e30, 1e-40, np.finfo(np.float32).max, -np.finfo(np.float32).tiny, 0.1, 123456789.0]
    vectors.ravel()[: len(specials)] = np.array(specials, dtype=np.float32)
    return vectors


@pytest.fixture
def model(tmp_path) -> Model:
    folder = tmp_path / "src-model"
    folder.mkdir()
    vectors = make_vectors(len(WORDS), 7)
    counts = np.arange(len(WORDS), 0, -1, dtype=np.int64) * 10
    write_model(folder, WORDS, vectors, {"algorithm": "word2vec", "tokenizer": {"mode": "unicode"}}, counts=counts)
    return ModelFolder(folder)


def read(tmp_path, src, fmt=None, name="read", **opts) -> Model:
    folder = tmp_path / name
    folder.mkdir()
    read_into(str(src), folder, fmt, **opts)
    return ModelFolder(folder)


def same_bits(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.int32), b.view(np.int32))


def out_path(tmp_path, fmt: str, tag: str) -> Path:
    suffix = FORMATS[fmt].suffixes[0] if FORMATS[fmt].suffixes else ""
    return tmp_path / f"{tag}{suffix}"


# --------------------------------------------------------------------------------------------- round trips

ROUND_TRIP = [f for f in WRITABLE if f in READABLE]  # write-only formats have their own tests


@pytest.mark.parametrize("first", ROUND_TRIP)
@pytest.mark.parametrize("second", ROUND_TRIP)
def test_every_writer_reader_pair_round_trips_exactly(tmp_path, model, first, second):
    """Write with one format, read it back, write with another, read that back: the same bits."""
    a = out_path(tmp_path, first, "a")
    export_model(model, str(a), first)
    back = read(tmp_path, a, first, name="back1")
    assert back.words == WORDS
    assert same_bits(back.vectors, model.vectors)
    b = out_path(tmp_path, second, "b")
    export_model(back, str(b), second)
    again = read(tmp_path, b, second, name="back2")
    assert again.words == WORDS
    assert same_bits(again.vectors, model.vectors)
    assert np.allclose(again.norms, model.norms)


@pytest.mark.parametrize("fmt", [f for f in ROUND_TRIP if not FORMATS[f].folder])
def test_format_is_detected_from_what_was_written(tmp_path, model, fmt):
    path = out_path(tmp_path, fmt, "detect")
    export_model(model, str(path), fmt)
    found = detect_format(str(path))
    assert found == fmt or {found, fmt} == {"word2vec", "fasttext-vec"}
    plain = tmp_path / "no-suffix"
    plain.write_bytes(path.read_bytes())
    assert sniff(plain.read_bytes()[:4096], "x") in (fmt, "word2vec" if fmt == "fasttext-vec" else fmt)


def test_our_parquet_files_take_the_direct_path(tmp_path, model):
    import pyarrow.parquet as pq

    from embcli.formats.parquet import _fast_vector_column

    export_model(model, str(tmp_path / "m.parquet"))
    assert _fast_vector_column(pq.ParquetFile(tmp_path / "m.parquet"), model.dim) is not None


def test_compressed_text_round_trips_and_counts_survive_parquet(tmp_path, model):
    export_model(model, str(tmp_path / "m.txt.gz"))
    assert gzip.open(tmp_path / "m.txt.gz").readline() == f"{len(WORDS)} 7\n".encode()
    # No name in the gzip header (it held the temporary file's, which gunzip -N restored).
    head = (tmp_path / "m.txt.gz").read_bytes()[:10]
    assert head[:2] == b"\x1f\x8b" and not head[3] & 0x08
    back = read(tmp_path, tmp_path / "m.txt.gz")
    assert same_bits(back.vectors, model.vectors)
    export_model(model, str(tmp_path / "m.parquet"))
    pq_back = read(tmp_path, tmp_path / "m.parquet", name="pq")
    assert pq_back.counts.tolist() == model.counts.tolist()
    assert pq_back.meta["tokenizer"] == {"mode": "unicode"} or pq_back.meta["tokenizer"]["mode"] == "unicode"


def test_limit_and_normalize(tmp_path, model):
    path = tmp_path / "n.txt"
    export_model(model, str(path), limit=3, normalize=True)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "3 7"
    back = read(tmp_path, path)
    assert back.words == WORDS[:3]
    assert np.allclose(np.linalg.norm(np.asarray(back.vectors, dtype=np.float64), axis=1), 1.0, atol=1e-6)
    first2 = read(tmp_path, tmp_path / "n.txt", limit=2, name="lim")
    assert first2.words == WORDS[:2]


def test_existing_output_needs_force(tmp_path, model):
    path = tmp_path / "o.txt"
    export_model(model, str(path))
    with pytest.raises(FormatError, match="--force"):
        export_model(model, str(path))
    export_model(model, str(path), force=True, limit=1)
    assert path.read_text().startswith("1 7\n")


def test_convert_does_not_touch_the_store(tmp_path, model, emb_home):
    export_model(model, str(tmp_path / "in.bin"))
    found, written, summary, rows = convert(str(tmp_path / "in.bin"), str(tmp_path / "out.parquet"))
    assert (found, written, rows, summary.dim) == ("word2vec-binary", "parquet", len(WORDS), 7)
    assert same_bits(read(tmp_path, tmp_path / "out.parquet").vectors, model.vectors)
    assert not (emb_home / "models").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".emb-convert")] == []


def test_read_only_format_cannot_be_written(tmp_path, model):
    with pytest.raises(UsageError, match="can be read but not written"):
        export_model(model, str(tmp_path / "x.bin"), "fasttext-bin")
    with pytest.raises(UsageError, match="cannot be written to stdout"):
        export_model(model, "-", "parquet")
    with pytest.raises(UsageError, match="drop the .gz suffix"):
        export_model(model, str(tmp_path / "x.parquet.gz"))


def test_write_only_format_cannot_be_read(tmp_path, model):
    out = tmp_path / "proj"
    export_model(model, str(out), "projector")
    with pytest.raises(UsageError, match="can be written but not read"):
        read(tmp_path, out, "projector")
    # Without --format it is a folder, and was reported as a damaged model folder ("meta.json: missing").
    (tmp_path / "again").mkdir()
    with pytest.raises(FormatError, match="a TensorBoard Embedding Projector folder, which emb writes but does not read"):
        read(tmp_path / "again", out)


def test_projector_folder_holds_the_vectors_and_metadata(tmp_path, model):
    from embcli.formats.projector import write_projector

    out = tmp_path / "proj"
    fmt, rows = export_model(model, str(out), "projector", limit=10)
    assert (fmt, rows) == ("projector", 10)
    assert sorted(p.name for p in out.iterdir()) == ["metadata.tsv", "projector_config.pbtxt", "vectors.tsv"]
    vectors = np.loadtxt(out / "vectors.tsv", delimiter="\t", dtype=np.float32)
    assert vectors.shape == (10, 7) and same_bits(vectors, model.vectors[:10])
    meta = (out / "metadata.tsv").read_text(encoding="utf-8").split("\n")
    assert meta[0] == "word\tcount" and meta[1] == "the\t120" and meta[3] == "한국어\t100" and meta[11] == ""
    config = (out / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "vectors.tsv"' in config and 'metadata_path: "metadata.tsv"' in config
    with_clusters = tmp_path / "proj2"
    with_clusters.mkdir()
    assert write_projector(model, with_clusters, clusters=[0, 1, 1]) == 3
    lines = (with_clusters / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert lines == ["word\tcount\tcluster", "the\t120\t0", "café\t110\t1", "한국어\t100\t1"]
    with pytest.raises(ModelError, match="--force"):
        export_model(model, str(out), "projector")


# --------------------------------------------------------------------------------------------- bad input


def test_truncated_binary_names_row_and_byte_offset(tmp_path, model):
    path = tmp_path / "t.bin"
    export_model(model, str(path))
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(FormatError, match=rf"row {len(WORDS)} of {len(WORDS)} ends at byte {len(data) - 10}.*truncated"):
        read(tmp_path, path)


def test_binary_header_claiming_more_than_the_file_holds(tmp_path):
    path = tmp_path / "lie.bin"
    path.write_bytes(b"1000000 300\n" + b"a " + bytes(1200))
    with pytest.raises(FormatError, match=r"claims 1,000,000 rows of 300 dimensions.*holds only 1,202 bytes"):
        read(tmp_path, path)


def test_binary_rows_without_trailing_newline_as_gensim_writes_them(tmp_path):
    vectors = make_vectors(3, 4)
    body = b"".join(w.encode() + b" " + v.astype("<f4").tobytes() for w, v in zip(["a", "bb", "ccc"], vectors))
    path = tmp_path / "g.bin"
    path.write_bytes(b"3 4\n" + body)
    back = read(tmp_path, path)
    assert back.words == ["a", "bb", "ccc"]
    assert same_bits(back.vectors, vectors)


def test_header_dimension_disagreeing_with_a_row(tmp_path):
    path = tmp_path / "h.txt"
    path.write_text("2 3\na 1 2 3\nb 1 2\n")
    with pytest.raises(FormatError, match=r"line 3: 2 values, but the header says 3"):
        read(tmp_path, path)


def test_header_row_count_disagreeing_with_the_rows(tmp_path):
    path = tmp_path / "h.txt"
    path.write_text("3 2\na 1 2\nb 3 4\n")
    with pytest.raises(FormatError, match=r"line 4: the file ends after 2 rows but the header says 3"):
        read(tmp_path, path)
    path.write_text("1 2\na 1 2\nb 3 4\n")
    with pytest.raises(FormatError, match=r"line 3: more rows than the header's 1"):
        read(tmp_path, path, name="more")


def test_text_with_crlf_blank_lines_and_words_holding_spaces(tmp_path):
    path = tmp_path / "w.txt"
    # GloVe's Common Crawl files hold a few words with spaces; Windows files end lines with CRLF.
    path.write_bytes(b"a 1 2\r\n\r\n. . . 3 4\r\nat name@x.org 5 6\r\nlast 7 8\r\ntab\tin  it 9 10")
    m = read(tmp_path, path)
    # The word is the text before the values as written: a tab stays a tab, as gensim reads it.
    assert m.words == ["a", ". . .", "at name@x.org", "last", "tab\tin  it"]
    assert m.vectors.tolist() == [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]


def test_glove_row_with_a_different_width(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("a 1 2 3\nb 1 2 3\nc 1 2\n")
    with pytest.raises(FormatError, match=r"line 3: 2 values, but the first line has 3"):
        read(tmp_path, path)


def test_non_numeric_value_names_line_and_column(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("2 3\na 1 2 3\nb 1 zz 3\n")
    with pytest.raises(FormatError, match=r"line 3, column 3: 'zz' is not a number"):
        read(tmp_path, path)


def test_duplicates_keep_the_first_and_are_counted(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("a 1 2\nb 3 4\na 5 6\nb 7 8\nc 9 10\n")
    folder = tmp_path / "dup"
    folder.mkdir()
    _, summary = read_into(str(path), folder)
    m = ModelFolder(folder)
    assert m.words == ["a", "b", "c"]
    assert m.vectors.tolist() == [[1, 2], [3, 4], [9, 10]]
    assert summary.duplicates == 2 and m.meta["import"]["skipped_duplicates"] == 2


@pytest.mark.parametrize("collide", [False, True])
def test_the_writer_finds_duplicates_across_blocks_by_hash_then_word(tmp_path, monkeypatch, collide):
    """Kept words are remembered as hashes until one repeats; then as words. With every hash equal
    (``collide``), distinct words must still all be kept: a repeated hash is checked word for word."""
    from embcli.folder import FolderWriter
    from embcli.folder import writer as writer_module

    if collide:
        monkeypatch.setattr(writer_module, "hash", lambda _: 7, raising=False)
    folder = tmp_path / "m"
    folder.mkdir()
    sink = FolderWriter(folder, 2, "test")
    blocks = [[b"a", b"b", b"c"], [b"d", "é".encode()], [b"e", b"a", b"f"], [b"g", b"b"], [b"h"]]
    for n, block in enumerate(blocks):
        sink.add(block, np.full((len(block), 2), n, dtype=np.float32))
    summary = sink.finish({"algorithm": "imported"})
    m = ModelFolder(folder)
    assert m.words == ["a", "b", "c", "d", "é", "e", "f", "g", "h"]
    assert m.vectors[:, 0].tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 4]  # the first of each duplicate kept
    assert summary.duplicates == 2 and summary.first_duplicate == "a"


def test_invalid_utf8_names_lossy_which_replaces_and_counts(tmp_path):
    path = tmp_path / "u.txt"
    path.write_bytes(b"2 2\ngood 1 2\nba\xffd 3 4\n")
    with pytest.raises(FormatError, match=r"line 3: word b'ba\\xffd' is not valid UTF-8: pass --lossy"):
        read(tmp_path, path)
    folder = tmp_path / "lossy"
    folder.mkdir()
    _, summary = read_into(str(path), folder, lossy=True)
    assert ModelFolder(folder).words == ["good", "ba\ufffdd"]
    assert summary.replaced_bytes == 1


def test_parquet_without_expected_columns_names_what_it_found(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"token": ["a"], "embedding": [[1.0, 2.0]]}), path)
    with pytest.raises(FormatError, match=r"expected columns 'word' and 'vector'.*found 'token', 'embedding'"):
        read(tmp_path, path)


def test_parquet_with_non_string_words_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "ints.parquet"
    pq.write_table(pa.table({"word": [1, 2], "vector": [[1.0], [2.0]]}), path)
    with pytest.raises(FormatError, match=r"column 'word' has type int64: expected strings"):
        read(tmp_path, path)


def test_parquet_with_plain_list_column_of_float64_reads(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"word": ["a", "b"], "vector": [[1.5, 2.0], [3.0, 4.25]]}), path)
    m = read(tmp_path, path)
    assert m.words == ["a", "b"] and m.vectors.tolist() == [[1.5, 2.0], [3.0, 4.25]] and m.counts is None
    pq.write_table(pa.table({"word": ["a", "b"], "vector": [[1.5, 2.0], [3.0]]}), path)
    with pytest.raises(FormatError, match=r"row 2: 1 values, but the first row has 2"):
        read(tmp_path, path, name="ragged")


@pytest.mark.parametrize(
    "options",
    [{}, {"compression": "snappy"}, {"compression": "none", "data_page_version": "2.0"},
     {"compression": "none", "use_dictionary": True}, {"compression": "none", "data_page_size": 1000}],
)
def test_parquet_written_by_pyarrow_with_any_layout_reads_the_same(tmp_path, model, options):
    """Plain uncompressed pages are sliced directly; every other layout goes through pyarrow."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from embcli.formats.parquet import _fast_vector_column

    vectors = np.asarray(model.vectors)
    for nullable in (True, False):
        vtype = pa.list_(pa.field("element", pa.float32(), nullable=nullable), model.dim)
        table = pa.table({"word": WORDS, "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), type=vtype)})
        path = tmp_path / f"p{nullable}.parquet"
        pq.write_table(table, path, row_group_size=5, **options)
        fast = _fast_vector_column(pq.ParquetFile(path), model.dim)
        back = read(tmp_path, path, name=f"p{nullable}")
        assert back.words == WORDS
        assert same_bits(back.vectors, vectors), (options, nullable, fast)


def _fasttext_header(dim: int, words: int, buckets: int) -> bytes:
    args = struct.pack("<2i12id", 793712314, 12, dim, 5, 5, 5, 5, 1, 2, 2, buckets, 3, 6, 100, 1e-4)
    return args + struct.pack("<3i2q", words, words, 0, 1000, -1)


def test_fasttext_header_claiming_more_than_the_file_is_refused_before_allocating(tmp_path):
    import tracemalloc

    path = tmp_path / "lie.bin"
    path.write_bytes(_fasttext_header(300, 50_000_000, 2_000_000) + b"w\0" + bytes(9) * 3)
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match=r"claims 50,000,000 words and 2,000,000 buckets.*holds only"):
            read(tmp_path, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_truncated_fasttext_model(tmp_path):
    from gensim.test.utils import datapath

    data = Path(datapath("lee_fasttext_new.bin")).read_bytes()
    path = tmp_path / "cut.bin"
    path.write_bytes(data[:5000])
    with pytest.raises(FormatError, match=r"holds only|truncated"):
        read(tmp_path, path)


def test_unknown_bytes_name_the_formats(tmp_path):
    path = tmp_path / "mystery.dat"
    path.write_bytes(b"hello world\nthis is prose\n")
    with pytest.raises(FormatError, match="pass --format"):
        read(tmp_path, path)


def test_a_folder_with_pickled_arrays_is_refused(tmp_path, model):
    folder = tmp_path / "evil"
    folder.mkdir()
    for name in ("meta.json", "vocab.txt", "norms.npy"):
        (folder / name).write_bytes((model.path / name).read_bytes())
    np.save(folder / "vectors.npy", np.array([object()] * len(WORDS)), allow_pickle=True)
    from embcli.errors import ModelError

    with pytest.raises(ModelError, match="Python objects, which emb never loads"):
        read(tmp_path, folder, "folder")


def test_npy_header_is_fixed_size_and_readable(tmp_path):
    for shape in [(0, 3), (10**12, 300), (5,)]:
        assert len(npy_header(shape)) == 128
    path = tmp_path / "h.npy"
    path.write_bytes(npy_header((2, 2)) + np.arange(4, dtype="<f4").tobytes())
    assert np.load(path).tolist() == [[0, 1], [2, 3]]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"3 3\na 1 2\nb 3 4\nc 5 6\n", "line 2: 2 values, but the header says 3"),
        (b"2 2\na 1 x\nb 3 4\n", "line 2, column 3: 'x' is not a number"),
        (b"", "the file is empty: there are no vectors to read"),
    ],
)
def test_a_faulty_text_file_is_named_as_text_by_its_fault(tmp_path, content, message):
    """Detection does not take a text file with a fault for a binary one: the text reader says what is wrong."""
    from embcli.formats.detect import detect_format

    path = tmp_path / "v.txt"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=re.escape(message)):
        read(tmp_path, path, name="faulty")
    if content:
        assert detect_format(str(tmp_path / "v.vectors"), content) == "word2vec"
