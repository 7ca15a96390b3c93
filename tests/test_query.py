"""Library queries (embcli.query) against gensim on the same vectors, and the model checks they rely on."""

from __future__ import annotations

import numpy as np
import pytest
from query_models import ft_dir, gensim_keyed_vectors, lee_ft_dir, small_corpus_file, w2v_dir, write_toy_model  # noqa: F401

from embcli import query, topk as search
from embcli.errors import ModelError, UnknownWordError, UsageError
from embcli.folder import ModelFolder

QUERY_WORDS = ["king", "god", "water", "moses", "said", "pharaoh", "land", "house"]
TRIPLES = [("king", "man", "woman"), ("pharaoh", "king", "god"), ("water", "land", "fire"), ("father", "man", "woman")]


@pytest.fixture(scope="module")
def w2v(w2v_dir):
    return ModelFolder(w2v_dir)


@pytest.fixture(scope="module")
def kv(w2v_dir):
    return gensim_keyed_vectors(w2v_dir)


@pytest.fixture
def small_blocks(monkeypatch):
    """Force many small blocks so that the running top-k merges across blocks."""
    monkeypatch.setattr(search, "_FIRST_ROWS", 7)
    monkeypatch.setattr(search, "_BLOCK_CELLS", 1500)


def assert_same(hits, expected, tol=1e-5):
    assert [h.word for h in hits] == [w for w, _ in expected]
    np.testing.assert_allclose([h.score for h in hits], [s for _, s in expected], atol=tol, rtol=0)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


@pytest.mark.parametrize("blocks", ["one pass", "small blocks"])
def test_neighbors_match_gensim_most_similar(w2v, kv, blocks, request):
    if blocks == "small blocks":
        request.getfixturevalue("small_blocks")
    results = query.neighbors(w2v, QUERY_WORDS, k=10)
    for word, res in zip(QUERY_WORDS, results):
        assert res.error is None and not res.oov
        assert_same(res.hits, kv.most_similar(word, topn=10))
        assert word not in [h.word for h in res.hits]


@pytest.mark.parametrize("restrict", [50, 600])
def test_neighbors_restrict_matches_gensim(w2v, kv, restrict, small_blocks):
    for res in query.neighbors(w2v, QUERY_WORDS, k=7, restrict=restrict):
        expected = kv.most_similar(res.query, topn=7, restrict_vocab=restrict)
        assert_same(res.hits, expected)
        assert all(h.index < restrict for h in res.hits)


@pytest.mark.parametrize("method", ["add", "mul"])
def test_analogy_matches_gensim(w2v, kv, method, small_blocks):
    results = query.analogy(w2v, TRIPLES, k=5, method=method)
    for (a, b, c), res in zip(TRIPLES, results):
        assert res.error is None
        if method == "add":
            expected = kv.most_similar(positive=[a, c], negative=[b], topn=5)
        else:
            expected = kv.most_similar_cosmul(positive=[a, c], negative=[b], topn=5)
        assert_same(res.hits, expected)
        assert not {a, b, c} & {h.word for h in res.hits}


def test_analogy_restrict_matches_gensim(w2v, kv):
    for (a, b, c), res in zip(TRIPLES, query.analogy(w2v, TRIPLES, k=5, restrict=300)):
        assert_same(res.hits, kv.most_similar(positive=[a, c], negative=[b], topn=5, restrict_vocab=300))


def test_analogy_king_man_woman_is_queen(tmp_path):
    rng = np.random.default_rng(3)
    base = {w: rng.standard_normal(16) for w in ["king", "man", "woman", "apple", "river", "stone"]}
    base["queen"] = base["king"] - base["man"] + base["woman"] + 0.01 * rng.standard_normal(16)
    words = list(base)
    model = ModelFolder(write_toy_model(tmp_path / "toy", words, [base[w] for w in words]))
    for method in ("add", "mul"):
        (res,) = query.analogy(model, [("King", "MAN", "woman")], k=3, method=method)
        assert res.hits[0].word == "queen"
        assert {"king", "man", "woman"}.isdisjoint(h.word for h in res.hits)


