"""emb's Word2Vec trainer: gensim's sampling rules, sensible neighbours, progress, threads, line slices."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from conftest import W2V_TRAINERS, use_word2vec_trainer
from numba import njit

import embcli.training.common as common
import embcli.training.hogwild as hogwild
from embcli.training.common import select_vocabulary, write_ids
from embcli.corpus import Corpus
from embcli.folder import ModelFolder
from embcli.query import neighbors
from embcli.tokenize import TokenizerSettings
from embcli.training.options import TrainOptions
from embcli.training.run import train_to_folder
from embcli.training.prepare import prepare_corpus
from embcli.training.word2vec import keep_probabilities, kernels, train_word2vec


@pytest.fixture(scope="module", params=[(t, a) for t in W2V_TRAINERS for a in ("skipgram", "cbow")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def sanity_model(request, tmp_path_factory, web_file) -> ModelFolder:
    """4,000 verses, dim 32, 5 epochs, one thread (about a second), by emb's kernels and by gensim."""
    trainer, arch = request.param
    target = tmp_path_factory.mktemp("w2v-sanity") / "model"
    options = TrainOptions(arch=arch, dim=32, epochs=5, min_count=3, threads=1)
    with pytest.MonkeyPatch.context() as mp:
        use_word2vec_trainer(mp, trainer)
        train_to_folder(Corpus([str(web_file)]), TokenizerSettings(), options, target)
    return ModelFolder(target), trainer


def test_neighbours_make_sense(sanity_model):
    model, _ = sanity_model
    assert np.isfinite(model.vectors).all()
    assert model.words[0] == "the" and list(model.counts) == sorted(model.counts, reverse=True)
    expected = {
        "seven": {"six", "three", "fifty", "nine", "ten", "forty", "five", "four", "times", "days"},
        "gold": {"silver", "bronze", "pure", "acacia", "wood", "rings", "fine", "blue", "overlay", "overlaid"},
        "father": {"isaac", "jacob", "esau", "abraham", "abram", "brother", "brothers", "daughters", "noah",
                   "nahor", "laban", "son"},
    }
    for word, related in expected.items():
        hits = {h.word for h in neighbors(model, [word], k=8)[0].hits}
        assert len(hits & related) >= 2, (word, hits)
    if model.meta["params"]["arch"] == "skipgram":
        assert "daughters" in {h.word for h in neighbors(model, ["sons"], k=3)[0].hits}


def test_the_trainer_is_recorded_and_the_defaults_are_gensims(sanity_model):
    model, trainer = sanity_model
    assert model.meta["trainer"] == trainer
    params = model.meta["params"]
    assert (params["lr"], params["min_lr"], params["sample"], params["ns_exponent"]) == (0.025, 0.0001, 1e-3, 0.75)


def test_keep_probabilities_are_gensims(web_lines):
    from gensim.models import Word2Vec

    counts = {}
    for line in web_lines:
        for w in line.lower().split():
            counts[w] = counts.get(w, 0) + 1
    model = Word2Vec(vector_size=4, min_count=3, sample=1e-3)
    model.build_vocab_from_freq(counts)
    words, c = select_vocabulary(counts, 3, None)
    ours = keep_probabilities(c, 1e-3)
    theirs = np.array([model.wv.get_vecattr(w, "sample_int") for w in words]) / 2.0**32
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
    assert ours.min() < 0.2 and ours.max() == 1.0
    assert (keep_probabilities(c, 0.0) == 1.0).all()


@njit(cache=True)
def _histogram(table, draws, seed):
    out = np.zeros(table.shape[0], dtype=np.int64)
    state = np.uint64(seed)
    for _ in range(draws):
        w, state = kernels._draw(table, state)
        out[w] += 1
    return out


def test_alias_table_draws_the_unigram_distribution():
    rng = np.random.default_rng(0)
    counts = np.concatenate([[50_000, 20_000, 7], rng.integers(5, 500, size=200)]).astype(np.float64)
    weights = counts**0.75
    table = kernels.alias_table(weights)
    draws = 4_000_000
    seen = _histogram(table, draws, 12345)
    expected = weights / weights.sum() * draws
    # Every word within 5 standard deviations of its expected count, and the whole within chi^2 bounds.
    assert (np.abs(seen - expected) < 5 * np.sqrt(expected) + 1).all()
    chi2 = float(((seen - expected) ** 2 / expected).sum())
    assert chi2 < 2 * len(weights), chi2
    one = kernels.alias_table(np.array([3.0]))
    assert (_histogram(one, 1000, 1) == 1000).all()


def test_slices_begin_at_line_starts(tmp_path):
    ids = np.array([0, 1, 9, 2, 9, 3, 4, 5, 9, 6, 9], dtype=np.int32)
    path = tmp_path / "ids"
    ids.tofile(path)
    bounds = hogwild.slice_bounds(path, len(ids), 3, 9)
    assert bounds == [(0, 5), (5, 9), (9, 11)]
    assert hogwild.slice_bounds(path, len(ids), 20, 9)[-1] == (11, 11)  # more threads than lines
    assert hogwild.slice_bounds(path, len(ids), 2, None) == [(0, 5), (5, 11)]


def test_kernel_stops_at_the_last_line_end():
    table = kernels.alias_table(np.ones(3))
    wi = np.full((3, 4), 0.1, dtype=np.float32)
    wo = np.zeros((3, 4), dtype=np.float32)
    keep = np.ones(3, dtype=np.float32)
    rng = np.ones(1, dtype=np.uint64)
    sig = kernels.sigmoid_table()
    ids = np.array([0, 1, 2, 3, 0, 1, 2], dtype=np.int32)  # 3 ends a line
    for cbow in (False, True):
        used = kernels.train_span(ids, wi, wo, keep, table, sig, 3, cbow, 2, 2, 0.025, 0.0001, 0.0, 7.0, rng, 0)
        assert used == 4
        used = kernels.train_span(ids[4:], wi, wo, keep, table, sig, 3, cbow, 2, 2, 0.025, 0.0001, 0.0, 7.0, rng, 0)
        assert used == 3  # no line end at all: the whole span
    assert np.isfinite(wi).all() and np.abs(wo).sum() > 0


