"""Hostile vector files and corpora: every fault is one clear error, nothing is kept, nothing silently wrong.

The numbers in the section titles are the items of the hardening issue. The last tests run a few
thousand seeded mutants of every format (``fuzz_formats``) in capped child processes, and a few
through the real ``emb import``.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_clean_error, invoke
from embcli.corpus import Corpus
from embcli.errors import CorpusError, FormatError
from embcli.folder import ModelFolder, write_model
from embcli.formats.convert import export_model, read_into
from embcli.store import ModelStore

import fuzz_formats

EMB = [sys.executable, "-m", "embcli"]


def store_is_clean(home: Path) -> bool:
    """No model and no temporary folder left in the store."""
    models = home / "models"
    return not models.exists() or not any(models.iterdir())


def read(tmp_path, src, fmt=None, **opts) -> ModelFolder:
    folder = tmp_path / f"read-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    read_into(str(src), folder, fmt, **opts)
    return ModelFolder(folder)


def zstd(data: bytes) -> bytes:
    """zstd with the content checksum, as the ``zstd`` command writes it (and ``emb export``)."""
    import zstandard

    return zstandard.ZstdCompressor(write_checksum=True).compress(data)


COMPRESS = {"gz": lambda d: gzip.compress(d, mtime=0), "bz2": bz2.compress, "xz": lzma.compress, "zst": zstd}


# --------------------------------------------------------------------------- 3. non-finite values


def test_nonfinite_values_are_refused_naming_the_row(tmp_path, emb_home):
    path = tmp_path / "nf.txt"
    path.write_bytes(b"3 3\na 1 nan 2\nb 1e39 0 1\nc 1 2 3\n")
    result = invoke(["import", path])
    assert_clean_error(result, 1, "line 2", "'a'", "nan", "--nonfinite zero")
    assert store_is_clean(emb_home)
    assert "RuntimeWarning" not in result.stderr


def test_nonfinite_zero_replaces_them_and_says_how_many(tmp_path, emb_home):
    path = tmp_path / "nf.txt"
    path.write_bytes(b"3 3\na 1 nan 2\nb 1e39 0 1\nc 1 2 3\n")
    result = invoke(["import", path, "--nonfinite", "zero"])
    assert result.exit_code == 0, result.stderr
    assert "replaced 2 non-finite value(s) in 2 row(s) with 0" in result.stderr
    model = ModelFolder(ModelStore(emb_home).path("nf"))
    assert np.isfinite(model.vectors).all()
    assert model.vectors[0].tolist() == [1, 0, 2] and model.vectors[1].tolist() == [0, 0, 1]
    assert model.meta["import"]["zeroed_nonfinite_values"] == 2
    neighbours = invoke(["neighbors", "-m", "nf", "a", "-k", "2"])
    assert neighbours.exit_code == 0 and "nan" not in neighbours.stdout and neighbours.stdout.count("\n") == 3


@pytest.mark.parametrize("extra", [[], ["--nonfinite", "zero"]])
def test_a_vector_too_long_for_float32_is_refused_naming_the_row(tmp_path, emb_home, extra):
    """Every value is a float32 (3e38), but the length is not: it was an IndexError traceback."""
    path = tmp_path / "huge.txt"
    path.write_bytes(b"3 3\na 1 2 3\nb 3e38 3e38 inf\nc 1 2 3\n" if extra else b"3 2\na 1 2\nb 3e38 3e38\nc 1 2\n")
    result = invoke(["import", path, *extra])
    assert_clean_error(result, 1, "line 3", "'b'", "too long for float32", "scale the vectors down")
    assert "RuntimeWarning" not in result.stderr and store_is_clean(emb_home)
    import embcli

    with pytest.raises(FormatError, match="has the value inf" if extra else "too long for float32"):
        embcli.load(path)


@pytest.mark.parametrize("fmt", ["word2vec-binary", "parquet"])
def test_nonfinite_values_in_binary_and_parquet_files(tmp_path, fmt):
    folder = tmp_path / "src"
    folder.mkdir()
    vectors = np.ones((3, 4), dtype=np.float32)
    write_model(folder, ["a", "b", "c"], vectors, {})
    out = tmp_path / ("x.bin" if fmt == "word2vec-binary" else "x.parquet")
    export_model(ModelFolder(folder), str(out), fmt)
    data = bytearray(out.read_bytes())
    one = struct.pack("<f", 1.0)
    at = data.find(b"c " + one * 4) + 2 if fmt == "word2vec-binary" else data.rfind(one * 4)
    data[at : at + 4] = struct.pack("<f", float("inf"))
    out.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"row 3: word 'c' has the value inf"):
        read(tmp_path, out, fmt)


def test_nonfinite_ngram_rows_of_a_fasttext_model(tmp_path):
    data = bytearray(fuzz_formats.seed_bytes("fasttext-bin"))
    n, buckets, dim = len(fuzz_formats.WORDS), fuzz_formats.FT_BUCKETS, fuzz_formats.DIM
    output = 1 + 16 + n * dim * 4
    struct.pack_into("<f", data, len(data) - output - 4 * dim * (buckets - 2), float("nan"))  # n-gram row 3
    path = tmp_path / "nan.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"n-gram bucket 3: the value nan"):
        read(tmp_path, path)
    model = read(tmp_path, path, nonfinite="zero")
    assert np.isfinite(model.vectors).all() and np.isfinite(model.ngrams).all()


# --------------------------------------------------------------------------- 4. words holding white space


@pytest.fixture
def spaced_model(tmp_path, emb_home):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "spaced.parquet"
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(6, dtype=np.float32)), 2)
    pq.write_table(pa.table({"word": ["new york", "tab\there", "plain"], "vector": vectors}), path)
    assert invoke(["import", path]).exit_code == 0
    return "spaced"


@pytest.mark.parametrize("fmt", ["word2vec", "glove", "fasttext-vec", "word2vec-binary"])
def test_words_with_white_space_are_refused_by_text_exports(tmp_path, spaced_model, fmt):
    out = tmp_path / "out" / "vectors.out"
    result = invoke(["export", "-m", spaced_model, out, "--format", fmt])
    assert_clean_error(result, 1, "'new york' (row 1) (and 1 more) holds white space", "export to parquet")
    assert not out.parent.exists() or not any(out.parent.iterdir())  # no half file, no temporary file
    to_stdout = invoke(["export", "-m", spaced_model, "-", "--format", fmt])
    assert_clean_error(to_stdout, 1, "holds white space")


def test_words_with_white_space_survive_parquet_and_folders(tmp_path, spaced_model):
    out = tmp_path / "back.parquet"
    assert invoke(["export", "-m", spaced_model, out]).exit_code == 0
    assert read(tmp_path, out).words == ["new york", "tab\there", "plain"]


# --------------------------------------------------------------------------- 5. truncations that passed


def test_truncated_zstd_corpus_is_an_error(tmp_path):
    text = b"".join(b"line %d of a corpus that is long enough\n" % i for i in range(20000))
    packed = zstd(text)
    path = tmp_path / "corpus.txt.zst"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(CorpusError, match=r"corpus.txt.zst: the zstd data ends early, at byte [\d,]+: the file is truncated"):
        sum(1 for _ in Corpus([str(path)]).lines())
    result = invoke(["vocab", path])
    assert_clean_error(result, 1, "the zstd data ends early")
    whole = tmp_path / "whole.txt.zst"
    whole.write_bytes(packed + zstd(b"a second frame\n"))
    assert sum(1 for _ in Corpus([str(whole)]).lines()) == 20001


def _binary(rows: int, words=(b"a", b"b", b"c")) -> bytes:
    body = b"".join(w + b" " + np.full(4, i, dtype="<f4").tobytes() + b"\n" for i, w in enumerate(words))
    return f"{rows} 4\n".encode() + body


def test_word2vec_binary_header_claiming_fewer_rows_is_refused(tmp_path, emb_home):
    path = tmp_path / "lie.bin"
    path.write_bytes(_binary(2))
    result = invoke(["import", path, "--format", "word2vec-binary"])
    assert_clean_error(result, 1, "lie.bin: byte 42: more data after the header's 2 rows")
    assert store_is_clean(emb_home)
    path.write_bytes(_binary(3) + b"\n\n")  # trailing newlines are fine
    assert read(tmp_path, path, "word2vec-binary").words == ["a", "b", "c"]
    gz = tmp_path / "lie.bin.gz"
    gz.write_bytes(gzip.compress(_binary(2)))
    with pytest.raises(FormatError, match="more data after the header's 2 rows"):
        read(tmp_path, gz, "word2vec-binary")
    assert read(tmp_path, path, "word2vec-binary", limit=2).words == ["a", "b"]


@pytest.mark.parametrize("compressed", [False, True])
def test_fasttext_bin_cut_inside_its_output_matrix(tmp_path, emb_home, compressed):
    data = fuzz_formats.seed_bytes("fasttext-bin")[:-20]
    path = tmp_path / ("cut.bin.gz" if compressed else "cut.bin")
    path.write_bytes(gzip.compress(data) if compressed else data)
    result = invoke(["import", path, "--format", "fasttext-bin"])
    assert_clean_error(result, 1, "inside the output matrix", "truncated")
    assert store_is_clean(emb_home)


def test_fasttext_bin_whole_is_read_plain_and_compressed(tmp_path):
    data = fuzz_formats.seed_bytes("fasttext-bin")
    plain, packed = tmp_path / "ok.bin", tmp_path / "ok.bin.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    a, b = read(tmp_path, plain), read(tmp_path, packed)
    assert a.words == b.words == fuzz_formats.WORDS
    assert np.array_equal(a.vectors, b.vectors)


@pytest.mark.parametrize("flag, message", [(1, "a quantized model"), (7, "the quantization flag is 7, not 0 or 1")])
def test_fasttext_quantization_flag(tmp_path, flag, message):
    data = bytearray(fuzz_formats.seed_bytes("fasttext-bin"))
    at = 92 + sum(len(w.encode()) + 10 for w in fuzz_formats.WORDS)
    assert data[at] == 0
    data[at] = flag
    path = tmp_path / "q.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=message):
        read(tmp_path, path)


# --------------------------------------------------------------------------- 6. a closed pipe during export


def _big_model(emb_home: Path, rows: int = 20000, dim: int = 50) -> None:
    store = ModelStore(emb_home)
    vectors = np.random.default_rng(0).standard_normal((rows, dim)).astype(np.float32)
    with store.writer("big") as tmp:
        write_model(tmp, [f"w{i}" for i in range(rows)], vectors, {})


@pytest.mark.parametrize("fmt", ["word2vec-binary", "word2vec", "glove"])
def test_export_to_a_pipe_closed_early_is_an_error(emb_home, fmt):
    _big_model(emb_home)
    proc = subprocess.Popen(EMB + ["export", "-m", "big", "-", "--format", fmt], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, EMB_HOME=str(emb_home)))
    got = proc.stdout.read(100_000)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 1
    assert len(got) == 100_000
    assert err.startswith("emb: error: stdout: the pipe was closed by its reader before the export ended")
    assert err.count("\n") == 1 and "of 20,000 rows" in err and "exported" not in err


@pytest.mark.parametrize("cmd", ["phrases", "tokenize"])
def test_text_written_in_one_large_block_to_a_pipe_closed_early_is_an_error(emb_home, tmp_path, web_lines, cmd):
    """emb phrases writes megabytes at once: the kernel took the first 64 KiB, the reader left, and
    CPython's stdout took the short write as done, so the command exited 0 with its output cut."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(web_lines) + "\n", encoding="utf-8")
    run = subprocess.run(["bash", "-c", 'set -o pipefail; "$@" | head -c 100 > /dev/null', "bash", *EMB, cmd, str(corpus)],
                         env=dict(os.environ, EMB_HOME=str(emb_home)), capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and "phrases found" not in run.stderr


def test_queries_still_leave_quietly_when_the_pipe_closes(emb_home):
    _big_model(emb_home, rows=2000, dim=8)
    proc = subprocess.Popen(EMB + ["neighbors", "-m", "big", "-k", "50"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, EMB_HOME=str(emb_home)))
    proc.stdin.write(("\n".join(f"w{i}" for i in range(2000)) + "\n").encode())
    proc.stdin.close()
    proc.stdout.read(1000)
    proc.stdout.close()
    proc.wait(60)
    assert proc.stderr.read() == b""


# --------------------------------------------------------------------------- 8. damaged compressed input


def _text_vectors(rows: int = 3000) -> bytes:
    lines = [f"w{i} " + " ".join(f"{(i * 7 + j) % 13 / 7:.4f}" for j in range(8)) for i in range(rows)]
    return (f"{rows} 8\n" + "\n".join(lines) + "\n").encode()


def _damage(packed: bytes, how: str) -> bytes:
    if how == "truncated":
        return packed[: len(packed) * 2 // 3]
    out = bytearray(packed)
    for at in range(len(out) // 3, len(out) // 3 + 64, 8):
        out[at] ^= 0x5A
    return bytes(out)


@pytest.mark.parametrize("kind", sorted(COMPRESS))
@pytest.mark.parametrize("how", ["truncated", "corrupt"])
def test_damaged_compressed_vector_files_are_one_error(tmp_path, emb_home, kind, how):
    path = tmp_path / f"vectors.txt.{kind}"
    path.write_bytes(_damage(COMPRESS[kind](_text_vectors()), how))
    result = invoke(["import", path, "--format", "word2vec"])
    expected = "ends early" if how == "truncated" else "data near byte"
    assert_clean_error(result, 1, f"vectors.txt.{kind}:", expected)
    assert "Aborted" not in result.stderr
    assert store_is_clean(emb_home)


@pytest.mark.parametrize("kind", sorted(COMPRESS))
@pytest.mark.parametrize("how", ["truncated", "corrupt"])
def test_damaged_compressed_corpora_are_one_error(tmp_path, kind, how):
    text = b"".join(b"verse %d: in the beginning was the word\n" % i for i in range(20000))
    path = tmp_path / f"corpus.{kind}"
    path.write_bytes(_damage(COMPRESS[kind](text), how))
    with pytest.raises(CorpusError, match=rf"corpus.{kind}: (the \w+ data ends early|damaged \w+ data near byte)"):
        sum(1 for _ in Corpus([str(path)]).lines())


def test_truncated_gzip_vector_file_through_the_command_line(tmp_path, emb_home):
    path = tmp_path / "vectors.txt.gz"
    path.write_bytes(gzip.compress(_text_vectors())[:-40])
    result = subprocess.run(EMB + ["import", str(path)], capture_output=True, text=True,
                            env=dict(os.environ, EMB_HOME=str(emb_home)))
    assert result.returncode == 1
    assert result.stderr.startswith("emb: error: ") and "ends early" in result.stderr
    assert "Aborted" not in result.stderr and "Traceback" not in result.stderr


# --------------------------------------------------------------------------- 9. Parquet


def _parquet_cases():
    import pyarrow as pa

    f32 = pa.float32()
    return {
        "null vector": ({"word": ["a", "b"], "vector": pa.array([[1.0, 2.0], None], pa.list_(f32, 2))},
                        "row 2: the vector is null"),
        "null first vector": ({"word": ["a", "b"], "vector": pa.array([None, [1.0, 2.0]], pa.list_(f32))},
                              "row 1: the vector is null"),
        "null value": ({"word": ["a", "b"], "vector": pa.array([[1.0, 2.0], [None, 2.0]], pa.list_(f32, 2))},
                       "row 2: the vector holds a null value"),
        "string count": ({"word": ["a"], "count": ["7"], "vector": pa.array([[1.0, 2.0]], pa.list_(f32, 2))},
                         "column 'count' has type string: expected integers"),
        "nested lists": ({"word": ["a"], "vector": pa.array([[[1.0], [2.0]]], pa.list_(pa.list_(f32)))},
                         "column 'vector' has type list<element: list<element: float>>"),
        "strings as values": ({"word": ["a"], "vector": pa.array([["1", "2"]], pa.list_(pa.string()))},
                              "column 'vector' has type list<element: string>"),
    }


@pytest.mark.parametrize("case", list(_parquet_cases()))
def test_parquet_content_that_cannot_be_a_model(tmp_path, emb_home, case):
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns, message = _parquet_cases()[case]
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table(columns), path)
    result = invoke(["import", path])
    assert_clean_error(result, 1, "bad.parquet: ", message)
    assert store_is_clean(emb_home)


@pytest.mark.parametrize("compression", ["snappy", "none"])
def test_damaged_parquet_pages_are_one_error_naming_the_row_group(tmp_path, compression):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, dim = 300, 16
    vectors = np.random.default_rng(1).standard_normal((rows, dim)).astype(np.float32)
    table = pa.table({"word": [f"w{i}" for i in range(rows)],
                      "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim)})
    clean = tmp_path / "clean.parquet"
    pq.write_table(table, clean, compression=compression, row_group_size=100, use_dictionary=False)
    meta = pq.ParquetFile(clean).metadata
    chunk = meta.row_group(1).column(1)
    data = bytearray(clean.read_bytes())
    # Damage the second row group's vector pages: their header, then their body.
    for at in range(chunk.data_page_offset, chunk.data_page_offset + 24, 3):
        data[at] ^= 0xA5
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(data))
    with pytest.raises(FormatError) as err:
        read(tmp_path, bad)
    text = str(err.value)
    assert text.startswith(f"{bad}: ") and "\n" not in text
    assert "row group 2" in text or "rows 101" in text, text


def test_parquet_cut_short_or_not_parquet_at_all(tmp_path):
    path = tmp_path / "cut.parquet"
    path.write_bytes(fuzz_formats.seed_bytes("parquet", 1)[:-30])
    with pytest.raises(FormatError, match=r"cut.parquet: not a readable Parquet file \(") as err:
        read(tmp_path, path)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- 12. fastText sizes before allocating


def _fasttext_header(dim=300, words=2, buckets=2_000_000, minn=3, maxn=6, prune=-1) -> bytes:
    args = struct.pack("<2i12id", 793712314, 12, dim, 5, 5, 5, 5, 1, 2, 2, buckets, minn, maxn, 100, 1e-4)
    return args + struct.pack("<3i2q", words, words, 0, 1000, prune)


def test_fasttext_maxn_out_of_range_is_refused(tmp_path):
    path = tmp_path / "maxn.bin"
    path.write_bytes(_fasttext_header(dim=5, buckets=10, maxn=10**6) + bytes(4000))
    with pytest.raises(FormatError, match=r"implausible n-gram lengths minn 3, maxn 1000000: .* within 1..100"):
        read(tmp_path, path, "fasttext-bin")


@pytest.mark.parametrize("compressed", [False, True])
def test_fasttext_huge_pruned_index_is_refused_before_allocating(tmp_path, compressed):
    import tracemalloc

    data = _fasttext_header(dim=5, buckets=10, prune=10**12) + b"a\0" + struct.pack("<qb", 5, 0) * 1 + bytes(4000)
    path = tmp_path / ("prune.bin.gz" if compressed else "prune.bin")
    path.write_bytes(gzip.compress(data) if compressed else data)
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match="pruned index of 1,000,000,000,000 entries|inside the pruned index"):
            read(tmp_path, path, "fasttext-bin")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000


def test_text_without_line_breaks_is_refused_before_it_fills_memory(tmp_path, monkeypatch):
    from embcli.formats import word2vec

    monkeypatch.setattr(word2vec, "MAX_LINE", 1000)
    monkeypatch.setattr(word2vec, "CHUNK", 256)
    path = tmp_path / "long.txt"
    path.write_bytes(b"the 1 2 3\n" + b"7 " * 5000)
    with pytest.raises(FormatError, match=r"line 2: more than 1,000 bytes without a line break"):
        read(tmp_path, path, "glove")
    path.write_bytes(b"1 " * 5000)
    with pytest.raises(FormatError, match=r"the first line is longer than 1,000 bytes"):
        read(tmp_path, path, "word2vec")


def test_fasttext_dictionary_word_without_end_is_refused(tmp_path, monkeypatch):
    from embcli.formats import fasttext

    monkeypatch.setattr(fasttext, "MAX_WORD_BYTES", 5000)
    data = _fasttext_header(dim=5, buckets=0, words=1) + b"x" * 3_000_000
    path = tmp_path / "noend.bin.gz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(FormatError, match=r"dictionary entry 1 of 1 has no end within 5,000 bytes"):
        read(tmp_path, path, "fasttext-bin")


# --------------------------------------------------------------------------- 19. byte order marks, pickles


BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("compressed", [False, True])
def test_a_leading_byte_order_mark_is_dropped(tmp_path, header, compressed):
    text = (b"2 3\n" if header else b"") + b"the 1 2 3\nof 4 5 6\n"
    path = tmp_path / ("bom.txt.gz" if compressed else "bom.txt")
    path.write_bytes(gzip.compress(BOM + text) if compressed else BOM + text)
    folder = tmp_path / "out"
    folder.mkdir()
    fmt, _ = read_into(str(path), folder)
    assert fmt == ("word2vec" if header else "glove")
    assert ModelFolder(folder).words == ["the", "of"]


def test_a_byte_order_mark_on_stdin(tmp_path, emb_home):
    result = invoke(["import", "-", "--name", "bom"], input=BOM + b"the 1 2 3\nof 4 5 6\n")
    assert result.exit_code == 0, result.stderr
    assert ModelFolder(ModelStore(emb_home).path("bom")).words == ["the", "of"]


@pytest.mark.parametrize("name", ["vectors.kv", "word2vec.model"])
@pytest.mark.parametrize("fmt", [None, "word2vec"])
def test_gensim_pickles_are_never_loaded_and_the_way_out_is_named(tmp_path, emb_home, name, fmt):
    import pickle

    class Trap:
        def __reduce__(self):
            return (open, (str(tmp_path / "unpickled"), "w"))

    path = tmp_path / name
    path.write_bytes(pickle.dumps({"vectors": Trap()}, protocol=4 if fmt else 2))
    result = invoke(["import", path] + (["--format", fmt] if fmt else []))
    assert_clean_error(result, 1, "a Python pickle", "save_word2vec_format")
    assert not (tmp_path / "unpickled").exists()
    assert store_is_clean(emb_home)


def test_real_gensim_save_files_are_named(tmp_path):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(4)
    kv.add_vectors(["a", "b"], np.ones((2, 4), dtype=np.float32))
    kv.save(str(tmp_path / "g.kv"))
    with pytest.raises(FormatError, match="gensim's own .model/.kv save format"):
        read(tmp_path, tmp_path / "g.kv")


# --------------------------------------------------------------------------- the fuzz test


PER_FORMAT = 150
PER_GZIP = 100
PER_CORPUS = 40


def test_seeded_mutants_of_every_format_fail_cleanly():
    """Bit flips, cuts, inserted bytes and lying headers: exit 0 or a one-line error, nothing else."""
    cases = (
        [(a, i) for a in fuzz_formats.VECTOR_AREAS for i in range(PER_FORMAT)]
        + [(f"{a}.gz", i) for a in fuzz_formats.VECTOR_AREAS for i in range(PER_GZIP)]
        + [(a, i) for a in fuzz_formats.AREAS if a.startswith("corpus") for i in range(PER_CORPUS)]
    )
    results = fuzz_formats.run_parallel(cases, jobs=2)
    assert len(results) == len(cases)
    bad = [r for r in results if r["outcome"] not in ("ok", "error") or r.get("lost") or r.get("nonfinite")]
    assert not bad, fuzz_formats.format_table(fuzz_formats.tally(bad)) + "\n" + "\n".join(map(str, bad[:20]))
    table = fuzz_formats.tally(results)
    # The mutants reach the readers: each area has both accepted files and clean errors.
    for area, counts in table.items():
        assert counts["error"] > 0 and counts["ok"] > 0, (area, counts)


def _capped():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (fuzz_formats.MEMORY_CAP, fuzz_formats.MEMORY_CAP))


REAL_RUNS = [("word2vec", 3), ("word2vec-binary.gz", 5), ("glove", 8), ("fasttext-vec.gz", 3),
             ("fasttext-bin", 21), ("fasttext-bin.gz", 5), ("parquet", 3), ("parquet.gz", 8)]


def test_mutants_through_the_real_command(tmp_path):
    """Mutants of each format through ``emb import`` in capped processes: exit 0 or 1, one line, no signal."""
    from concurrent.futures import ThreadPoolExecutor

    def run(case):
        area, index = case
        data, name, kind = fuzz_formats.mutant(area, index)
        path = tmp_path / f"{area}-{index}" / name
        path.parent.mkdir()
        path.write_bytes(data)
        home = path.parent / "home"
        result = subprocess.run(EMB + ["import", str(path)], capture_output=True, text=True, timeout=120,
                                env=dict(fuzz_formats._child_env(), EMB_HOME=str(home)), preexec_fn=_capped)
        return case, kind, home, result

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run, REAL_RUNS))
    for case, kind, home, result in runs:
        where = (case, kind, result.returncode, result.stderr[-500:])
        assert result.returncode in (0, 1), where
        assert "Traceback" not in result.stderr and "Aborted" not in result.stderr, where
        if result.returncode == 1:
            assert result.stderr.startswith("emb: error: ") and result.stderr.count("\n") == 1, where
            assert store_is_clean(home), where
    assert {r.returncode for _, _, _, r in runs} == {0, 1}