def test_similarity_matches_gensim(w2v, kv):
    pairs = [("king", "pharaoh"), ("god", "lord"), ("water", "fire"), ("King", "PHARAOH")]
    for (a, b), res in zip(pairs, query.similarity(w2v, pairs)):
        assert res.error is None
        assert res.score == pytest.approx(kv.similarity(a.lower(), b.lower()), abs=1e-6)


def test_vectors_raw_and_normalized(w2v, kv):
    raw, unit = query.vectors(w2v, ["king"])[0], query.vectors(w2v, ["King"], normalize=True)[0]
    np.testing.assert_array_equal(raw.vector, kv["king"])
    np.testing.assert_allclose(unit.vector, kv.get_vector("king", norm=True), atol=1e-7)
    assert unit.term.word == "king" and unit.query == "King"


def test_dot_and_euclidean_match_brute_force(w2v, small_blocks):
    vectors = np.asarray(w2v.vectors, dtype=np.float64)
    for metric in ("dot", "euclidean"):
        for res in query.neighbors(w2v, QUERY_WORDS, k=6, metric=metric, restrict=900):
            i = w2v.index_of(res.query)
            if metric == "dot":
                score = vectors[:900] @ vectors[i]
                order = np.argsort(-score)
            else:
                score = np.linalg.norm(vectors[:900] - vectors[i], axis=1)
                order = np.argsort(score)
            order = [j for j in order if j != i][:6]
            assert [h.index for h in res.hits] == order
            np.testing.assert_allclose([h.score for h in res.hits], score[order], rtol=1e-4, atol=1e-4)


def test_unknown_word_fails_only_its_query(w2v):
    results = query.neighbors(w2v, ["king", "zzzqqq", "god"], k=3)
    assert [len(r.hits) for r in results] == [3, 0, 3]
    assert isinstance(results[1].error, UnknownWordError)
    assert "zzzqqq" in str(results[1].error) and "fasttext" in str(results[1].error)
    bad = query.analogy(w2v, [("king", "man"), ("king", "zzzqqq", "woman"), ("king", "man", "woman")])
    assert "3 words" in str(bad[0].error) and isinstance(bad[1].error, UnknownWordError)
    assert bad[2].error is None and len(bad[2].hits) == 5
    assert isinstance(query.similarity(w2v, [("king", "zzzqqq")])[0].error, UnknownWordError)
    assert isinstance(query.vectors(w2v, ["zzzqqq"])[0].error, UnknownWordError)


@pytest.mark.parametrize("bad", [dict(k=0), dict(k=-1), dict(restrict=0), dict(metric="manhattan")])
def test_bad_arguments_are_usage_errors(w2v, bad):
    with pytest.raises(UsageError):
        query.neighbors(w2v, ["king"], **bad)


def test_bad_analogy_method(w2v):
    with pytest.raises(UsageError):
        query.analogy(w2v, [("king", "man", "woman")], method="sub")


def test_k_larger_than_vocabulary(tmp_path):
    model = ModelFolder(write_toy_model(tmp_path / "toy", ["a", "b", "c"], np.eye(3)))
    (res,) = query.neighbors(model, ["a"], k=10)
    assert sorted(h.word for h in res.hits) == ["b", "c"]
    (res,) = query.neighbors(model, ["a"], k=10, restrict=1)
    assert res.hits == []


def test_single_query_reads_no_whole_vocabulary_and_copies_nothing(w2v_dir):
    model = ModelFolder(w2v_dir)
    assert isinstance(model.vectors.base, np.memmap) or isinstance(model.vectors, np.memmap)
    (res,) = query.neighbors(model, ["king"], k=5)
    assert len(res.hits) == 5
    assert model._index is None and "words" not in model.__dict__
    assert [model.word_at(h.index) for h in res.hits] == [ModelFolder(w2v_dir).words[h.index] for h in res.hits]


def test_many_lookups_build_the_index(w2v_dir):
    model = ModelFolder(w2v_dir)
    words = ModelFolder(w2v_dir).words[:40]
    assert [model.index_of(w) for w in words] == list(range(40))
    assert model._index is not None
    assert model.index_of("zzzqqq") is None


