"""Document search (embcli.docsearch) and the line-vector writers (embcli.vector_writers)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from query_models import small_corpus_file, w2v_dir, write_toy_model  # noqa: F401

from embcli import docsearch
from embcli.errors import FormatError, UnknownWordError, UsageError
from embcli.folder import ModelFolder, row_norms
from embcli.topk import topk
from embcli.sentences import Embedder
from embcli.vector_writers import VectorWriter


@pytest.fixture(scope="module")
def w2v(w2v_dir):
    return ModelFolder(w2v_dir)


def write_vectors(path, fmt, numbers, lines, vectors, meta=None):
    with open(path, "wb") as fh:
        writer = VectorWriter(fmt, fh, vectors.shape[1], meta)
        writer.write(numbers, lines, vectors)
        writer.close()
    return path


def test_a_verse_finds_itself_first_and_the_ranking_is_the_plain_cosine(w2v, web_file, web_lines):
    docs = docsearch.open_docs(w2v, str(web_file))
    queries = [web_lines[10], web_lines[2000]]
    results = docsearch.search_docs(w2v, docs, queries, k=5)
    assert [r.hits[0].line for r in results] == [11, 2001]
    assert results[0].hits[0].text == web_lines[10] and results[0].hits[0].score == pytest.approx(1, abs=1e-5)
    vectors = Embedder(w2v, "mean").embed(web_lines).vectors
    q = Embedder(w2v, "mean").embed(queries).vectors
    cos = (q @ vectors.T) / np.linalg.norm(q, axis=1)[:, None] / np.maximum(np.linalg.norm(vectors, axis=1), 1e-30)
    for res, row in zip(results, cos):
        best = np.argsort(-row, kind="stable")[:5]
        assert [h.line - 1 for h in res.hits] == best.tolist()
        np.testing.assert_allclose([h.score for h in res.hits], row[best], atol=1e-5)


def test_a_query_without_known_words_fails_alone(w2v, web_file):
    docs = docsearch.open_docs(w2v, str(web_file))
    bad, good = docsearch.search_docs(w2v, docs, ["qqqzz xxyyz", "the lord said"], k=3)
    assert isinstance(bad.error, UnknownWordError) and "no word in the vocabulary" in str(bad.error)
    assert good.error is None and len(good.hits) == 3


def test_parquet_collection_is_reused_with_its_pooling_and_component(tmp_path, w2v, web_lines):
    lines = web_lines[:800]
    embedder = Embedder(w2v, "sif")
    vectors = embedder.embed(lines).vectors
    meta = {"pooling": "sif", "sif_component": embedder.component.tolist()}
    path = write_vectors(tmp_path / "d.parquet", "parquet", np.arange(1, 801), lines, vectors, meta)
    docs = docsearch.open_docs(w2v, str(path))
    assert docs.pooling == "sif" and docs.index_folder is None  # small: no sidecar
    np.testing.assert_array_equal(docs.vectors, vectors)
    np.testing.assert_allclose(docs.component, embedder.component)
    (res,) = docsearch.search_docs(w2v, docs, [lines[42]], k=3)
    assert res.hits[0].line == 43 and res.hits[0].text == lines[42]
    from_text = docsearch.embed_docs(w2v, [str(write_text(tmp_path / "d.txt", lines))], "sif")
    (same,) = docsearch.search_docs(w2v, from_text, [lines[42]], k=3)
    assert [h.line for h in same.hits] == [h.line for h in res.hits]
    with pytest.raises(UsageError, match="embedded with --pooling sif"):
        docsearch.open_docs(w2v, str(path), pooling="mean")


def write_text(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_parquet_without_vectors_or_of_another_dimension_is_refused(tmp_path, w2v):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"line": [1], "text": ["a"]}), tmp_path / "novec.parquet")
    with pytest.raises(FormatError, match="no 'vector' column"):
        docsearch.open_docs(w2v, str(tmp_path / "novec.parquet"))
    wrong = np.ones((3, w2v.dim + 1), dtype=np.float32)
    write_vectors(tmp_path / "wide.parquet", "parquet", np.arange(1, 4), ["a", "b", "c"], wrong)
    with pytest.raises(UsageError, match=f"dimension {w2v.dim + 1}"):
        docsearch.open_docs(w2v, str(tmp_path / "wide.parquet"))


def test_large_collections_take_the_int8_prefilter_with_the_same_answers(tmp_path, monkeypatch):
    from embcli import prefilter

    rng = np.random.default_rng(3)
    n, dim = prefilter.MIN_ROWS + 500, 16
    centers = rng.standard_normal((50, dim))
    vectors = (centers[rng.integers(0, 50, n)] + 0.3 * rng.standard_normal((n, dim))).astype(np.float32)
    words = [f"w{i}" for i in range(100)]
    model = ModelFolder(write_toy_model(tmp_path / "toy", words, rng.standard_normal((100, dim))))
    texts = [f"doc {i} é{'' if i % 7 else ' ✓'}" for i in range(n)]
    numbers = np.arange(1, 2 * n + 1, 2)  # as after --empty drop: not 1..N
    # Several row groups, so that the sidecar's texts are stitched across them.
    import embcli.vector_writers as vw

    monkeypatch.setattr(vw, "ROW_GROUP", 5000)
    path = tmp_path / "big.parquet"
    with open(path, "wb") as fh:
        writer = VectorWriter("parquet", fh, dim)
        for at in range(0, n, 5000):
            writer.write(numbers[at : at + 5000], texts[at : at + 5000], vectors[at : at + 5000])
        writer.close()
    import pyarrow.parquet as pq

    assert pq.ParquetFile(path).num_row_groups == 4
    docs = docsearch.open_docs(model, str(path))
    sidecar = tmp_path / ("big.parquet" + docsearch.SIDECAR_SUFFIX)
    assert docs.index_folder == sidecar and (sidecar / "vectors.npy").is_file()
    pick = np.array([0, 7, 4999, 5000, 10001, n // 2, n - 2, n - 1])
    assert docs.texts(pick) == [texts[i] for i in pick] and docs.numbers[pick].tolist() == numbers[pick].tolist()
    queries = rng.standard_normal((prefilter.MIN_QUERIES + 8, dim)).astype(np.float32)
    units = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    rows, scores = docsearch.rank(docs, units, 10)
    assert (sidecar / prefilter.INDEX_DIR / "int8.npy").is_file()
    ref_rows, ref_scores = topk(vectors, row_norms(vectors), units, 10)
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-6)
    again = docsearch.open_docs(model, str(path))  # the sidecar is reused, memory-mapped
    assert not again.vectors.flags.owndata and again.texts(pick) == [texts[i] for i in pick]
    # An unwritable place: the same answers from an index held in memory.
    monkeypatch.setattr(docsearch, "atomic_dir", _failing_atomic_dir)
    sidecar_less = tmp_path / "other.parquet"
    sidecar_less.write_bytes(path.read_bytes())
    docs = docsearch.open_docs(model, str(sidecar_less))
    assert docs.index_folder is None and docs.texts(pick) == [texts[i] for i in pick]
    np.testing.assert_array_equal(docsearch.rank(docs, units, 10)[0], ref_rows)


def _failing_atomic_dir(*args, **kwargs):
    raise OSError("read-only file system")


def test_text_writers_round_trip_float32_exactly(w2v, web_lines):
    lines = web_lines[:20] + ["tab\there"]
    vectors = Embedder(w2v, "mean").embed(lines).vectors
    buf = io.BytesIO()
    writer = VectorWriter("tsv", buf, w2v.dim)
    writer.write(np.arange(1, len(lines) + 1), lines, vectors)
    writer.close()
    rows = buf.getvalue().decode().splitlines()
    assert rows[0] == "line\ttext\tvector" and rows[-1].startswith(f"{len(lines)}\ttab here\t")
    back = np.array([[float(x) for x in r.split("\t")[2].split(" ")] for r in rows[1:]], dtype=np.float32)
    np.testing.assert_array_equal(back, vectors)
    buf = io.BytesIO()
    writer = VectorWriter("jsonl", buf, w2v.dim)
    writer.write(np.arange(1, len(lines) + 1), lines, vectors)
    writer.close()
    objs = [json.loads(r) for r in buf.getvalue().decode().splitlines()]
    assert objs[-1]["text"] == "tab\there" and objs[3]["line"] == 4
    np.testing.assert_array_equal(np.array([o["vector"] for o in objs], dtype=np.float32), vectors)


class _Pipe(io.RawIOBase):
    """A stream that cannot seek or tell, like a pipe."""

    def __init__(self):
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.data += bytes(b)
        return len(b)

    def tell(self):
        raise OSError("not seekable")


def test_npy_to_a_file_and_to_a_pipe(tmp_path):
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    write_vectors(tmp_path / "v.npy", "npy", np.arange(1, 5), list("abcd"), vectors)
    np.testing.assert_array_equal(np.load(tmp_path / "v.npy"), vectors)
    pipe = _Pipe()
    writer = VectorWriter("npy", pipe, 3)
    writer.write(np.arange(1, 3), ["a", "b"], vectors[:2])
    writer.write(np.arange(3, 5), ["c", "d"], vectors[2:])
    writer.close()
    np.testing.assert_array_equal(np.load(io.BytesIO(bytes(pipe.data))), vectors)


def test_parquet_joins_in_duckdb(tmp_path, w2v, web_lines):
    duckdb = pytest.importorskip("duckdb")
    vectors = Embedder(w2v, "mean").embed(web_lines[:50]).vectors
    path = write_vectors(tmp_path / "d.parquet", "parquet", np.arange(1, 51), web_lines[:50], vectors, {"pooling": "mean"})
    labels = tmp_path / "labels.csv"
    labels.write_text("line,label\n" + "".join(f"{i},{'even' if i % 2 == 0 else 'odd'}\n" for i in range(1, 51)))
    rows = duckdb.sql(
        f"SELECT d.line, l.label, d.text, d.vector FROM '{path}' d JOIN '{labels}' l USING (line) ORDER BY d.line"
    ).fetchall()
    assert len(rows) == 50 and rows[1][:3] == (2, "even", web_lines[1])
    np.testing.assert_array_equal(np.array(rows[1][3], dtype=np.float32), vectors[1])
    top = duckdb.sql(
        f"SELECT line FROM '{path}' ORDER BY list_cosine_similarity(vector, (SELECT vector FROM '{path}' WHERE line = 7)) DESC LIMIT 1"
    ).fetchall()
    assert top == [(7,)]
