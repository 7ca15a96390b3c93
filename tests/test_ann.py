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

from embcli import ann, hnsw, query
from embcli.api import load
from embcli.errors import ModelError, UsageError
from embcli.folder import ModelFolder
from embcli.folder.layout import ANN_DIR, ANN_INFO
from embcli.folder.storage import StoredRows

pytestmark = pytest.mark.skipif(importlib.util.find_spec("faiss") is None,
                                reason="faiss (the index extra) is not installed")


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


def _through_the_graph_and_exactly(model: ModelFolder, words: list[str], k: int = 10):
    """The answers through the model's graph, the exact ones, and how many of each query's k agree."""
    fast = query.neighbors(model, words, k=k)
    exact = query.neighbors(model, words, k=k, exact=True)
    assert ann.opened(model) is not None
    agree = [len({h.word for h in a.hits} & {h.word for h in b.hits}) for a, b in zip(fast, exact)]
    return fast, exact, agree


def test_index_is_written_beside_the_model_and_answers_like_the_exact_search(toy):
    before = _digest(toy)
    info = ann.build(ModelFolder(toy), sample=300, threads=1)
    assert _digest(toy) == before  # the model's own files are untouched
    assert sum((toy / ANN_DIR / name).stat().st_size for name in hnsw.FILES) == info.bytes > 0
    kept = json.loads((toy / ANN_DIR / ANN_INFO).read_text())
    assert kept["recall_at_10"] == info.recall_at_10 >= 0.95 and kept["sampled"] == 300  # sampled among the non-zero rows
    assert kept["rows"] == 3000 and kept["dim"] == 24 and kept["library"].startswith("faiss")

    model = ModelFolder(toy)
    fast, exact, agree = _through_the_graph_and_exactly(model, [f"w{i}" for i in range(0, 3000, 97)])
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
    assert dict(zip(header.split("\t"), line.split("\t")))["expansion"] == "256/128"  # not a Python dict
    assert row["expansion"] == {"add": 256, "search": 128}
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
    (toy / ANN_DIR / hnsw.BASE).write_bytes(b"not an index")
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


