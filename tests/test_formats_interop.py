"""Interoperability on real files written by other tools (gensim's test data), and ours read by others."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.models.fasttext import load_facebook_vectors
from gensim.test.utils import datapath

from embcli.errors import FormatError
from embcli.formats.convert import export_model, read_into
from embcli.folder import ModelFolder
from embcli.subwords import oov_vector

OOV_WORDS = ["zzqxw", "computerization", "héllo", "東京", "a", "kangaroos", "australian-made"]


def load(tmp_path, path, fmt=None, **opts) -> tuple[ModelFolder, str]:
    folder = tmp_path / "m"
    folder.mkdir()
    found, _ = read_into(str(path), folder, fmt, **opts)
    return ModelFolder(folder), found


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("lee_fasttext.vec", "fasttext-vec"),
        ("crime-and-punishment.vec", "fasttext-vec"),
        ("word2vec_pre_kv_c", "word2vec"),
        ("EN.1-10.cbow1_wind5_hs0_neg10_size300_smpl1e-05.txt", "word2vec"),
        ("high_precision.kv.txt", "word2vec"),
        ("euclidean_vectors.bin", "word2vec-binary"),
        ("poincare_vectors.bin", "word2vec-binary"),
        ("high_precision.kv.bin", "word2vec-binary"),
    ],
)
def test_word2vec_files_match_gensim(tmp_path, name, fmt):
    model, found = load(tmp_path, datapath(name))
    assert found == fmt
    kv = KeyedVectors.load_word2vec_format(datapath(name), binary=fmt.endswith("binary"))
    assert model.words == kv.index_to_key
    assert np.array_equal(np.asarray(model.vectors), kv.vectors)


def test_glove_file_matches_gensim(tmp_path):
    model, found = load(tmp_path, datapath("test_glove.txt"))
    assert found == "glove"
    kv = KeyedVectors.load_word2vec_format(datapath("test_glove.txt"), no_header=True)
    assert model.words == kv.index_to_key
    assert np.array_equal(np.asarray(model.vectors), kv.vectors)


@pytest.mark.parametrize(
    "name", ["lee_fasttext.bin", "lee_fasttext_new.bin", "crime-and-punishment.bin", "non_ascii_fasttext.bin", "toy-model.bin"]
)
def test_fasttext_bin_matches_gensim_in_and_out_of_vocabulary(tmp_path, name):
    model, found = load(tmp_path, datapath(name))
    assert found == "fasttext-bin"
    kv = load_facebook_vectors(datapath(name))
    assert model.words == kv.index_to_key
    # Every word as gensim composes it, but fastText's end of line </s>: its own row, as fastText's
    # get_word_vector gives it (fastText's dictionary gives it no n-grams; gensim averages them in).
    expected = np.array(kv.vectors)
    if "</s>" in kv.key_to_index:
        eos = kv.key_to_index["</s>"]
        expected[eos] = kv.vectors_vocab[eos]
        assert not np.allclose(kv.vectors[eos], kv.vectors_vocab[eos])
    assert np.abs(np.asarray(model.vectors) - expected).max() < 1e-6
    assert np.allclose(model.norms, np.linalg.norm(expected, axis=1), atol=1e-5)
    assert model.meta["fasttext"]["eos_own_row"] is True
    ft = model.meta["fasttext"]
    assert (ft["minn"], ft["maxn"], ft["buckets"]) == (kv.min_n, kv.max_n, kv.bucket)
    assert np.array_equal(np.asarray(model.ngrams), kv.vectors_ngrams)
    for word in OOV_WORDS:
        if word in kv.key_to_index:
            continue
        ours = oov_vector(word, model.ngrams, ft["minn"], ft["maxn"])
        assert np.abs(ours - kv[word]).max() < 1e-6, word
    assert model.counts is not None and model.counts[0] >= model.counts[-1]


def test_fasttext_bin_with_non_utf8_words_needs_lossy(tmp_path):
    with pytest.raises(FormatError, match=r"word 2: word b'kter\\xec' is not valid UTF-8: pass --lossy"):
        load(tmp_path, datapath("cp852_fasttext.bin"))
    (tmp_path / "lossy").mkdir()
    model, _ = load(tmp_path / "lossy", datapath("cp852_fasttext.bin"), lossy=True)
    done = model.meta["import"]
    assert done["replaced_bytes"] > 0
    # Words that differ only in their bad bytes become one word: the first is kept, the rest counted.
    kv = load_facebook_vectors(datapath("cp852_fasttext.bin"))
    assert model.vocab_size + done["skipped_duplicates"] == len(kv)
    assert "kter\ufffd" in model.words


@pytest.fixture
def lee(tmp_path) -> Model:
    model, _ = load(tmp_path, datapath("lee_fasttext.bin"))
    return model


@pytest.mark.parametrize("fmt, binary", [("word2vec", False), ("word2vec-binary", True)])
def test_files_we_write_load_in_gensim(tmp_path, lee, fmt, binary):
    path = tmp_path / ("out.bin" if binary else "out.txt")
    export_model(lee, str(path), fmt)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert kv.index_to_key == lee.words
    assert np.array_equal(kv.vectors, np.asarray(lee.vectors))


def test_parquet_reads_in_pyarrow_and_duckdb(tmp_path, lee):
    import json

    import duckdb
    import pyarrow.parquet as pq

    path = tmp_path / "lee.parquet"
    export_model(lee, str(path))
    table = pq.read_table(path)
    assert table.column_names == ["word", "count", "vector"]
    vector = table.schema.field("vector").type
    assert vector.list_size == 10 and str(vector.value_type) == "float"
    assert table.column("word").to_pylist() == lee.words
    assert table.column("count").to_pylist() == lee.counts.tolist()
    assert np.array_equal(np.stack(table.column("vector").to_numpy(zero_copy_only=False)), np.asarray(lee.vectors))
    meta = json.loads(table.schema.metadata[b"emb"])
    assert meta["algorithm"] == "fasttext" and meta["dim"] == 10
    assert pq.ParquetFile(path).metadata.num_row_groups >= 1
    con = duckdb.connect()
    rows = con.execute(f"SELECT word, count, vector FROM read_parquet('{path}') ORDER BY count DESC LIMIT 3").fetchall()
    assert [r[0] for r in rows] == lee.words[:3]
    assert np.array_equal(np.array(rows[0][2], dtype=np.float32), np.asarray(lee.vectors[0]))
    n, = con.execute(f"SELECT count(*) FROM '{path}'").fetchone()
    assert n == lee.vocab_size


def test_parquet_without_counts_has_a_null_count_column(tmp_path):
    import duckdb
    import pyarrow.parquet as pq

    model, _ = load(tmp_path, datapath("test_glove.txt"))
    assert model.counts is None
    path = tmp_path / "glove.parquet"
    export_model(model, str(path), limit=50)
    table = pq.read_table(path)
    assert table.num_rows == 50 and table.column("count").null_count == 50
    assert table.column("word").to_pylist() == model.words[:50]
    rows = duckdb.connect().execute(f"SELECT count(*), count(count), max(len(vector)) FROM '{path}'").fetchone()
    assert rows == (50, 0, 50)
    pq_file = pq.ParquetFile(path)
    assert pq_file.metadata.num_row_groups == 1 and pq_file.metadata.row_group(0).num_rows == 50
