"""The int8 prefilter for large batches of cosine queries: the same answers as the float32 search."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from embcli import prefilter
from embcli.errors import ModelError
from embcli.folder import ModelFolder
from embcli.onnxgraph import int8_products_model
from embcli.topk import topk
from tests.query_models import write_toy_model

ort = pytest.importorskip("onnxruntime")


def test_onnx_graph_gives_exact_int8_products_and_group_maxima():
    session = ort.InferenceSession(int8_products_model(37, 256, 64), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (5, 37), dtype=np.uint8)
    b = rng.integers(-128, 128, (37, 256), dtype=np.int8)
    y, g = session.run(None, {"A": a, "B": b})
    expected = (a.astype(np.int64) - 128) @ b.astype(np.int64)
    assert np.array_equal(y, expected)
    assert np.array_equal(g, expected.reshape(5, 4, 64).max(axis=2))


def _matrix(rows: int, dim: int, seed: int) -> np.ndarray:
    """Random vectors with the awkward cases: a zero row, exact duplicates, very long and short rows."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((rows, dim)).astype(np.float32)
    m[7] = 0
    m[100] = m[50]
    m[rows - 5] = m[50] * 3
    m[::97] *= 40
    m[::89] *= 0.01
    return m


@pytest.fixture(scope="module")
def big_model(tmp_path_factory):
    vectors = _matrix(prefilter.MIN_ROWS + 1234, 48, seed=11)
    words = [f"w{i}" for i in range(len(vectors))]
    return ModelFolder(write_toy_model(tmp_path_factory.mktemp("m") / "big", words, vectors))


@pytest.mark.parametrize("k,stop_blocks", [(10, None), (1, None), (25, 2.5)])
def test_same_rows_and_scores_as_the_float32_search(big_model, k, stop_blocks):
    m = big_model
    stop = m.vocab_size if stop_blocks is None else int(stop_blocks * prefilter.BLOCK)
    index = prefilter.build(m.vectors, m.norms)
    rng = np.random.default_rng(k)
    ids = np.concatenate([[50, 100, 7 + 1], rng.choice(stop, 60, replace=False)])
    units = (m.vectors[ids] / m.norms[ids][:, None]).astype(np.float32)
    exclude = ids[:, None]
    rows, scores = prefilter.topk_cosine(index, m.vectors, m.norms, units, k, stop, exclude)
    want_rows, want_scores = topk(m.vectors, m.norms, units, k, stop, "cosine", exclude)
    assert np.array_equal(rows, want_rows)
    np.testing.assert_allclose(scores, want_scores, atol=1e-6)
    # The duplicates of row 50 (100 exactly, the last but four scaled) are its best answers, in row order.
    if stop > m.vocab_size - 5 and k >= 2:
        assert list(rows[0, :2]) == [100, m.vocab_size - 5]
    assert (rows < stop).all() and 7 not in rows


def test_index_is_saved_reused_and_rebuilt_when_stale(tmp_path):
    vectors = _matrix(prefilter.MIN_ROWS, 16, seed=5)
    folder = write_toy_model(tmp_path / "m", [f"w{i}" for i in range(len(vectors))], vectors)
    m = ModelFolder(folder)
    first = prefilter.index_for(folder, m.vectors, m.norms)
    assert (folder / prefilter.INDEX_DIR / "int8.npy").is_file()
    again = prefilter.load(folder, m.vectors)
    assert np.array_equal(np.asarray(again.blocks), first.blocks) and again.err_max == first.err_max
    # A damaged index is never trusted: it is built again.
    (folder / prefilter.INDEX_DIR / "int8.npy").write_bytes(b"\x93NUMPY broken")
    assert prefilter.load(folder, m.vectors) is None
    assert prefilter.index_for(folder, m.vectors, m.norms) is not None
    # New vectors under the same name: the stamp no longer matches.
    os.utime(folder / "vectors.npy", ns=(1, 1))
    assert prefilter.load(folder, m.vectors) is None


