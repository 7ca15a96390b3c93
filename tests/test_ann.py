"""``emb index``: the HNSW index in the model folder, queries through it, --exact, stale and bad indexes."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error, invoke
from query_models import write_toy_model

from embcli import ann, query
from embcli.api import load
from embcli.errors import ModelError, UsageError
from embcli.folder import ModelFolder
from embcli.folder.layout import ANN_DIR, ANN_GRAPH, ANN_INFO

pytestmark = pytest.mark.skipif(importlib.util.find_spec("usearch") is None,
                                reason="usearch (the index extra) is not installed")


def _clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim)).astype(np.float32)
    return (centres[rng.integers(0, 50, n)] + 0.4 * rng.standard_normal((n, dim))).astype(np.float32)


@pytest.fixture
def toy(tmp_path) -> Path:
    vectors = _clustered(3000, 24)
    vectors[7] = 0  # a zero row: never an answer, never in the graph
    words = [f"w{i}" for i in range(len(vectors))]
    return write_toy_model(tmp_path / "toy", words, vectors, tokenizer={"mode": "whitespace"})


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_index_is_written_beside_the_model_and_answers_like_the_exact_search(toy):
    before = _digest(toy)
    info = ann.build(ModelFolder(toy), sample=300, threads=1)
    assert _digest(toy) == before  # the model's own files are untouched
    assert (toy / ANN_DIR / ANN_GRAPH).stat().st_size == info.bytes > 0
    kept = json.loads((toy / ANN_DIR / ANN_INFO).read_text())
    assert kept["recall_at_10"] == info.recall_at_10 >= 0.95 and kept["sampled"] == 299  # the zero row is skipped
    assert kept["rows"] == 3000 and kept["dim"] == 24 and kept["library"].startswith("usearch")

    model = ModelFolder(toy)
    words = [f"w{i}" for i in range(0, 3000, 97)]
    fast = query.neighbors(model, words, k=10)
    exact = query.neighbors(model, words, k=10, exact=True)
    assert ann.opened(model) is not None
    agree = [len({h.word for h in a.hits} & {h.word for h in b.hits}) for a, b in zip(fast, exact)]
    assert np.mean(agree) >= 9.5
    for a, b in zip(fast, exact):
        assert all(h.word != a.query for h in a.hits)  # the query word is never its own neighbour
        assert "w7" not in {h.word for h in a.hits}
        scores = [h.score for h in a.hits]
        assert scores == sorted(scores, reverse=True)
        exact_score = {h.word: h.score for h in b.hits}
        for h in a.hits:  # the shortlist is ranked by the exact cosine: same scores
            if h.word in exact_score:
                assert h.score == pytest.approx(exact_score[h.word], abs=1e-6)


def test_vector_queries_and_the_api_use_the_index_and_exact_bypasses_it(toy, monkeypatch):
    m = load(str(toy))
    m.build_index(sample=100, threads=1)
    assert m.index_info["kind"] == "hnsw"
    calls = []
    real = ann.search
    monkeypatch.setattr(ann, "search", lambda *a, **k: calls.append(1) or real(*a, **k))
    hits = m.neighbors("w10", k=5)
    assert len(hits) == 5 and calls
    calls.clear()
    assert [h.word for h in m.neighbors("w10", k=5, exact=True)] and not calls
    vec = m.vector("w10")
    by_vector = m.neighbors(vec, k=3)
    assert calls and by_vector[0].word == "w10"
    calls.clear()
    m.neighbors("w10", k=5, restrict=1000)  # --restrict searches exactly
    m.neighbors("w10", k=5, metric="dot")
    assert not calls


def test_cli_index_then_neighbors_and_remove(toy):
    result = invoke(["index", str(toy), "--sample", "200", "--threads", "1", "-f", "jsonl"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout.strip().splitlines()[0])
    assert row["kind"] == "hnsw" and row["rows"] == 3000 and row["recall@10"] >= 0.95
    fast = invoke(["neighbors", "-m", str(toy), "w5", "-k", "3"])
    exact = invoke(["neighbors", "-m", str(toy), "w5", "-k", "3", "--exact"])
    assert fast.exit_code == exact.exit_code == 0
    assert fast.stdout.splitlines()[1].split("\t")[2] == exact.stdout.splitlines()[1].split("\t")[2]
    tsv = invoke(["index", str(toy), "--sample", "100", "--threads", "1", "-f", "tsv"])
    header, line = tsv.stdout.splitlines()
    assert dict(zip(header.split("\t"), line.split("\t")))["expansion"] == "128/128"  # not a Python dict
    assert row["expansion"] == {"add": 128, "search": 128}
    gone = invoke(["index", str(toy), "--remove"])
    assert gone.exit_code == 0 and not (toy / ANN_DIR).exists()


@pytest.mark.parametrize("k", [1600, 5000, 10**9])
def test_a_k_near_or_past_the_vocabulary_is_answered_in_full_by_the_exact_search(toy, k):
    """The graph answers short lists; half the vocabulary or more (or a k beyond any allocation) is
    the exact search's, every other word once."""
    assert invoke(["index", str(toy), "--sample", "100", "--threads", "1", "-q"]).exit_code == 0
    result = invoke(["neighbors", "-m", str(toy), "w5", "-k", str(k), "-f", "tsv"])
    exact = invoke(["neighbors", "-m", str(toy), "w5", "-k", str(k), "-f", "tsv", "--exact"])
    assert result.exit_code == exact.exit_code == 0, result.stderr
    assert result.stdout == exact.stdout
    answered = min(k, 2998)  # every word but w5 and the zero row, at most
    assert len(result.stdout.splitlines()) == 1 + answered
    assert len(load(str(toy)).neighbors("w5", k=k)) == answered


