"""The Python API for lines of text: Model.embed, Model.search and embcli.topk."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from query_models import install, small_corpus_file, w2v_dir  # noqa: F401

import embcli
from embcli.docsearch import DocHit, open_docs
from embcli.folder import ModelFolder
from embcli.sentences import Embedder


def test_model_embed_is_the_library_pooling(w2v_dir, web_lines):
    model = embcli.load(str(w2v_dir))
    lines = web_lines[:50]
    for pooling in ("mean", "sif"):
        got = model.embed(lines, pooling=pooling)
        assert got.shape == (50, model.dim) and got.dtype == np.float32
        np.testing.assert_array_equal(got, Embedder(ModelFolder(w2v_dir), pooling).embed(lines).vectors)
    with pytest.raises(embcli.UsageError, match="list of lines"):
        model.embed("one line")
    with pytest.raises(embcli.ModelError, match="--pooling mean or sif"):
        model.embed(lines, pooling="fasttext")


def test_model_search_over_a_list_a_file_and_an_opened_collection(w2v_dir, web_lines, tmp_path):
    model = embcli.load(str(w2v_dir))
    docs = web_lines[:300]
    hits = model.search(web_lines[20], docs, k=3)
    assert isinstance(hits[0], DocHit) and hits[0].line == 21 and hits[0].text == web_lines[20]
    assert hits[0].to_dict()["line"] == 21
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(docs) + "\n", encoding="utf-8")
    many = model.search([web_lines[20], web_lines[30]], path, k=3)
    assert [h[0].line for h in many] == [21, 31]
    assert [h.line for h in many[0]] == [h.line for h in hits]
    np.testing.assert_allclose([h.score for h in many[0]], [h.score for h in hits], atol=1e-6)
    opened = open_docs(model.folder, str(path))
    (again,) = model.search([web_lines[30]], opened, k=3)
    assert [h.line for h in again] == [h.line for h in many[1]]
    with pytest.raises(embcli.UnknownWordError, match="no word in the vocabulary"):  # as neighbors raises it
        model.search("qqqzz xxyyz", docs)


def test_embcli_search_ranks_documents(w2v_dir, web_lines):
    install(w2v_dir, "web-small")
    hits = embcli.search(web_lines[5], web_lines[:100], k=2)
    assert hits[0].line == 6


def test_embed_lines_streams_blocks_that_match_embed(w2v_dir, web_lines):
    model = embcli.load(str(w2v_dir))
    lines = web_lines[:40] + ["qqqzz xxyyz"] + web_lines[40:60]
    blocks = list(model.embed_lines(iter(lines), batch=7))
    assert [len(b) for b in blocks] == [7] * 8 + [5]
    assert np.concatenate([b.numbers for b in blocks]).tolist() == list(range(1, 62))
    assert [line for b in blocks for line in b.lines] == lines
    got = np.vstack([b.vectors for b in blocks])
    np.testing.assert_allclose(got, model.embed(lines), atol=1e-6)
    empty = np.concatenate([b.empty for b in blocks])
    assert np.flatnonzero(empty).tolist() == [40] and not got[40].any()
    assert all(b.component is None for b in blocks)
    # sif: the component of the first sif_sample lines, given with every block and removed from it.
    sif = list(model.embed_lines(lines, pooling="sif", batch=10, sif_sample=1000))
    np.testing.assert_allclose(np.vstack([b.vectors for b in sif]), model.embed(lines, pooling="sif"), atol=1e-5)
    component = sif[0].component
    assert component.shape == (model.dim,) and abs(float(np.linalg.norm(component)) - 1) < 1e-5
    assert np.allclose(np.vstack([b.vectors for b in sif]) @ component, 0, atol=1e-4)
    with pytest.raises(embcli.ModelError, match="--pooling mean or sif"):
        model.embed_lines(lines, pooling="fasttext")  # raised at once, not at the first block
    with pytest.raises(embcli.UsageError, match="not one string"):
        model.embed_lines("one line")


def test_embed_file_writes_parquet_and_text_through_the_vector_writers(w2v_dir, web_lines, tmp_path):
    import io

    import pyarrow.parquet as pq

    model = embcli.load(str(w2v_dir))
    lines = web_lines[:30] + ["qqqzz", ""] + web_lines[30:40]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "v.parquet"
    done = model.embed_file(src, out, format="parquet", empty="drop")
    assert (done.lines, done.empty, done.written, done.format) == (42, 2, 40, "parquet")
    table = pq.read_table(out)
    assert table.column("line").to_pylist() == list(range(1, 31)) + list(range(33, 43))
    assert table.column("text").to_pylist() == web_lines[:40]
    vectors = np.asarray(table.column("vector").to_pylist(), dtype=np.float32)
    np.testing.assert_allclose(vectors, model.embed(web_lines[:40]), atol=1e-6)
    # The Parquet is a collection search reuses.
    docs = model.open_docs(out)
    assert len(docs) == 40 and docs.meta["model"] == model.name
    first, bad = model.query_docs([web_lines[3], "qqqzz"], docs, k=2)
    assert first.hits[0].line == 4 and first.hits[0].text == web_lines[3] and first.error is None
    assert bad.hits == [] and "no word in the vocabulary" in str(bad.error)
    # TSV into a stream: zero vectors kept for the empty lines.
    stream = io.BytesIO()
    done = embcli.embed_file([src], stream, model=model, format="tsv")
    rows = stream.getvalue().decode("utf-8").splitlines()
    assert rows[0].split("\t") == ["line", "text", "vector"] and len(rows) == 43 and done.written == 42
    number, text, vector = rows[32].split("\t")
    assert number == "32" and text == "" and {float(x) for x in vector.split()} == {0.0}
    with pytest.raises(embcli.UsageError, match="unknown output format"):
        model.embed_file(src, tmp_path / "x.out", format="csv")
    assert not (tmp_path / "x.out").exists()


def test_embed_lines_takes_a_file_object_as_it_is(tmp_path, w2v_dir):
    """A file object gives lines with their ends: each is one line, embedded as without it."""
    import io

    import embcli

    model = embcli.load(w2v_dir)
    path = tmp_path / "s.txt"
    path.write_bytes(b"the king\r\nthe lord god\n")
    with open(path, encoding="utf-8", newline="") as fh:
        from_file = list(model.embed_lines(fh))
    plain = list(model.embed_lines(["the king", "the lord god"]))
    assert from_file[0].lines == ["the king", "the lord god"]
    np.testing.assert_array_equal(from_file[0].vectors, plain[0].vectors)
    assert list(model.embed_lines(io.StringIO("the king\n")))[0].lines == ["the king"]
