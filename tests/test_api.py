"""The public Python API (embcli.load, train, evaluate, models; embcli.Model) on tiny real models."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from query_models import gensim_keyed_vectors, lee_ft_dir, small_corpus_file, w2v_dir  # noqa: F401

import embcli


@pytest.fixture(scope="module")
def model(w2v_dir):
    return embcli.load(w2v_dir)


@pytest.fixture(scope="module")
def kv(w2v_dir):
    return gensim_keyed_vectors(w2v_dir)


def test_import_is_lazy():
    code = (
        "import sys, embcli; print('embcli.api' in sys.modules, 'numpy' in sys.modules); "
        "print(embcli.load is sys.modules['embcli.api'].load, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True", "True"]


def test_train_evaluate_and_search_are_the_api_functions():
    code = (
        "import embcli.training.options, embcli.evaluation, embcli.topk, embcli, embcli.api as api; "
        "print(embcli.train is api.train, embcli.evaluate is api.evaluate, embcli.search is api.search)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "True"]


def test_attributes(model, w2v_dir):
    words = (w2v_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    vectors = np.load(w2v_dir / "vectors.npy")
    assert model.words == words and len(model) == len(words) and model.dim == vectors.shape[1] == 32
    assert np.array_equal(model.vectors, vectors) and not model.vectors.flags.writeable
    with pytest.raises(ValueError):
        model.vectors[0, 0] = 1.0
    assert model.counts is not None and model.counts.shape == (len(words),) and model.counts[0] >= model.counts[-1]
    assert "king" in model and "KING" in model and "qqqzzz" not in model and 3 not in model
    assert np.array_equal(model["king"], vectors[words.index("king")])
    assert model["king", "god"].shape == (2, 32)
    assert model.index("king") == words.index("king")
    assert np.allclose(np.linalg.norm(model.vector("king", normalize=True)), 1.0, atol=1e-6)
    assert list(model)[:3] == words[:3] and model.name == "w2v" and model.algorithm == "word2vec"
    assert "w2v" in repr(model)


def test_neighbors_word_words_and_vectors(model, kv):
    hits = model.neighbors("king", k=5)
    assert [h.word for h in hits] == [w for w, _ in kv.most_similar("king", topn=5)]
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert np.allclose([h.score for h in hits], [s for _, s in kv.most_similar("king", topn=5)], atol=1e-5)
    assert hits[0].to_dict() == {"rank": 1, "word": hits[0].word, "score": hits[0].score, "index": hits[0].index}
    several = model.neighbors(["king", "god"], k=3)
    assert [h.word for h in several[0]] == [h.word for h in hits[:3]] and len(several[1]) == 3
    by_vector = model.neighbors(model["king"], k=6)
    assert by_vector[0].word == "king" and by_vector[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.word for h in by_vector[1:]] == [h.word for h in hits]
    by_list = model.neighbors(model["king"].tolist(), k=2)
    assert [h.word for h in by_list] == [h.word for h in by_vector[:2]]
    matrix = model.neighbors(np.stack([model["king"], model["god"]]), k=1)
    assert [m[0].word for m in matrix] == ["king", "god"]
    near = model.neighbors("king", k=3, metric="euclidean")
    assert near[0].score <= near[1].score <= near[2].score
    assert all(h.index < 100 for h in model.neighbors("king", k=5, restrict=100))


def test_analogy_and_similarity_match_gensim(model, kv):
    hits = model.analogy("king", "man", "woman", k=4)
    want = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=4)
    assert [h.word for h in hits] == [w for w, _ in want]
    mul = model.analogy("king", "man", "woman", k=4, method="mul")
    assert [h.word for h in mul] == [w for w, _ in kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=4)]
    assert model.similarity("king", "prince") == pytest.approx(float(kv.similarity("king", "prince")), abs=1e-6)


@pytest.mark.parametrize(
    "positive, negative",
    [
        (["king"], []),
        (["king", "woman"], ["man"]),
        (["egypt", "israel", "king"], ["moab", "pharaoh"]),
        (["father", "daughter", "woman"], ["son", "man", "brother"]),
    ],
)
def test_most_similar_matches_gensim(model, kv, positive, negative):
    hits = model.most_similar(positive=positive, negative=negative, k=10)
    want = kv.most_similar(positive=positive, negative=negative, topn=10)
    assert [h.word for h in hits] == [w for w, _ in want]
    assert np.allclose([h.score for h in hits], [s for _, s in want], atol=1e-5)


def test_most_similar_with_vectors_matches_gensim(model, kv):
    """Vectors are taken as given (not normalised), words at unit length, as gensim does."""
    vec = kv["god"] * 0.5 + kv["lord"]
    hits = model.most_similar(positive=["king", vec], negative=["man"], k=8)
    want = kv.most_similar(positive=["king", vec], negative=["man"], topn=8)
    assert [h.word for h in hits] == [w for w, _ in want]
    assert np.allclose([h.score for h in hits], [s for _, s in want], atol=1e-5)
    assert model.most_similar("king", k=3) == model.most_similar(positive=["king"], k=3)


def test_most_similar_restricted_matches_gensim(model, kv):
    hits = model.most_similar(positive=["king", "woman"], negative=["man"], topn=6, restrict_vocab=300)
    want = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=6, restrict_vocab=300)
    assert [h.word for h in hits] == [w for w, _ in want] and all(h.index < 300 for h in hits)
    assert hits == model.most_similar(["king", "woman"], ["man"], k=6, restrict=300)


@pytest.mark.parametrize(
    "words",
    [
        ["king", "prince", "pharaoh", "bread"],
        ["father", "mother", "son", "daughter", "water"],
        ["egypt", "israel", "moab", "lamb", "assyria"],
        ["bread", "wine", "king"],
    ],
)
def test_doesnt_match_matches_gensim(model, kv, words):
    assert model.doesnt_match(words) == kv.doesnt_match(words)
    ranked = model.rank_by_centrality(words)
    want = kv.rank_by_centrality(words)
    assert [w for _, w in ranked] == [w for _, w in want]
    assert np.allclose([s for s, _ in ranked], [s for s, _ in want], atol=1e-5)


def test_fasttext_answers_unseen_words_like_gensim(lee_ft_dir):
    from gensim.models.fasttext import load_facebook_vectors
    from gensim.test.utils import datapath

    ft = embcli.load(lee_ft_dir)
    wv = load_facebook_vectors(datapath("lee_fasttext.bin"))
    assert "rejoicingly" not in ft and ft.subwords
    assert np.allclose(ft["rejoicingly"], wv["rejoicingly"], atol=1e-5)
    hits = ft.neighbors("rejoicingly", k=5)
    assert [h.word for h in hits] == [w for w, _ in wv.most_similar("rejoicingly", topn=5)]


def test_to_gensim_shares_the_numbers(model, kv):
    out = model.to_gensim()
    assert np.shares_memory(out.vectors, model.vectors)
    assert out.index_to_key == model.words and out.key_to_index["king"] == model.index("king")
    assert out.get_vecattr("king", "count") == model.counts[model.index("king")]
    assert [w for w, _ in out.most_similar("king", topn=5)] == [w for w, _ in kv.most_similar("king", topn=5)]


def test_export_round_trip(model, tmp_path):
    path = tmp_path / "out.txt"
    done = model.export(path, format="word2vec")
    assert (done.written_format, done.rows, done.dim) == ("word2vec", len(model), model.dim)
    again = embcli.load(path)
    assert again.words == model.words and np.allclose(again.vectors, model.vectors, atol=1e-6)
    assert [h.word for h in again.neighbors("king", k=3)] == [h.word for h in model.neighbors("king", k=3)]


def test_train_into_store_and_folder(small_corpus_file, tmp_path):
    seen = []
    m = embcli.train(small_corpus_file, algo="word2vec", name="tiny", dim=8, epochs=1, min_count=3, threads=1,
                     progress=lambda stage, done, total, info: seen.append(stage))
    assert m.name == "tiny" and m.dim == 8 and "train" in seen and m.trained.vocab_size == len(m)
    listed = embcli.models()
    assert [s.name for s in listed] == ["tiny"] and listed[0].default and listed[0].to_dict()["dim"] == 8
    assert embcli.load().path == m.path
    with pytest.raises(embcli.ModelError, match="model 'tiny' exists: pass --force"):
        embcli.train(small_corpus_file, name="tiny", dim=8, epochs=1, threads=1)
    out = embcli.train([small_corpus_file], algo="glove", output=tmp_path / "g", dim=6, epochs=1, min_count=3, threads=1)
    assert out.path == tmp_path / "g" and out.algorithm == "glove" and len(embcli.models()) == 1


def test_evaluate_returns_plain_rows(model, tmp_path):
    analogies = tmp_path / "a.txt"
    analogies.write_text(": family\nking man prince woman\nfather son mother daughter\nking man zzzq woman\n")
    pairs = tmp_path / "p.txt"
    pairs.write_text("king queen 8\nfather mother 9\nbread king 1\nlord god 9\n")
    rows = embcli.evaluate(model, analogies=analogies, similarity=[pairs])
    kinds = {(r.kind, r.section) for r in rows}
    assert ("analogy-add", "family") in kinds and ("analogy-add", "total") in kinds
    total = next(r for r in rows if r.kind == "analogy-add" and r.section == "total")
    assert total.questions == 3 and total.answered == 2 and total.to_dict()["model"] == "w2v"
    sim = next(r for r in rows if r.kind == "similarity-spearman")
    assert sim.questions == 4 and sim.answered == 3 and sim.coverage == 0.75  # queen: unknown, skipped


# ------------------------------------------------------------------------------------ bad input


def _cli_message(args):
    from conftest import invoke

    res = invoke(args)
    assert res.exit_code != 0
    return res.stderr.strip().removeprefix("emb: error: ")


@pytest.mark.parametrize(
    "call, kind, cli",
    [
        (lambda m: m["qqqzzz"], embcli.UnknownWordError, ["vector", "qqqzzz"]),
        (lambda m: m.neighbors("qqqzzz"), embcli.UnknownWordError, ["neighbors", "qqqzzz"]),
        (lambda m: m.similarity("king", "qqqzzz"), embcli.UnknownWordError, ["similarity", "king", "qqqzzz"]),
        (lambda m: m.most_similar(positive=["king", "qqqzzz"]), embcli.UnknownWordError, ["similar", "king", "qqqzzz"]),
        (lambda m: m.most_similar(positive=[], negative=["king"]), embcli.UsageError, ["similar", "-king"]),
        (lambda m: m.doesnt_match(["king", "qqqzzz"]), embcli.UnknownWordError, ["doesnt-match", "king", "qqqzzz"]),
        # The command line refuses one word as a usage error of its arguments (exit 2, with the usage line).
        (lambda m: m.doesnt_match(["king"]), embcli.UsageError, None),
        (lambda m: m.neighbors(np.ones(5)), embcli.UsageError, None),
        (lambda m: m.most_similar(positive=[np.ones(7)]), embcli.UsageError, None),
        (lambda m: m.analogy("king", "man", "qqqzzz"), embcli.UnknownWordError, ["analogy", "king", "man", "qqqzzz"]),
        (lambda m: m.analogy("king", "man", "woman", method="sub"), embcli.UsageError, None),
        (lambda m: m.neighbors("king", metric="manhattan"), embcli.UsageError, None),
        (lambda m: m.neighbors("king", restrict=0), embcli.UsageError, None),
    ],
)
def test_bad_queries_raise_the_cli_message(model, w2v_dir, call, kind, cli):
    with pytest.raises(kind) as err:
        call(model)
    assert not isinstance(err.value, (KeyError, ValueError))
    if cli is not None:
        assert _cli_message([*cli, "-m", w2v_dir]) == str(err.value)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.neighbors(5), "neighbors takes a word, a vector, or a list of them, not int"),
        (lambda m: m.neighbors(None), "not NoneType"),
        (lambda m: m[0], "model[...] takes a word or a list of words, not int"),
        (lambda m: m.similarity(["king"], ["god"]), "a query word must be a string, not list"),
        (lambda m: m.neighbors(["king", 3]), "a query word must be a string, not int"),
        (lambda m: m.neighbors("king", k="3"), "k '3': give a whole number"),
        (lambda m: m.neighbors("king", k=None), "k None: give a whole number"),
        (lambda m: m.neighbors("king", k=2.5), "k 2.5: give a whole number"),
        (lambda m: m.analogy("king", "man", "woman", k=2.5), "k 2.5: give a whole number"),
        (lambda m: m.neighbors("king", restrict="100"), "restrict '100': give a whole number"),
        (lambda m: m.compress("int8", max_vocab="10"), "--max-vocab '10': give a whole number"),
    ],
)
def test_wrong_types_are_usage_errors_not_python_ones(model, call, message):
    """A notebook user's wrong argument gets emb's one clear error, not a TypeError from deep inside."""
    with pytest.raises(embcli.UsageError, match=re.escape(message)):
        call(model)


@pytest.mark.parametrize("options, message", [({"dim": "10"}, "--dim '10': give a whole number"),
                                              ({"epochs": 1.5}, "--epochs 1.5: give a whole number"),
                                              ({"lr": "fast"}, "--lr 'fast': give a number")])
def test_train_refuses_options_of_the_wrong_type(small_corpus_file, tmp_path, options, message):
    with pytest.raises(embcli.UsageError, match=re.escape(message)):
        embcli.train(small_corpus_file, output=tmp_path / "m", **options)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("bad", [b"king", None, 3])
def test_words_lines_and_paths_of_the_wrong_type_are_usage_errors(model, tmp_path, bad):
    """They were TypeErrors from deep inside (or, for bytes paths, files named after the bytes' values)."""
    calls = {
        "a query word": [lambda: model.analogy(bad, "man", "woman"), lambda: model.analogy("king", "man", bad)],
        "a line to embed": [lambda: model.embed([bad]), lambda: model.search(["king"], ["a queen", bad])],
        "a corpus": [lambda: embcli.train(bad, output=tmp_path / "m"), lambda: embcli.train([bad], output=tmp_path / "m")],
    }
    if isinstance(bad, bytes):
        calls["a query"] = [lambda: model.neighbors([bad]), lambda: model.most_similar(positive=[bad]),
                            lambda: model.search(bad, ["a queen"])]
    for what, group in calls.items():
        for call in group:
            with pytest.raises(embcli.UsageError, match=f"^{what}"):
                call()
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("k", [0, -3])
def test_k_below_one(model, k):
    for call in (lambda: model.neighbors("king", k=k), lambda: model.most_similar(["king"], k=k),
                 lambda: model.analogy("king", "man", "woman", k=k), lambda: model.neighbors(model["king"], k=k)):
        with pytest.raises(embcli.UsageError, match=f"-k must be at least 1 \\(got {k}\\)"):
            call()


def test_bad_models_raise_the_cli_message(tmp_path, w2v_dir):
    with pytest.raises(embcli.ModelError) as err:
        embcli.load("nosuchmodel")
    assert _cli_message(["neighbors", "king", "-m", "nosuchmodel"]) == str(err.value)
    with pytest.raises(embcli.ModelError, match="no model yet"):
        embcli.load()
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(embcli.FormatError) as err:
        embcli.load(junk)
    assert _cli_message(["neighbors", "king", "-m", junk]) == str(err.value)
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(w2v_dir, damaged)
    (damaged / "vectors.npy").write_bytes((damaged / "vectors.npy").read_bytes()[:500])
    with pytest.raises(embcli.ModelError, match="truncated vectors") as err:
        embcli.load(damaged)
    assert _cli_message(["neighbors", "king", "-m", damaged]) == str(err.value)


def test_bad_training_options(small_corpus_file, tmp_path):
    with pytest.raises(embcli.UsageError, match="unknown algorithm 'bert'"):
        embcli.train(small_corpus_file, algo="bert", output=tmp_path / "x")
    with pytest.raises(embcli.UsageError, match="unknown training option"):
        embcli.train(small_corpus_file, output=tmp_path / "x", dims=3)
    with pytest.raises(embcli.UsageError, match="not both"):
        embcli.train(small_corpus_file, output=tmp_path / "x", name="y")
    with pytest.raises(embcli.CorpusError):
        embcli.train(tmp_path / "missing.txt", output=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_query_results_carry_errors(model):
    res = model.query_neighbors(["king", "qqqzzz"], k=2)
    assert res[0].error is None and len(res[0].hits) == 2
    assert isinstance(res[1].error, embcli.UnknownWordError) and res[1].hits == []


def test_import_convert_and_the_store(model, tmp_path):
    import embcli.api as api

    text = tmp_path / "v.txt"
    model.export(text, format="word2vec", limit=50)
    done = api.import_vectors(text, name="imp", make_default=False)
    assert (done.target, done.read_format, done.rows, done.dim) == ("imp", "word2vec", 50, model.dim)
    assert done.model.words == model.words[:50] and embcli.models()[0].name == "imp"
    with pytest.raises(embcli.ModelError, match="no default model: choose one with `emb models use NAME`"):
        embcli.load()
    api.set_default("imp")
    assert embcli.load().name == "imp" and api.model_info("imp")["default"] is True
    assert api.model_info("imp")["dim"] == model.dim
    out = tmp_path / "v.parquet"
    conv = api.convert(text, out)
    assert (conv.read_format, conv.written_format, conv.rows) == ("word2vec", "parquet", 50)
    assert embcli.load(out).words == model.words[:50] and conv.to_dict()["target"] == str(out)
    assert api.remove("imp") is True and embcli.models() == []
    with pytest.raises(embcli.ModelError, match="no model named 'imp'"):
        api.remove("imp")
    with pytest.raises(embcli.FormatError):
        api.import_vectors(tmp_path / "missing.txt", name="x")


def test_words_are_a_read_only_view(w2v_dir):
    """model.words was the model's own list: sorting it changed which word every row answered for."""
    model = embcli.load(w2v_dir)
    before = [n.word for n in model.neighbors("king", k=3)]
    words = model.words
    assert words == list(words) and words[:3] == list(words)[:3] and "king" in words and len(words) == len(model)
    with pytest.raises(AttributeError):
        words.sort()
    with pytest.raises(TypeError):
        words[0] = "x"
    mine = list(model.words)
    mine.sort()
    assert [n.word for n in model.neighbors("king", k=3)] == before and model.words[model.index("king")] == "king"