# ------------------------------------------------------------------------------------ FastText


OOV_WORDS = ["unseenword", "governmentalist", "Ünïcödé", "日本語の単語", "x", "qzx"]


def test_fasttext_oov_vectors_match_gensim(lee_ft_dir):
    from gensim.models.fasttext import load_facebook_vectors
    from gensim.test.utils import datapath

    wv = load_facebook_vectors(datapath("lee_fasttext.bin"))
    model = ModelFolder(lee_ft_dir)
    for res in query.vectors(model, OOV_WORDS + ["the"]):
        assert res.error is None
        assert res.oov == (res.query not in wv.key_to_index)
        np.testing.assert_allclose(res.vector, wv[res.query], atol=1e-6, rtol=0)


def test_fasttext_oov_neighbors_and_similarity_match_gensim(lee_ft_dir, small_blocks):
    from gensim.models.fasttext import load_facebook_vectors
    from gensim.test.utils import datapath

    wv = load_facebook_vectors(datapath("lee_fasttext.bin"))
    model = ModelFolder(lee_ft_dir)
    for res in query.neighbors(model, OOV_WORDS, k=8):
        assert res.oov
        assert_same(res.hits, wv.most_similar(res.query, topn=8))
    (res,) = query.analogy(model, [("government", "unseenword", "night")], k=5)
    assert res.oov
    assert_same(res.hits, wv.most_similar(positive=["government", "night"], negative=["unseenword"], topn=5))
    (sim,) = query.similarity(model, [("unseenword", "government")])
    assert sim.oov and sim.score == pytest.approx(float(wv.similarity("unseenword", "government")), abs=1e-6)


def test_trained_fasttext_answers_unseen_words(ft_dir):
    model = ModelFolder(ft_dir)
    (res,) = query.neighbors(model, ["kingdomz"], k=3)
    assert res.error is None and res.oov and len(res.hits) == 3
    (known,) = query.neighbors(model, ["King"], k=3)
    assert not known.oov and known.terms[0].word == "king"


# ------------------------------------------------------------------------------------ kernels


def test_analogy_topk_rows_is_gensims_evaluate_call(w2v, kv):
    """An analogy file's line ``a b c d`` is asked as rows (b, a, c); the queries are excluded."""
    lines = [("man", "king", "woman"), ("king", "pharaoh", "god")]
    triples = np.array([[w2v.index_of(b), w2v.index_of(a), w2v.index_of(c)] for a, b, c in lines])
    rows, scores = search.analogy_topk_rows(w2v.vectors, w2v.norms, triples, k=5, restrict=500)
    for (a, b, c), r, s in zip(lines, rows, scores):
        expected = kv.most_similar(positive=[b, c], negative=[a], topn=5, restrict_vocab=500)
        assert [w2v.word_at(i) for i in r] == [w for w, _ in expected]
        np.testing.assert_allclose(s, [x for _, x in expected], atol=1e-5)


def test_topk_many_queries_in_blocks_equal_one_by_one(w2v, small_blocks):
    rng = np.random.default_rng(0)
    units = rng.standard_normal((40, w2v.dim)).astype(np.float32)
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    rows, scores = search.topk(w2v.vectors, w2v.norms, units, k=4)
    cos = (np.asarray(w2v.vectors, np.float64) / w2v.norms[:, None]) @ units.T.astype(np.float64)
    np.testing.assert_array_equal(rows, np.argsort(-cos, axis=0)[:4].T)
    np.testing.assert_allclose(scores, np.sort(cos, axis=0)[::-1][:4].T, atol=1e-5)


# ------------------------------------------------------------------------------ damaged folders


def test_missing_vectors(w2v_dir, tmp_path):
    import shutil

    folder = shutil.copytree(w2v_dir, tmp_path / "m")
    (folder / "vectors.npy").unlink()
    with pytest.raises(ModelError, match=r"vectors\.npy: missing vectors"):
        ModelFolder(folder)


def test_truncated_vectors(w2v_dir, tmp_path):
    import shutil

    folder = shutil.copytree(w2v_dir, tmp_path / "m")
    path = folder / "vectors.npy"
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)
    with pytest.raises(ModelError, match=rf"vectors\.npy: truncated vectors: {size // 2} bytes .* needs {size}"):
        ModelFolder(folder)