def _prepared(tmp_path, text, name="c.txt"):
    src = tmp_path / name
    src.write_text(text, encoding="utf-8")
    return prepare_corpus(Corpus([str(src)]), TokenizerSettings(), tmp_path / "corpus.tmp")


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_progress_within_epochs_and_files_removed(tmp_path, web_lines, monkeypatch, arch):
    monkeypatch.setattr(hogwild, "CHUNK", 2000)  # many chunks, so progress moves within an epoch
    prepared = _prepared(tmp_path, "\n".join(web_lines[:3000]) + "\n")
    words, counts = select_vocabulary(prepared.counts, 3, None)
    options = TrainOptions(arch=arch, dim=8, epochs=2, min_count=3, threads=2, seed=5).resolved()
    seen = []
    result = train_word2vec(prepared, options, tmp_path, lambda stage, done, total, info: seen.append((done, total)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]  # temporary files removed
    assert not prepared.counts  # given back once the vocabulary is chosen
    assert seen[0] == (0, 2) and seen[-1] == (2, 2)
    assert all(a <= b for (a, _), (b, _) in pairwise(seen))
    assert result.words == words and (result.counts == counts).all()
    assert result.vectors.shape == (len(words), 8) and np.isfinite(result.vectors).all()


def test_more_threads_than_tokens(tmp_path):
    prepared = _prepared(tmp_path, "a b a\nb a b\n")
    options = TrainOptions(dim=4, epochs=3, min_count=1, threads=8).resolved()
    seen = []
    result = train_word2vec(prepared, options, tmp_path, lambda stage, done, total, info: seen.append((done, total)))
    assert result.words == ["a", "b"] and np.isfinite(result.vectors).all()
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)


def test_seed_gives_the_same_vectors_with_one_thread_and_chunks(tmp_path, web_lines, monkeypatch):
    monkeypatch.setattr(hogwild, "CHUNK", 3000)
    text = "\n".join(web_lines[:2000]) + "\n"
    out = []
    for seed in (4, 4, 5):
        prepared = _prepared(tmp_path, text)
        options = TrainOptions(dim=8, epochs=2, min_count=3, threads=1, seed=seed).resolved()
        out.append(train_word2vec(prepared, options, tmp_path).vectors)
    np.testing.assert_array_equal(out[0], out[1])
    assert not np.array_equal(out[0], out[2])


def test_ids_the_kernels_read(tmp_path):
    prepared = _prepared(tmp_path, "a b zz\nb a\n\nb\n")
    words, _ = select_vocabulary(prepared.counts, 2, None)
    n = write_ids(prepared.path, words, tmp_path / "ids")
    ids = np.fromfile(tmp_path / "ids", dtype=np.int32)
    assert words == ["b", "a"] and n == len(ids)
    assert ids.tolist() == [1, 0, 2, 0, 1, 2, 0, 2]  # rare "zz" dropped, 2 ends each line


@pytest.mark.parametrize("text_chunk", [7, 1 << 22])
def test_ids_of_a_real_corpus_in_any_chunks(tmp_path, web_lines, monkeypatch, text_chunk):
    monkeypatch.setattr(common, "CHUNK_BYTES", text_chunk)
    prepared = _prepared(tmp_path, "\n".join(web_lines[:300] + ["Ünïcödé naïve “quoted” 한국어"] * 3) + "\n")
    words, _ = select_vocabulary(prepared.counts, 2, None)
    n = write_ids(prepared.path, words, tmp_path / "ids")
    index = {w: i for i, w in enumerate(words)}
    expected = []
    for line in prepared.path.read_text(encoding="utf-8").splitlines():
        expected += [index[w] for w in line.split(" ") if w in index] + [len(words)]
    assert np.fromfile(tmp_path / "ids", dtype=np.int32).tolist() == expected and n == len(expected)


def test_ids_of_text_with_empty_tokens_and_no_final_newline(tmp_path):
    src = tmp_path / "t.txt"
    src.write_bytes("a  b\n\nzz é\nb a".encode("utf-8"))  # written by hand, not by prepare_corpus
    n = write_ids(src, ["a", "b", "é"], tmp_path / "ids")
    ids = np.fromfile(tmp_path / "ids", dtype=np.int32).tolist()
    assert ids == [0, 1, 3, 3, 2, 3, 1, 0, 3] and n == len(ids)
    src.write_bytes(b"")
    assert write_ids(src, ["a"], tmp_path / "ids") == 0 and (tmp_path / "ids").stat().st_size == 0


def test_many_words_share_the_hash_table(tmp_path):
    words = [f"w{i}" for i in range(5000)] + ["".join(chr(0xAC00 + i)) for i in range(300)]
    rng = np.random.default_rng(1)
    picks = rng.integers(0, len(words) + 50, size=20000)  # 50 ids beyond: words not in the vocabulary
    names = [words[i] if i < len(words) else f"x{i}" for i in picks]
    lines = [" ".join(names[i : i + 37]) for i in range(0, len(names), 37)]
    src = tmp_path / "t.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_ids(src, words, tmp_path / "ids")
    index = {w: i for i, w in enumerate(words)}
    expected = []
    for line in lines:
        expected += [index[w] for w in line.split(" ") if w in index] + [len(words)]
    assert np.fromfile(tmp_path / "ids", dtype=np.int32).tolist() == expected