def test_an_index_of_another_model_is_ignored(toy, tmp_path):
    ann.build(ModelFolder(toy), sample=50, threads=1)
    info = json.loads((toy / ANN_DIR / ANN_INFO).read_text())
    info["model_created"] = "1999-01-01T00:00:00+0000"  # the folder was replaced since
    (toy / ANN_DIR / ANN_INFO).write_text(json.dumps(info))
    assert ann.opened(ModelFolder(toy)) is None
    assert query.neighbors(ModelFolder(toy), ["w3"], k=3)[0].hits


def test_a_damaged_index_is_one_clear_error(toy):
    ann.build(ModelFolder(toy), sample=50, threads=1)
    (toy / ANN_DIR / ANN_GRAPH).write_bytes(b"not an index")
    result = invoke(["neighbors", "-m", str(toy), "w3"])
    assert_clean_error(result, 1, "HNSW index", "emb index")
    ok = invoke(["neighbors", "-m", str(toy), "w3", "--exact"])
    assert ok.exit_code == 0
    (toy / ANN_DIR / ANN_INFO).write_text("{")
    with pytest.raises(ModelError, match="index.json"):
        ann.read_info(toy)


def test_bad_settings_are_refused(toy, tmp_path):
    with pytest.raises(UsageError, match="index kind"):
        ann.build(ModelFolder(toy), kind="ivf")
    with pytest.raises(UsageError, match="--connectivity"):
        ann.build(ModelFolder(toy), connectivity=1)
    one = write_toy_model(tmp_path / "one", ["a"], np.ones((1, 4), np.float32), tokenizer={"mode": "whitespace"})
    with pytest.raises(UsageError, match="at least 2"):
        ann.build(ModelFolder(one))


def test_the_api_refuses_settings_that_are_not_whole_numbers(toy):
    model = load(str(toy))
    for settings in ({"connectivity": "16"}, {"expansion_add": "64"}, {"connectivity": 16.5}, {"sample": "100"}):
        with pytest.raises(UsageError, match="give a whole number"):
            model.build_index("hnsw", **settings)