@pytest.fixture
def binary_files(tmp_path):
    """A NumPy array and a Parquet file, each written by its own library."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    np.save(tmp_path / "vecs.npy", np.ones((3, 2), dtype=np.float32))
    pq.write_table(pa.table({"word": ["a", "b"], "vector": pa.array([[1, 0], [0, 1]], pa.list_(pa.float32(), 2))}),
                   tmp_path / "v.parquet")
    return tmp_path


@pytest.mark.parametrize("name, as_name, fmt, fragment", [
    ("vecs.npy", "vecs.npy", None, "a NumPy array (.npy), which holds vectors but not their words"),
    ("vecs.npy", "vecs.npy", "word2vec-binary", "a NumPy array (.npy)"),
    ("v.parquet", "v.vec", None, "first bytes are those of a parquet file, not fasttext-vec: pass --format parquet"),
    ("v.parquet", "v.txt", "glove", "first bytes are those of a parquet file, not glove: pass --format parquet"),
])
def test_a_binary_file_read_as_another_format_is_named_not_quoted(binary_files, emb_home, name, as_name, fmt, fragment):
    """Such files were quoted back as garbage bytes ('expected a header ROWS DIM, found ...'), and a
    .npy file was offered formats that cannot read anything (projector)."""
    path = binary_files / as_name
    if as_name != name:
        (binary_files / name).rename(path)
    result = invoke(["import", path] + (["--format", fmt] if fmt else []))
    assert_clean_error(result, 1, fragment)
    assert "\\x" not in result.stderr and "projector" not in result.stderr
    assert store_is_clean(emb_home)


def test_a_fasttext_bin_read_as_text_is_named(tmp_path, emb_home):
    fasttext = pytest.importorskip("fasttext")
    corpus = tmp_path / "c.txt"
    corpus.write_text(" ".join(f"w{i % 50}" for i in range(3000)) + "\n")
    code = ("import fasttext, sys; fasttext.train_unsupervised(sys.argv[1], dim=4, epoch=1, minCount=1, bucket=1000,"
            " thread=1, verbose=0, lr=0.01).save_model(sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(corpus), str(tmp_path / "ft.vec")], check=True, timeout=120)
    del fasttext
    result = invoke(["import", tmp_path / "ft.vec"])
    assert_clean_error(result, 1, "first bytes are those of a fasttext-bin file, not fasttext-vec",
                       "pass --format fasttext-bin")
    assert invoke(["import", tmp_path / "ft.vec", "--format", "fasttext-bin", "--name", "ft"]).exit_code == 0
