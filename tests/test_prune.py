"""``emb compress --max-vocab`` and ``--prune-ngrams``, and fastText n-gram rows stored by ``--to``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error, invoke
from query_models import ft_dir, lee_ft_dir, small_corpus_file, w2v_dir  # noqa: F401

from embcli import prune, query
from embcli.api import load
from embcli.compress import Setting, compress
from embcli.errors import UnknownWordError, UsageError
from embcli.folder import ModelFolder
from embcli.folder.layout import NGRAM_BUCKETS, NGRAMS_I8


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_pruned_ngrams_answer_unseen_words_from_the_kept_rows_as_gensim_hashes_them(lee_ft_dir, tmp_path):
    from gensim.models.fasttext import ft_ngram_hashes, load_facebook_vectors
    from gensim.test.utils import datapath

    before = _digest(lee_ft_dir)
    out = tmp_path / "lee-pruned"
    cost = compress(ModelFolder(lee_ft_dir), out, Setting("float32"), benchmarks=False, prune_ngrams=300)
    assert _digest(lee_ft_dir) == before  # the original is only read
    small = ModelFolder(out)
    kept = np.load(out / NGRAM_BUCKETS)
    assert len(kept) == 300 and np.all(np.diff(kept) > 0)
    assert small.ngrams.shape == ModelFolder(lee_ft_dir).ngrams.shape  # the hashing's modulus is unchanged
    grams = cost.ngrams
    assert grams["rows_after"] == 300 and grams["by"] in prune.CRITERIA and grams["unseen_words"] > 500
    assert 0 < grams["unseen_median_cosine"] <= 1
    assert json.loads((out / "meta.json").read_text())["compression"]["ngrams"]["by"] == grams["by"]

    wv = load_facebook_vectors(datapath("lee_fasttext.bin"))
    for word in ("kingdomz", "governmentt", "xylophonic"):
        ids = np.asarray(ft_ngram_hashes(word, wv.min_n, wv.max_n, wv.bucket))
        have = ids[np.isin(ids, kept)]
        vec = load(str(out)).vector(word)
        if len(have):
            assert np.allclose(vec, wv.vectors_ngrams[have].mean(axis=0), atol=1e-5)
    assert np.array_equal(load(str(out)).vector("the"), load(str(lee_ft_dir)).vector("the"))  # vocabulary unchanged


def test_a_word_with_no_kept_ngram_is_a_clear_unknown(lee_ft_dir, tmp_path):
    out = tmp_path / "lee-tiny"
    from gensim.models.fasttext import ft_ngram_hashes

    compress(ModelFolder(lee_ft_dir), out, Setting("int8"), benchmarks=False, prune_ngrams=10)
    kept = np.load(out / NGRAM_BUCKETS)
    word = next(w for w in (f"q{i}z" for i in range(100)) if not np.isin(ft_ngram_hashes(w, 3, 6, 1000), kept).any())
    error = query.vectors(ModelFolder(out), [word])[0].error
    assert isinstance(error, UnknownWordError) and "kept none of its character n-grams" in str(error)


def test_ngrams_follow_the_vector_storage(ft_dir, tmp_path):
    out = tmp_path / "ft-int8"
    cost = compress(ModelFolder(ft_dir), out, Setting("int8"), benchmarks=False)
    assert not (out / "ngrams.npy").exists() and (out / NGRAMS_I8).is_file()
    assert cost.ngrams == {"storage": "int8"}
    original, small = load(str(ft_dir)), load(str(out))
    v1, v2 = original.vector("kingdomish"), small.vector("kingdomish")
    assert np.dot(v1, v2) / np.linalg.norm(v1) / np.linalg.norm(v2) > 0.999
    assert cost.bytes_after * 3 < cost.bytes_before
    # Every reader: an export decompresses, sentence vectors by fastText pooling run.
    vec = tmp_path / "small.vec"
    assert invoke(["export", str(vec), "-m", str(out)]).exit_code == 0
    assert vec.read_text().count("\n") == len(small) + 1


def test_max_vocab_keeps_the_most_frequent_words(w2v_dir, tmp_path):
    model = ModelFolder(w2v_dir)
    out = tmp_path / "w2v-300"
    cost = compress(model, out, Setting("float32"), benchmarks=False, max_vocab=300)
    small = ModelFolder(out)
    assert small.vocab_size == 300 and small.words == model.words[:300]
    assert np.array_equal(np.asarray(small.vectors[:]), np.asarray(model.vectors[:300]))
    assert np.array_equal(small.counts, model.counts[:300]) and small.storage == "float32"
    assert cost.vocab_before == model.vocab_size and cost.vocab_after == 300 and cost.recall_at_10 == 1.0
    hits = query.neighbors(small, [model.words[5]], k=5)[0].hits
    assert all(h.index < 300 for h in hits)
    both = tmp_path / "w2v-300-int8"
    compress(model, both, Setting("int8"), benchmarks=False, max_vocab=300)
    assert ModelFolder(both).vocab_size == 300 and ModelFolder(both).storage == "int8"


def test_cli_prune_prints_the_unseen_word_cosine(ft_dir, tmp_path):
    out = tmp_path / "ft-pruned"
    result = invoke(["compress", str(ft_dir), "--prune-ngrams", "3000", "-o", str(out), "--no-benchmarks",
                     "--prune-by", "norm"])
    assert result.exit_code == 0, result.output
    assert "unseen words to the original" in result.stderr and "kept by norm" in result.stderr
    assert ModelFolder(out).meta["ngram_storage"] == {"kind": "int8", "rows": 3000, "pruned": True}


def test_bad_pruning_is_refused(w2v_dir, ft_dir, tmp_path):
    with pytest.raises(UsageError, match="fastText models"):
        compress(ModelFolder(w2v_dir), tmp_path / "a", Setting("int8"), benchmarks=False, prune_ngrams=10)
    with pytest.raises(UsageError, match="keeps every word"):
        compress(ModelFolder(w2v_dir), tmp_path / "b", Setting("int8"), benchmarks=False, max_vocab=10**9)
    with pytest.raises(UsageError, match="keeps all"):
        compress(ModelFolder(ft_dir), tmp_path / "c", Setting("int8"), benchmarks=False, prune_ngrams=10**9)
    result = invoke(["compress", str(w2v_dir), "--dry-run", "--max-vocab", "100"])
    assert_clean_error(result, 2, "--dry-run")
    assert not any((tmp_path / n).exists() for n in "abc")


def test_unseen_words_are_not_in_the_vocabulary(ft_dir):
    model = ModelFolder(ft_dir)
    words = prune.unseen_words(model, 200, seed=3)
    assert len(words) == 200 and len(set(words)) == 200
    assert all(model.index_of(w) is None for w in words)
    assert words == prune.unseen_words(model, 200, seed=3)


def test_a_damaged_bucket_list_is_one_clear_error(lee_ft_dir, tmp_path):
    out = tmp_path / "lee-damaged"
    compress(ModelFolder(lee_ft_dir), out, Setting("int8"), benchmarks=False, prune_ngrams=100)
    kept = np.load(out / NGRAM_BUCKETS)
    np.save(out / NGRAM_BUCKETS, kept[::-1].copy())  # not increasing
    result = invoke(["neighbors", "-m", str(out), "kingdomz"])
    assert_clean_error(result, 1, "ngrams.buckets.npy", "damaged")


def test_a_pruned_model_stays_pruned_when_compressed_again_or_exported(lee_ft_dir, tmp_path):
    """Compressing a pruned model to another storage, cutting its vocabulary, or exporting it as a
    folder wrote the dropped buckets back as zero rows: 10 times the rows, and every unseen word's
    vector shortened (the zeros counted in its mean)."""
    from embcli.formats.convert import export_model

    pruned = tmp_path / "pruned"
    compress(ModelFolder(lee_ft_dir), pruned, Setting("float32"), benchmarks=False, prune_ngrams=300)
    kept = np.load(pruned / NGRAM_BUCKETS)
    words = ("kingdomz", "governmentt", "xylophonic")
    want = np.stack([load(str(pruned)).vector(w) for w in words])
    outs = {"float16": tmp_path / "f16", "max-vocab": tmp_path / "mv", "folder": tmp_path / "exported"}
    compress(ModelFolder(pruned), outs["float16"], Setting("float16"), benchmarks=False)
    compress(ModelFolder(pruned), outs["max-vocab"], Setting("int8"), benchmarks=False, max_vocab=500)
    export_model(ModelFolder(pruned), str(outs["folder"]), "folder")
    for how, out in outs.items():
        meta = json.loads((out / "meta.json").read_text())
        assert meta["ngram_storage"]["pruned"] and meta["ngram_storage"]["rows"] == 300, how
        assert np.array_equal(np.load(out / NGRAM_BUCKETS), kept), how
        got = np.stack([load(str(out)).vector(w) for w in words])
        assert np.allclose(got, want, atol=0.02 if how != "folder" else 0), how


@pytest.mark.parametrize("mapped", [True, False])
def test_a_truncated_model_looks_its_words_up_in_its_own_vocabulary(w2v_dir, monkeypatch, mapped):
    """The twin ``--max-vocab`` measures with finds its rows and words within its own N words, whatever
    the full model had already worked out about its vocabulary (chunk counts, line ends)."""
    monkeypatch.setattr(ModelFolder, "MAP_BYTES", 0 if mapped else 1 << 40)
    model = ModelFolder(w2v_dir)
    n = model.vocab_size // 2
    assert len(model._vocab_bytes) > 3 * ModelFolder._CHUNK  # several chunks, so that a stale table shows
    model.word_at(model.vocab_size - 1)  # the full model's lookup tables, worked out before truncating
    words = model.words[:]
    model.__dict__.pop("words")
    twin = prune.truncated(model, n)
    assert twin.vocab_size == n
    assert [twin.word_at(i) for i in range(0, n, 7)] == words[:n:7]
    assert [twin._search(w) for w in words[1:n:7]] == list(range(1, n, 7))
    assert twin._search(words[n]) is None and twin._search(words[-1]) is None
    assert twin.index_many(words[n - 3 : n + 3]) == [n - 3, n - 2, n - 1, None, None, None]
    assert twin.words == words[:n]