def test_error_bound_holds_for_every_row(big_model):
    m = big_model
    index = prefilter.build(m.vectors, m.norms)
    blocks = np.asarray(index.blocks)
    rows = np.arange(m.vocab_size)
    approx = blocks[rows // prefilter.BLOCK, :, rows % prefilter.BLOCK] * index.scales[rows // prefilter.BLOCK][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = m.vectors.astype(np.float64) / m.norms[:, None]
    unit[~np.isfinite(unit).all(axis=1)] = 0
    assert np.sqrt(((unit - approx) ** 2).sum(axis=1)).max() <= index.err_max
    assert np.sqrt((approx**2).sum(axis=1)).max() <= index.rnorm_max


def _run(args, stdin, env):
    return subprocess.run([sys.executable, "-m", "embcli", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)


def test_cli_batch_through_the_index_answers_as_single_queries(big_model, tmp_path):
    env = dict(os.environ, EMB_HOME=str(tmp_path / "home"))
    words = [f"w{i}" for i in range(8, prefilter.MIN_ROWS, prefilter.MIN_ROWS // (prefilter.MIN_QUERIES + 4))]
    batch = _run(["neighbors", "-m", str(big_model.path), "-k", "5", "--format", "tsv"], "\n".join(words) + "\n", env)
    assert batch.returncode == 0, batch.stderr
    assert (big_model.path / prefilter.INDEX_DIR / "index.json").is_file()
    lines = batch.stdout.splitlines()
    assert lines[0].split("\t")[:4] == ["query", "rank", "word", "score"]
    assert len(lines) == 1 + 5 * len(words)
    # One query at a time goes through the float32 search: the words must be the same.
    for word in words[:3]:
        one = _run(["neighbors", word, "-m", str(big_model.path), "-k", "5", "--format", "tsv"], "", env)
        assert one.returncode == 0, one.stderr
        got = [line.split("\t")[2] for line in lines[1:] if line.split("\t")[0] == word]
        assert got == [line.split("\t")[2] for line in one.stdout.splitlines()[1:]]


def test_unwritable_index_falls_back_to_the_float32_search(tmp_path):
    vectors = _matrix(prefilter.MIN_ROWS, 8, seed=2)
    folder = write_toy_model(tmp_path / "ro", [f"w{i}" for i in range(len(vectors))], vectors)
    (folder / prefilter.INDEX_DIR).write_text("in the way")  # the index folder cannot be made
    m = ModelFolder(folder)
    assert prefilter.index_for(folder, m.vectors, m.norms) is None
    from embcli.query import neighbors

    ids = np.arange(10, 10 + prefilter.MIN_QUERIES)
    results = neighbors(m, [f"w{i}" for i in ids], k=3)
    rows, _ = topk(m.vectors, m.norms, m.vectors[ids] / m.norms[ids, None], 3, None, "cosine", ids[:, None])
    assert [[h.index for h in r.hits] for r in results] == rows.tolist()


def test_a_large_k_takes_the_float32_search(big_model, monkeypatch):
    from embcli.query import neighbors

    def refuse(*args, **kwargs):
        raise AssertionError("the int8 prefilter was used")

    monkeypatch.setattr(prefilter, "topk_cosine", refuse)

    words = [f"w{i}" for i in range(10, 10 + prefilter.MIN_QUERIES)]
    k = prefilter.MAX_K + 1
    results = neighbors(big_model, words, k=k)
    assert all(len(r.hits) == k for r in results)
    ids = np.arange(10, 10 + prefilter.MIN_QUERIES)
    rows, _ = topk(big_model.vectors, big_model.norms, big_model.vectors[ids] / big_model.norms[ids, None], k, None,
                   "cosine", ids[:, None])
    assert [[h.index for h in r.hits] for r in results] == rows.tolist()


def test_a_row_too_short_for_its_reciprocal_is_no_damage():
    """A finite row of length about 1e-39 made 1 / norm overflow, and the prefilter called it damaged."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 8)).astype(np.float32)
    vectors[5] = 1e-39
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64)).astype(np.float32)
    index = prefilter.build(vectors, norms)
    assert not np.asarray(index.blocks)[0, :, 5].any()  # no direction: never an answer
    vectors[7, 2] = np.nan  # stored damage is still named
    with pytest.raises(ModelError, match="row 8"):
        prefilter.build(vectors, norms)