def test_the_graph_search_meets_what_faiss_meets_on_the_same_graph():
    """emb searches faiss's graph in numpy: on the same graph, the same ef best nodes as faiss's search."""
    import faiss

    units = _clustered(4000, 32, seed=3)
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    index = faiss.IndexHNSWFlat(32, 8, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 64
    index.hnsw.efSearch = 40
    faiss.omp_set_num_threads(1)
    index.add(units)
    h = index.hnsw
    graph = hnsw.from_faiss(faiss.vector_to_array(h.levels), faiss.vector_to_array(h.offsets),
                            faiss.vector_to_array(h.neighbors), [h.cum_nb_neighbors(i) for i in range(h.max_level + 2)],
                            h.entry_point, h.max_level)
    assert graph.max_level >= 1 and len(graph.upper_ids) > 0  # the walk down the upper levels is exercised
    queries = np.random.default_rng(1).standard_normal((50, 32)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    theirs, their_ids = index.search(queries, 40)
    same = 0
    for q, ids, ds in zip(queries, their_ids, theirs):
        nodes, scores = hnsw.search(graph, lambda rows: units[rows] @ q, 40)
        assert np.all(np.diff(scores) <= 0)
        np.testing.assert_allclose(scores, units[nodes] @ q, rtol=1e-6)
        same += set(nodes.tolist()) == set(ids.tolist())
    assert same >= 48  # float rounding may order two near-equal nodes the other way


def _pq_model(toy: Path, tmp_path: Path, opq: bool) -> Path:
    out = tmp_path / "pq"
    assert invoke(["compress", str(toy), "--to", "pq", "--subquantizers", "6", "--output", str(out),
                   "--no-benchmarks", "-q", *(["--opq"] if opq else [])]).exit_code == 0
    return out


@pytest.mark.parametrize("opq", [False, True])
def test_a_pq_model_is_searched_through_its_graph_by_looked_up_products(toy, tmp_path, monkeypatch, opq):
    pq = _pq_model(toy, tmp_path, opq)
    assert invoke(["index", str(pq), "--sample", "200", "--threads", "1", "-q"]).exit_code == 0
    model = ModelFolder(pq)
    assert model.storage == "pq" and ("rotation" in model.vectors.parts) == opq
    unit = np.asarray(model.vectors[[11]], dtype=np.float32)[0]
    unit /= np.linalg.norm(unit)
    ids = np.arange(0, 3000, 7)
    looked_up = model.vectors.dot_scorer(unit)(ids)
    np.testing.assert_allclose(looked_up, np.asarray(model.vectors[ids]) @ unit, rtol=1e-4, atol=1e-5)
    decoded = []
    real = StoredRows._decode
    monkeypatch.setattr(StoredRows, "_decode", lambda self, rows, **kw: decoded.append(np.size(rows)) or real(self, rows, **kw))
    ann.search(model, ann.opened(model), unit[None], 10)
    assert not decoded  # the graph's nodes are scored from their codes
    monkeypatch.undo()
    fast, exact, agree = _through_the_graph_and_exactly(model, [f"w{i}" for i in range(0, 3000, 101)])
    assert np.mean(agree) >= 9
    for a, b in zip(fast, exact):
        exact_score = {h.word: h.score for h in b.hits}
        for h in a.hits:
            if h.word in exact_score:
                assert h.score == pytest.approx(exact_score[h.word], abs=1e-4)


def test_a_pq_index_walks_a_row_major_copy_of_the_codes_and_scores_with_the_model_s(toy, tmp_path, monkeypatch):
    """A PQ model's index holds its codes row-major (one read a node); the copy gives the same
    products as the model's own codes, an index without it still answers, and a copy that is damaged
    never changes a score: the answers are scored with the model's codes."""
    pq = _pq_model(toy, tmp_path, opq=True)
    assert invoke(["index", str(pq), "--sample", "200", "--threads", "1", "-q"]).exit_code == 0
    copy = pq / ANN_DIR / ann.PQ_ROWS
    model = ModelFolder(pq)
    codes = model.vectors.parts["codes"]
    rows = np.load(copy)
    assert rows.flags.c_contiguous and np.array_equal(rows, codes) and codes.flags.f_contiguous
    info = json.loads((pq / ANN_DIR / "index.json").read_text())
    assert info["bytes"] == sum(p.stat().st_size for p in (pq / ANN_DIR).glob("*.npy"))
    unit = np.asarray(model.vectors[[11]], dtype=np.float32)[0]
    unit /= np.linalg.norm(unit)
    ids = np.arange(0, 3000, 7)
    assert np.array_equal(model.vectors.dot_scorer(unit, rows)(ids), model.vectors.dot_scorer(unit)(ids))
    words = [f"w{i}" for i in range(0, 3000, 101)][:ann.MAX_QUERIES]  # (a larger batch scans instead)
    used = []
    real = ann.search
    monkeypatch.setattr(ann, "search", lambda model, index, *a: used.append(index.pq_rows is not None) or real(model, index, *a))
    with_copy = [r.hits for r in query.neighbors(ModelFolder(pq), words, k=10)]
    copy.rename(tmp_path / "kept.npy")  # an index built before the copy existed
    assert [r.hits for r in query.neighbors(ModelFolder(pq), words, k=10)] == with_copy
    assert used == [True, False]
    damaged = rows.copy()
    damaged[::2] = damaged[::-2]  # every other row's codes another row's
    np.save(copy, damaged)
    through = query.neighbors(ModelFolder(pq), words, k=10)
    assert used == [True, False, True]
    fresh = ModelFolder(pq)
    for result, word in zip(through, words):
        target = np.asarray(fresh.vectors[[fresh.index_of(word)]], dtype=np.float32)[0]
        target /= np.linalg.norm(target)
        for hit in result.hits:  # each score is the model's own, whatever the copy said
            own = fresh.vectors.dot_scorer(target)(np.array([hit.index]))[0] / fresh.norms[hit.index]
            assert hit.score == pytest.approx(float(own), abs=1e-6)
        assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    np.save(copy, rows[:-1])  # a copy of another shape
    assert_clean_error(invoke(["neighbors", "w1", "-m", str(pq)]), 1, "pq.codes.rows.npy holds uint8 (2999, 6)")
    assert invoke(["neighbors", "w1", "-m", str(pq), "--exact"]).exit_code == 0


def test_a_copy_of_the_codes_past_the_codebooks_is_a_damaged_index(toy, tmp_path):
    out = tmp_path / "pq4"
    assert invoke(["compress", str(toy), "--to", "pq", "--subquantizers", "6", "--bits", "4", "--output", str(out),
                   "--no-benchmarks", "-q"]).exit_code == 0
    assert invoke(["index", str(out), "--sample", "100", "--threads", "1", "-q"]).exit_code == 0
    copy = out / ANN_DIR / ann.PQ_ROWS
    rows = np.load(copy)
    assert rows.max() < 16
    rows[5, 3] = 200
    np.save(copy, rows)
    assert_clean_error(invoke(["neighbors", "w1", "-m", str(out)]), 1, "holds a code 200 for 16 centroids")
    assert invoke(["neighbors", "w1", "-m", str(out), "--exact"]).exit_code == 0


def test_a_link_outside_the_graph_is_one_clear_error(toy):
    ann.build(ModelFolder(toy), sample=50, threads=1)
    path = toy / ANN_DIR / hnsw.BASE
    base = np.load(path)
    base[:, 0] = 10**6  # every node's first link points past the 3,000 nodes
    np.save(path, base)
    result = invoke(["neighbors", "-m", str(toy), "w3"])
    assert_clean_error(result, 1, "damaged HNSW index", "emb index")
    assert invoke(["neighbors", "-m", str(toy), "w3", "--exact"]).exit_code == 0


def test_an_index_from_an_earlier_emb_is_ignored_and_the_answers_are_exact(toy):
    """An earlier emb kept usearch's file and an index.json without "format": not read, the scan answers."""
    (toy / ANN_DIR).mkdir()
    (toy / ANN_DIR / "hnsw.usearch").write_bytes(b"\0" * 64)
    model = ModelFolder(toy)
    old = {"kind": "hnsw", "library": "usearch 2.26.6", "rows": 3000, "dim": 24,
           "model_created": model.meta.get("created"), "connectivity": 16, "expansion_add": 128,
           "expansion_search": 128, "dtype": "f16", "recall_at_10": 0.99, "sampled": 100, "seconds": 1.0, "bytes": 64}
    (toy / ANN_DIR / ANN_INFO).write_text(json.dumps(old))
    assert ann.opened(model) is None
    fast = invoke(["neighbors", "-m", str(toy), "w5", "-f", "tsv"])
    exact = invoke(["neighbors", "-m", str(toy), "w5", "-f", "tsv", "--exact"])
    assert fast.exit_code == 0 and fast.stdout == exact.stdout


def test_a_large_batch_scans_every_row_once_instead(toy, monkeypatch):
    ann.build(ModelFolder(toy), sample=50, threads=1)
    calls = []
    real = ann.search
    monkeypatch.setattr(ann, "search", lambda *a, **k: calls.append(len(a[2])) or real(*a, **k))
    model = ModelFolder(toy)
    query.neighbors(model, [f"w{i}" for i in range(10, 10 + ann.MAX_QUERIES)], k=5)
    assert calls == [ann.MAX_QUERIES]
    calls.clear()
    many = query.neighbors(model, [f"w{i}" for i in range(10, 11 + ann.MAX_QUERIES)], k=5)
    assert not calls and all(len(r.hits) == 5 for r in many)


def test_rows_are_read_from_the_file_the_model_mapped_not_one_put_there_since(toy, tmp_path):
    """A graph search reads rows with pread; when the folder's vectors.npy was replaced after the model
    was opened, the search uses the model's own map, so rows and norms stay of one model."""
    ann.build(ModelFolder(toy), sample=50, threads=1)
    model = ModelFolder(toy)
    before = query.neighbors(model, ["w5", "w9"], k=5)
    assert ann._RowFile.of(model) is not None
    other = tmp_path / "other.npy"
    np.save(other, -np.asarray(model.vectors))  # every direction reversed: other answers entirely
    other.replace(toy / "vectors.npy")
    assert ann._RowFile.of(model) is None
    after = query.neighbors(model, ["w5", "w9"], k=5)
    assert [[(h.word, h.score) for h in r.hits] for r in after] == [[(h.word, h.score) for h in r.hits] for r in before]


@pytest.mark.parametrize("key,value", [("entry_point", None), ("entry_point", 3.5), ("entry_point", "7"),
                                       ("max_level", 2.0), ("expansion_search", "128"), ("expansion_search", None),
                                       ("rows", True)])
def test_settings_of_the_wrong_type_in_index_json_are_one_clear_error(toy, key, value):
    ann.build(ModelFolder(toy), sample=50, threads=1)
    path = toy / ANN_DIR / ANN_INFO
    info = json.loads(path.read_text())
    info[key] = value
    path.write_text(json.dumps(info))
    assert_clean_error(invoke(["neighbors", "-m", str(toy), "w3"]), 1, key, "emb index")
    assert invoke(["neighbors", "-m", str(toy), "w3", "--exact"]).exit_code == 0


def test_negative_links_and_bad_upper_levels_are_damage_not_padding(toy):
    ann.build(ModelFolder(toy), sample=50, threads=1)
    base_path, ids_path = toy / ANN_DIR / hnsw.BASE, toy / ANN_DIR / hnsw.UPPER_IDS
    base, ids = np.load(base_path), np.load(ids_path)
    np.save(base_path, np.where(base >= 0, -base - 2, base).astype(np.int32))
    assert_clean_error(invoke(["neighbors", "-m", str(toy), "w3"]), 1, "damaged HNSW index", "emb index")
    np.save(base_path, base)
    assert invoke(["neighbors", "-m", str(toy), "w3"]).exit_code == 0
    if len(ids) > 1:
        np.save(ids_path, ids[::-1].copy())
        assert_clean_error(invoke(["neighbors", "-m", str(toy), "w3"]), 1, "damaged HNSW index", "emb index")


def test_a_model_of_mostly_zero_rows_is_answered_as_the_exact_search_answers(tmp_path):
    """Zero rows stay out of faiss's graph: given to it, they scored 0 with every row, took the links and
    hid the true neighbours of the rows that have a direction."""
    vectors = np.zeros((2000, 24), dtype=np.float32)
    vectors[1900:] = _clustered(100, 24, seed=5)
    folder = write_toy_model(tmp_path / "zeros", [f"w{i}" for i in range(2000)], vectors, tokenizer={"mode": "whitespace"})
    info = ann.build(ModelFolder(folder), sample=200, threads=1)
    assert info.recall_at_10 == 1.0 and info.sampled == 100
    graph = ann.opened(ModelFolder(folder)).graph
    assert np.all(graph.base[:1900] == -1) and np.all(graph.base[1900:].max(axis=1) >= 1900)
    model = ModelFolder(folder)
    for word, k in (("w1900", 10), ("w1950", 98)):  # (98: every other row with a direction, and one more)
        fast = query.neighbors(model, [word], k=k)[0].hits
        exact = query.neighbors(model, [word], k=k, exact=True)[0].hits
        assert [h.word for h in fast] == [h.word for h in exact]
        assert len(fast) == k
        assert [h.score for h in fast] == pytest.approx([h.score for h in exact], abs=1e-6)
    none = write_toy_model(tmp_path / "none", ["a", "b"], np.zeros((2, 4), np.float32), tokenizer={"mode": "whitespace"})
    with pytest.raises(UsageError, match="only zero vectors"):
        ann.build(ModelFolder(none))


def test_remove_refuses_an_ann_index_that_is_not_a_folder_and_the_api_refuses_bad_settings(toy):
    (toy / ANN_DIR).write_text("not emb's")
    assert_clean_error(invoke(["index", str(toy), "--remove"]), 1, "not the index folder")
    assert (toy / ANN_DIR).read_text() == "not emb's"
    (toy / ANN_DIR).unlink()
    model = load(str(toy))
    for settings, name in (({"sample": -1}, "--sample"), ({"seed": -1}, "--seed"), ({"threads": -1}, "--threads"),
                           ({"connectivity": 0}, "--connectivity")):
        with pytest.raises(UsageError, match=name):
            model.build_index("hnsw", **settings)
    assert not (toy / ANN_DIR).exists()


def _same_stamp_other_model(toy: Path, tmp_path: Path) -> Path:
    """Another model of the toy's size and creation stamp (made in the same second, say)."""
    other = write_toy_model(tmp_path / "other", [f"w{i}" for i in range(3000)], _clustered(3000, 24, seed=9),
                            tokenizer={"mode": "whitespace"})
    meta = json.loads((other / "meta.json").read_text())
    meta["created"] = json.loads((toy / "meta.json").read_text())["created"]
    (other / "meta.json").write_text(json.dumps(meta))
    return other


def test_a_model_replaced_while_its_index_is_built_gets_no_index(toy, tmp_path, monkeypatch):
    """The graph of the model that was read is not put into the folder of the one that replaced it,
    even when both were made in the same second; a model removed meanwhile is not made again."""
    import shutil

    other = _same_stamp_other_model(toy, tmp_path)
    real = ann.recall

    def replaced(model, *args):
        shutil.rmtree(toy)
        shutil.copytree(other, toy)
        return real(model, *args)

    monkeypatch.setattr(ann, "recall", replaced)
    with pytest.raises(ModelError, match="replaced or removed while its index was built"):
        ann.build(ModelFolder(toy), sample=50, threads=1)
    assert not (toy / ANN_DIR).exists()
    monkeypatch.setattr(ann, "recall", lambda model, *args: shutil.rmtree(toy) or real(model, *args))
    with pytest.raises(ModelError, match="replaced or removed"):
        ann.build(ModelFolder(toy), sample=50, threads=1)
    assert not toy.exists()


def test_an_index_of_a_model_made_in_the_same_second_is_ignored(toy, tmp_path):
    ann.build(ModelFolder(toy), sample=50, threads=1)
    other = _same_stamp_other_model(toy, tmp_path)
    for name in ("vectors.npy", "norms.npy"):
        (other / name).replace(toy / name)
    model = ModelFolder(toy)
    assert ann.opened(model) is None  # the check of the norms tells the models apart
    fast = query.neighbors(model, ["w5"], k=5)[0].hits
    assert [h.word for h in fast] == [h.word for h in query.neighbors(model, ["w5"], k=5, exact=True)[0].hits]


def test_settings_past_any_sense_are_refused_before_building(toy):
    for option in ("--connectivity", "--expansion-add", "--expansion-search", "--threads"):
        result = invoke(["index", str(toy), option, "3000000000"])
        assert_clean_error(result, 2, option, "at most")
    assert_clean_error(invoke(["compress", str(toy), "--to", "pq", "-M", "8", "--threads", "3000000000"]), 2, "--threads")
    assert not (toy / ANN_DIR).exists()


def test_recall_counts_the_neighbours_there_are(tmp_path):
    """Five rows with a direction among 3,000: each has four neighbours to find, not ten."""
    vectors = np.zeros((3000, 8), dtype=np.float32)
    vectors[[3, 700, 1500, 2200, 2999]] = np.random.default_rng(2).standard_normal((5, 8))
    folder = write_toy_model(tmp_path / "few", [f"w{i}" for i in range(3000)], vectors, tokenizer={"mode": "whitespace"})
    info = ann.build(ModelFolder(folder), sample=100, threads=1)
    assert info.sampled == 5 and info.recall_at_10 == 1.0


def test_the_graph_files_are_plain_npy(toy):
    ann.build(ModelFolder(toy), sample=50, threads=1)
    graph = ann.opened(ModelFolder(toy)).graph
    for name, array in zip(hnsw.FILES, (graph.base, graph.upper, graph.upper_ids)):
        np.testing.assert_array_equal(np.load(toy / ANN_DIR / name, allow_pickle=False), array)


def test_models_info_says_whether_the_index_is_used(toy, tmp_path):
    assert json.loads(invoke(["models", "info", str(toy)]).stdout)["index"] is None
    ann.build(ModelFolder(toy), sample=50, threads=1)
    shown = json.loads(invoke(["models", "info", str(toy)]).stdout)["index"]
    assert shown["kind"] == "hnsw" and shown["used"] is True and shown["recall_at_10"] >= 0.95
    other = _same_stamp_other_model(toy, tmp_path)
    for name in ("vectors.npy", "norms.npy"):
        (other / name).replace(toy / name)
    assert json.loads(invoke(["models", "info", str(toy)]).stdout)["index"]["used"] is False
    (toy / ANN_DIR / ANN_INFO).write_text("{")
    assert "emb index" in json.loads(invoke(["models", "info", str(toy)]).stdout)["index"]["error"]


def test_an_index_json_of_a_later_emb_is_read_and_its_format_decides(toy):
    ann.build(ModelFolder(toy), sample=50, threads=1)
    path = toy / ANN_DIR / ANN_INFO
    info = json.loads(path.read_text())
    path.write_text(json.dumps({**info, "a_later_setting": [1, 2]}))
    assert ann.opened(ModelFolder(toy)) is not None  # a key this emb does not know is no damage
    path.write_text(json.dumps({**info, "format": ann.FORMAT + 1}))
    assert ann.opened(ModelFolder(toy)) is None  # a later graph format: searched exactly
    assert invoke(["neighbors", "-m", str(toy), "w3"]).exit_code == 0
    path.write_text("[1, 2]")
    assert_clean_error(invoke(["neighbors", "-m", str(toy), "w3"]), 1, "index.json", "emb index")
