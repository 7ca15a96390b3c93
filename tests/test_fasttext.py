"""emb's FastText trainer: n-gram rows as the query side hashes them, OOV vectors, sanity, threads."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from conftest import TINY_FT, invoke

from embcli.corpus import Corpus
from embcli.folder import ModelFolder
from embcli.open import open_model
from embcli.query import neighbors
from embcli.query import vectors as query_vectors
from embcli.subwords import ngram_buckets, oov_vector
from embcli.tokenize import TokenizerSettings
from embcli.training.options import TrainOptions
from embcli.training.run import train_to_folder
from embcli.training.fasttext import kernels, subword_rows, train_fasttext
from embcli.training.common import select_vocabulary
from embcli.training.prepare import prepare_corpus

BUCKETS = 200_003


@pytest.fixture(scope="module")
def sanity_model(tmp_path_factory, web_file) -> Model:
    """Skip-gram on 4,000 verses, dim 32, 5 epochs, one thread (about a second)."""
    target = tmp_path_factory.mktemp("ft-sanity") / "model"
    options = TrainOptions(algo="fasttext", dim=32, epochs=5, min_count=3, threads=1, buckets=100_000)
    train_to_folder(Corpus([str(web_file)]), TokenizerSettings(), options, target)
    return ModelFolder(target)


def test_subword_rows_are_the_query_side_buckets():
    words = ["a", "in", "king", "jerusalem", "über", "한국어", "naïve-ish", "x" * 40]
    offsets, rows = subword_rows(words, 3, 6, 5000)
    V = len(words)
    assert offsets.shape == (V + 2,) and rows.dtype == np.int32
    for i, w in enumerate(words):
        mine = rows[offsets[i] : offsets[i + 1]].tolist()
        assert mine == [i] + [V + 1 + b for b in ngram_buckets(w, 3, 6, 5000)]
    assert rows[offsets[V] : offsets[V + 1]].tolist() == [V]  # </s>: its own row only


def test_training_moves_exactly_the_buckets_of_vocabulary_words(tmp_path, web_lines):
    """The n-gram rows updated in training are those the query side looks up for vocabulary words."""
    src = tmp_path / "c.txt"
    src.write_text("\n".join(web_lines[:1500]) + "\n", encoding="utf-8")
    prepared = prepare_corpus(Corpus([str(src)]), TokenizerSettings(), tmp_path / "corpus.tmp")
    options = TrainOptions(algo="fasttext", dim=8, epochs=1, min_count=3, threads=1, buckets=BUCKETS, seed=5).resolved()
    words, _ = select_vocabulary(prepared.counts, 3, None)
    result = train_fasttext(prepared, options, tmp_path)
    assert result.words == words
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]  # temporary files removed
    start = np.empty((len(words) + 1 + BUCKETS, 8), dtype=np.float32)
    kernels.init_uniform(start, 1.0 / 8, 5)
    moved = set(np.flatnonzero((result.ngrams != start[len(words) + 1 :]).any(axis=1)).tolist())
    expected = {b for w in words for b in ngram_buckets(w, 3, 6, BUCKETS)}
    assert moved == expected


def test_oov_vector_is_the_mean_of_the_stored_ngram_rows(sanity_model):
    model = sanity_model
    ngrams = model.ngrams
    for word in ["kingdomship", "jerusalemite", "über-möglich", "한국어"]:
        assert model.index_of(word) is None
        rows = ngram_buckets(word, 3, 6, ngrams.shape[0])
        expected = np.asarray(ngrams)[rows].mean(axis=0)
        np.testing.assert_allclose(oov_vector(word, ngrams, 3, 6), expected, rtol=1e-6, atol=1e-7)
        found = query_vectors(model, [word])
        np.testing.assert_allclose(found[0].vector, expected, rtol=1e-6, atol=1e-7)


def test_in_vocabulary_words_are_close_to_their_ngram_vector(sanity_model):
    """A word's vector is the mean of its row and n-gram rows, so it resembles its n-grams' mean."""
    model = sanity_model
    sims = []
    for word in ["kingdom", "brothers", "offering", "daughters"]:
        assert model.index_of(word) is not None, word
        v = model.vectors[model.index_of(word)]
        o = oov_vector(word, model.ngrams, 3, 6)
        sims.append(float(v @ o / np.linalg.norm(v) / np.linalg.norm(o)))
    assert min(sims) > 0.7, sims


def test_neighbours_make_sense(sanity_model):
    model = sanity_model
    assert np.isfinite(model.vectors).all() and np.isfinite(model.ngrams).all()
    assert "</s>" not in model.words
    assert model.words[0] == "the" and list(model.counts) == sorted(model.counts, reverse=True)
    expected = {
        "father": {"father's", "fathers", "daughter", "daughters", "son", "brothers"},
        "cattle": {"goats", "rams", "lambs", "bulls", "ram", "goat"},
        "seven": {"seventh", "seventy", "fifty-seven", "thirty-seven", "seventy-five"},
    }
    for word, related in expected.items():
        hits = {h.word for h in neighbors(model, [word], k=8)[0].hits}
        assert len(hits & related) >= 2, (word, hits)
    assert "golden" in {h.word for h in neighbors(model, ["gold"], k=8)[0].hits}


def test_seed_and_threads(small_corpus, emb_home):
    base = ["train", small_corpus, *TINY_FT, "--algo", "fasttext"]
    assert invoke([*base, "--seed", "3", "--name", "a"]).exit_code == 0
    assert invoke([*base, "--seed", "4", "--name", "b"]).exit_code == 0
    a, b = open_model("a"), open_model("b")
    assert not np.array_equal(a.vectors, b.vectors)
    result = invoke([*base, "--arch", "cbow", "--name", "c", "--threads", "2"])
    assert result.exit_code == 0, result.stderr
    c = open_model("c")
    assert c.words == a.words and np.isfinite(c.vectors).all()
    assert c.meta["params"]["threads"] == 2


def test_hs_still_trains_through_gensim(small_corpus):
    result = invoke(["train", small_corpus, *TINY_FT, "--algo", "fasttext", "--loss", "hs", "--name", "hs"])
    assert result.exit_code == 0, result.stderr
    model = open_model("hs")
    assert model.meta["params"]["loss"] == "hs" and model.ngrams.shape == (5000, 12)


def test_more_threads_than_tokens_and_progress_reaches_the_last_epoch(tmp_path):
    src = tmp_path / "tiny.txt"
    src.write_text("a b a\nb a b\n", encoding="utf-8")
    prepared = prepare_corpus(Corpus([str(src)]), TokenizerSettings(), tmp_path / "corpus.tmp")
    options = TrainOptions(algo="fasttext", dim=4, epochs=3, min_count=1, threads=8, buckets=100).resolved()
    seen = []
    result = train_fasttext(prepared, options, tmp_path, lambda stage, done, total, info: seen.append((done, total)))
    assert result.words == ["a", "b"] and np.isfinite(result.vectors).all()
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    assert all(a <= b for (a, _), (b, _) in pairwise(seen))