def test_vocabulary_length_disagrees(w2v_dir, tmp_path):
    import shutil

    folder = shutil.copytree(w2v_dir, tmp_path / "m")
    vocab = folder / "vocab.txt"
    lines = vocab.read_text(encoding="utf-8").split("\n")
    vocab.write_text("\n".join(lines[1:]), encoding="utf-8")
    with pytest.raises(ModelError, match=rf"vocab\.txt: {len(lines) - 2} words but vectors\.npy has {len(lines) - 1} rows"):
        ModelFolder(folder)


def test_a_mapped_vocabulary_pickles_as_its_bytes_and_small_ones_hold_no_file(tmp_path, monkeypatch):
    """A large vocab.txt is mapped (a model pickles and deep-copies with its bytes instead); a small
    one is read, so a process opening many small models holds one file (the vectors' map) for each."""
    import copy
    import os
    import pickle

    rng = np.random.default_rng(9)
    words = [f"w{i}" for i in range(3000)]
    folder = write_toy_model(tmp_path / "toy", words, rng.standard_normal((len(words), 4)), tokenizer={"mode": "whitespace"})
    fds = lambda: len(os.listdir("/proc/self/fd"))  # noqa: E731
    before = fds()
    small = [ModelFolder(folder) for _ in range(20)]
    read = fds() - before
    assert all(isinstance(m._vocab_map, bytes) for m in small)
    monkeypatch.setattr(ModelFolder, "MAP_BYTES", 0)
    before = fds()
    large = [ModelFolder(folder) for _ in range(20)]
    assert fds() - before == read + 20  # a map holds a file; reading the vocabulary holds none
    del small, large
    model = ModelFolder(folder)
    assert not isinstance(model._vocab_map, bytes)
    model.word_at(2999)
    for twin in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert isinstance(twin._vocab_map, bytes) and twin.words == words
        assert twin.word_at(1234) == "w1234" and twin._search("w2999") == 2999


@pytest.mark.parametrize("mapped", [True, False])
def test_word_at_across_chunk_boundaries(tmp_path, monkeypatch, mapped):
    monkeypatch.setattr(ModelFolder, "MAP_BYTES", 0 if mapped else 1 << 40)
    rng = np.random.default_rng(5)
    words = []
    for i in range(3000):
        n = int(rng.integers(1, 12))
        words.append("".join(rng.choice(list("abcé日ß"), n)) + str(i))
    words[700] = "x" * 9000  # a word longer than a chunk
    model = ModelFolder(write_toy_model(tmp_path / "toy", words, rng.standard_normal((len(words), 4)), tokenizer={"mode": "whitespace"}))
    assert [model.word_at(i) for i in range(len(words))] == words
    assert [model._search(w) for w in words] == list(range(len(words)))  # the byte search, word by word
    assert "words" not in model.__dict__
    with pytest.raises(IndexError):
        model.word_at(len(words))
    # Words that start exactly at each chunk's first byte, in a vocabulary of exactly two chunks.
    even = [f"w{i:06d}" for i in range(2 * ModelFolder._CHUNK // 8)]  # 8 bytes a line
    model = ModelFolder(write_toy_model(tmp_path / "even", even, rng.standard_normal((len(even), 4)), tokenizer={"mode": "whitespace"}))
    assert (tmp_path / "even" / "vocab.txt").stat().st_size == 2 * ModelFolder._CHUNK
    assert [model.word_at(i) for i in range(len(even))] == even
    assert [model._search(w) for w in even] == list(range(len(even)))


@pytest.mark.parametrize("mapped", [True, False])
@pytest.mark.parametrize("scan", [4096, 3 * 4096, 1 << 20])
def test_opening_scans_the_vocabulary_piece_by_piece(tmp_path, monkeypatch, scan, mapped):
    """The newline counts and the ASCII check on opening, made a piece of ``_SCAN`` bytes at a time,
    are those of the whole file: the row count is checked, a word's row found, a line that is not
    UTF-8 named by its number, wherever the pieces end."""
    monkeypatch.setattr(ModelFolder, "_SCAN", scan)
    monkeypatch.setattr(ModelFolder, "MAP_BYTES", 0 if mapped else 1 << 40)
    rng = np.random.default_rng(8)
    words = [f"w{i}" + "x" * int(rng.integers(0, 9)) for i in range(5000)]
    words[3000] = "가나다"  # non-ASCII only well past the first pieces
    folder = write_toy_model(tmp_path / "toy", words, rng.standard_normal((len(words), 4)), tokenizer={"mode": "whitespace"})
    model = ModelFolder(folder)
    assert isinstance(model._vocab_map, bytes) != mapped
    assert model._chunk_newlines.sum() == len(words) and model.word_at(3000) == "가나다"
    assert [model._search(w) for w in (words[0], words[2999], "가나다", words[-1])] == [0, 2999, 3000, 4999]
    data = (folder / "vocab.txt").read_bytes()
    (folder / "vocab.txt").write_bytes(data.replace("가나다".encode(), b"\xff\xfe\xfd"))
    with pytest.raises(ModelError, match=r"vocab\.txt: line 3001 is not valid UTF-8"):
        ModelFolder(folder)
    (folder / "vocab.txt").write_bytes(data.replace(b"\nw4000", b"\n\nw4000"))  # a word more than rows
    with pytest.raises(ModelError, match=r"5001 words but vectors\.npy has 5000 rows"):
        ModelFolder(folder)


def test_index_many_matches_a_dict(tmp_path):
    rng = np.random.default_rng(6)
    words = ["".join(rng.choice(list("abcé日ß"), int(rng.integers(1, 20)))) + str(i) for i in range(5000)]
    words[10] = "y" * 5000
    model = ModelFolder(write_toy_model(tmp_path / "toy", words, rng.standard_normal((len(words), 4)), tokenizer={"mode": "whitespace"}))
    queries = [words[i] for i in rng.integers(0, len(words), 300)] + ["nope", "", "y" * 4999, words[10], words[-1], words[0] + "x"]
    rows = model.index_many(queries)
    index = {w: i for i, w in enumerate(words)}
    assert rows == [index.get(q) for q in queries]
    assert "words" not in model.__dict__ and model._index is None


def test_batch_lookups_answer_like_single_ones(w2v_dir):
    words = ModelFolder(w2v_dir).words[100:140] + ["zzzqqq", "King"]
    batch = query.neighbors(ModelFolder(w2v_dir), words, k=3)
    single = [query.neighbors(ModelFolder(w2v_dir), [w], k=3)[0] for w in words]
    assert [[h.word for h in r.hits] for r in batch] == [[h.word for h in r.hits] for r in single]
    assert [type(r.error) for r in batch] == [type(r.error) for r in single]


def test_a_vocabulary_word_as_given_is_that_word_not_its_normal_form(tmp_path):
    """' king' (a Parquet word with a space) answered with the row of 'king', without a word."""
    words = ["king", " king", "queen", " ", "King", "ｋｉｎｇ"]
    vectors = np.eye(6, dtype=np.float32) + 0.01
    model = ModelFolder(write_toy_model(tmp_path / "m", words, vectors,
                                        tokenizer={"mode": "unicode", "lowercase": True}))
    for i, w in enumerate(words):
        (res,) = query.vectors(model, [w])
        assert res.error is None and res.term.word == w and res.term.index == i, w
    # Queries that are not words of the model still go through the normal form: "KING" finds king.
    (res,) = query.vectors(model, ["KING"])
    assert res.term.index == 0


def test_an_unknown_word_of_a_fasttext_model_without_ngrams_is_not_told_to_use_fasttext(tmp_path):
    """A fastText .bin trained with maxn 0 has no n-grams: the hint said to train a FastText model."""
    model = ModelFolder(write_toy_model(tmp_path / "m", ["a", "b"], np.eye(2), algorithm="fasttext"))
    (res,) = query.vectors(model, ["zzz"])
    assert isinstance(res.error, UnknownWordError)
    assert "no character n-grams" in str(res.error) and "emb train --algo fasttext" not in str(res.error)
