"""Sentence vectors (embcli.sentences): tokenizing, the three poolings, streams, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from query_models import small_corpus_file, w2v_dir, write_toy_model  # noqa: F401

from embcli.errors import ModelError, UsageError
from embcli.folder import ModelFolder
from embcli.sentences import SIF_A, Embedder, embed_lines
from embcli.tokenize import TokenizerSettings, make_tokenizer

TRICKY = [
    "In the beginning, God created the heavens and the earth.",
    "God’s Spirit — “Let there be light,” and there was light…",
    "don't state-of-the-art 'quoted' x' -dash a--b a-'b __init__ 42 3.14",
    "Ünïcödé café NAÏVE naïve ½ ² ﬁne",
    "tabs\tand\x0bvertical\x1cfile sep\u00a0nbsp\u2009thin",
    "",
    "   ",
    "zzqx qqqq unknown-only",
    "MiXeD CaSe THE LORD",
    "emoji 😀 beside words",
]


def reference_mean(model: ModelFolder, lines, settings=None) -> tuple[np.ndarray, np.ndarray]:
    """The mean of unit vectors by the Python tokenizer and a dict: the plain definition."""
    split = make_tokenizer(settings or model.tokenizer)
    index = model.build_index()
    vectors = np.asarray(model.vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    out = np.zeros((len(lines), model.dim))
    counts = np.zeros(len(lines), dtype=int)
    for i, line in enumerate(lines):
        rows = [index[t] for t in split(line) if t in index and norms[index[t]] > 0]
        if rows:
            out[i] = (vectors[rows] / norms[rows, None]).mean(axis=0)
            counts[i] = len(rows)
    return out, counts


@pytest.fixture(scope="module")
def w2v(w2v_dir):
    return ModelFolder(w2v_dir)


def test_mean_pooling_matches_the_plain_definition(w2v, web_lines):
    lines = web_lines[:600] + TRICKY
    pooled = Embedder(w2v, "mean").embed(lines)
    ref, counts = reference_mean(w2v, lines)
    np.testing.assert_array_equal(pooled.words, counts)
    np.testing.assert_allclose(pooled.vectors, ref, atol=2e-6)
    assert pooled.empty.tolist()[-5:] == [True, True, True, False, False]


def test_mean_pooling_equals_gensim_get_mean_vector(w2v_dir, web_lines):
    from query_models import gensim_keyed_vectors

    model = ModelFolder(w2v_dir)
    kv = gensim_keyed_vectors(w2v_dir)
    split = make_tokenizer(model.tokenizer)
    lines = web_lines[1000:1200]
    got = embed_lines(model, lines)
    ref = np.stack([kv.get_mean_vector(split(line)) for line in lines])
    np.testing.assert_allclose(got, ref, atol=2e-6)


@pytest.mark.parametrize(
    "settings",
    [
        {"mode": "unicode", "lowercase": False},
        {"mode": "unicode", "min_token_length": 3},
        {"mode": "whitespace"},
        {"mode": "whitespace", "lowercase": True},
    ],
)
def test_compiled_tokenizing_agrees_with_the_python_tokenizer(tmp_path, settings):
    split = make_tokenizer(TokenizerSettings(**settings))
    words = sorted({t for line in TRICKY for t in split(line)} | {"the", "lord", "The", "LORD"})
    rng = np.random.default_rng(1)
    model = ModelFolder(write_toy_model(tmp_path / "toy", words, rng.standard_normal((len(words), 8)), tokenizer=settings))
    pooled = Embedder(model, "mean").embed(TRICKY)
    ref, counts = reference_mean(model, TRICKY)
    np.testing.assert_array_equal(pooled.words, counts)
    np.testing.assert_allclose(pooled.vectors, ref, atol=1e-6)


def test_sif_matches_the_papers_recipe(w2v, web_lines):
    lines = web_lines[:500]
    got = Embedder(w2v, "sif").embed(lines).vectors
    split = make_tokenizer(w2v.tokenizer)
    index = w2v.build_index()
    vectors = np.asarray(w2v.vectors, dtype=np.float64)
    p = w2v.counts / w2v.counts.sum()
    emb = np.zeros((len(lines), w2v.dim))
    for i, line in enumerate(lines):
        rows = [index[t] for t in split(line) if t in index]
        if rows:
            emb[i] = (SIF_A / (SIF_A + p[rows]))[:, None].T @ vectors[rows] / len(rows)
    # The first right singular vector, uncentred (TruncatedSVD in the authors' code).
    pc = np.linalg.svd(emb, full_matrices=False)[2][0]
    ref = emb - np.outer(emb @ pc, pc)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert np.abs(got @ pc).max() < 1e-4


def test_sif_refuses_too_few_lines_to_fit_its_component(w2v, web_lines):
    """One line minus its own principal component was rounding noise (two lines came out opposite)."""
    lines = [line for line in web_lines if Embedder(w2v, "mean").pool([line]).words[0]][:12]
    for n in (1, 2, 9):
        with pytest.raises(UsageError, match=f"{n} lines? with a known word (is|are) too few \\(at least 10\\)"):
            Embedder(w2v, "sif").embed(lines[:n])
        with pytest.raises(UsageError, match="too few"):
            list(Embedder(w2v, "sif").stream(iter(lines[:n])))
    # Lines without a known word do not count; with ten that have one, the component is fitted.
    with pytest.raises(UsageError, match="9 lines with a known word"):
        Embedder(w2v, "sif").embed(lines[:9] + ["qqqzz"] * 5)
    assert np.abs(Embedder(w2v, "sif").embed(lines[:10]).vectors).max() > 1e-3
    assert Embedder(w2v, "sif").embed([]).vectors.shape == (0, w2v.dim)
    # A component given (a larger collection's) embeds a single line.
    fitted = Embedder(w2v, "sif")
    fitted.embed(web_lines[:200])
    one = Embedder(w2v, "sif", component=fitted.component).embed(lines[:1]).vectors
    assert np.abs(one).max() > 1e-3
    import embcli

    np.testing.assert_array_equal(embcli.load(w2v.path).embed(lines[:1], pooling="sif", component=fitted.component), one)


def test_sif_stream_fits_the_component_on_the_first_lines(w2v, web_lines):
    lines = web_lines[:300]
    embedder = Embedder(w2v, "sif", sif_sample=100)
    blocks = list(embedder.stream(iter(lines), batch=40))
    assert [p.first_line for _, p in blocks] == list(range(1, 301, 40))
    streamed = np.concatenate([p.vectors for _, p in blocks])
    fresh = Embedder(w2v, "sif")
    np.testing.assert_allclose(embedder.component, fresh.fit_component(fresh.pool(lines[:100]).vectors), atol=1e-6)
    again = Embedder(w2v, "sif", component=embedder.component).embed(lines).vectors
    np.testing.assert_allclose(streamed, again, atol=1e-6)


def train_fasttext_bin(corpus, path, **params) -> None:
    """Train fastText's own unsupervised model on ``corpus`` into ``path``, in a fresh process.

    fastText's Python binding keeps state from one training to the next in a process: a second
    training there drifts (rows of 1e5 to 1e20, or "Encountered NaN"), and float32 sums of such rows
    differ in the fifth digit. A fresh process trains the same sane model every time.
    """
    import subprocess
    import sys

    settings = ", ".join(f"{k}={v!r}" for k, v in {"epoch": 1, "minCount": 2, "thread": 1, "verbose": 0, **params}.items())
    script = f"import fasttext; fasttext.train_unsupervised({str(corpus)!r}, {settings}).save_model({str(path)!r})"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_fasttext_pooling_is_fasttexts_own_output(tmp_path, web_file):
    fasttext = pytest.importorskip("fasttext")
    from embcli.open import open_model

    train_fasttext_bin(web_file, tmp_path / "m.bin", dim=50, bucket=5000)
    ft = fasttext.load_model(str(tmp_path / "m.bin"))
    assert np.abs(ft.get_input_matrix()).max() < 100  # a sane model, not a drifted one
    model = open_model(str(tmp_path / "m.bin"))
    lines = open(web_file, encoding="utf-8").read().split("\n")[:300] + TRICKY + ["a </s> b", "</s>"]
    ref = np.stack([ft.get_sentence_vector(line) for line in lines])
    got = Embedder(model, "fasttext").embed(lines).vectors
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    assert np.abs(got).sum(axis=1)[-5] > 0  # unknown words still have n-gram vectors
    # Word vectors are fastText's get_word_vector, </s> (its own row, no n-grams) included: it was
    # averaged with n-gram rows, as gensim does.
    import embcli

    loaded = embcli.load(tmp_path / "m.bin")
    for word in ("</s>", "the", "god", "spake"):
        np.testing.assert_allclose(loaded[word], ft.get_word_vector(word), atol=1e-6, rtol=0)
    # A folder imported before this: </s> composed as gensim does, no eos_own_row; pooling undoes it.
    import json
    import shutil

    from embcli.subwords import ngram_buckets

    old = tmp_path / "old"
    shutil.copytree(loaded.path, old)
    meta = json.loads((old / "meta.json").read_text())
    del meta["fasttext"]["eos_own_row"]
    (old / "meta.json").write_text(json.dumps(meta))
    vectors = np.load(old / "vectors.npy", mmap_mode="r+")
    grams = np.load(old / "ngrams.npy")
    eos = loaded.index("</s>")
    ids = ngram_buckets("</s>", meta["fasttext"]["minn"], meta["fasttext"]["maxn"], grams.shape[0])
    vectors[eos] = (vectors[eos] + grams[ids].sum(axis=0)) / (len(ids) + 1)
    vectors.flush()
    del vectors
    again = Embedder(ModelFolder(old), "fasttext").embed(lines).vectors
    np.testing.assert_allclose(again, ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["lee_fasttext_new.bin", "crime-and-punishment.bin", "toy-model.bin"])
def test_fasttext_pooling_on_facebooks_files(name):
    fasttext = pytest.importorskip("fasttext")
    from gensim.test.utils import datapath

    from embcli.open import open_model

    ft = fasttext.load_model(datapath(name))
    lines = TRICKY + ["the of and", "</s> the", "Привет мир и в на"]
    ref = np.stack([ft.get_sentence_vector(line) for line in lines])
    got = Embedder(open_model(datapath(name)), "fasttext").embed(lines).vectors
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)


def test_sif_needs_counts_and_says_which_pooling_works(tmp_path):
    model = ModelFolder(write_toy_model(tmp_path / "toy", ["a", "b"], np.eye(2)))
    with pytest.raises(ModelError, match="--pooling mean"):
        Embedder(model, "sif")


def test_fasttext_pooling_needs_a_fasttext_model(w2v):
    with pytest.raises(ModelError, match="--pooling mean or sif"):
        Embedder(w2v, "fasttext")


def test_bad_arguments(w2v):
    with pytest.raises(UsageError, match="unknown pooling"):
        Embedder(w2v, "max")
    with pytest.raises(UsageError, match="list of lines"):
        embed_lines(w2v, "one string")
    with pytest.raises(UsageError, match="line break"):
        embed_lines(w2v, ["two\nlines"])
    assert embed_lines(w2v, []).shape == (0, w2v.dim)


def test_stream_with_reused_buffers_gives_the_same_vectors(w2v, web_lines):
    lines = web_lines[:700]
    plain = [p.vectors.copy() for _, p in Embedder(w2v, "mean").stream(iter(lines), batch=64)]
    reused = [p.vectors.copy() for _, p in Embedder(w2v, "mean").stream(iter(lines), batch=64, reuse=True)]
    np.testing.assert_array_equal(np.concatenate(reused), np.concatenate(plain))
    np.testing.assert_array_equal(np.concatenate(plain), Embedder(w2v, "mean").embed(lines).vectors)


@pytest.mark.parametrize("keep_jamo", [True, False])
def test_compiled_and_python_paths_agree_on_korean_reviews_with_jamo(tmp_path, keep_jamo):
    """NSMC lines with ㅋㅋ/ㅠㅠ beside ASCII-only lines: the compiled path and the Python tokenizer
    give the same vectors, for models of the jamo rule and models written before it."""
    import lzma
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "sample_data" / "nsmc-3000.txt.xz"
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        lines = [line.rstrip("\n") for line in fh][:600] + ["ok ok lol", "ㅋㅋ", "ㅋㅋ lol ㅠㅠ"]
    settings = {"mode": "unicode", "keep_jamo": keep_jamo}
    split = make_tokenizer(TokenizerSettings.from_dict(settings))
    words = sorted({t for line in lines for t in split(line)})
    assert ("ㅋㅋ" in words) is keep_jamo and ("\u110f\u110f" in words) is not keep_jamo
    rng = np.random.default_rng(2)
    model = ModelFolder(write_toy_model(tmp_path / "toy", words, rng.standard_normal((len(words), 8)), tokenizer=settings))
    pooled = Embedder(model, "mean").embed(lines)
    ref, counts = reference_mean(model, lines)
    np.testing.assert_array_equal(pooled.words, counts)
    np.testing.assert_allclose(pooled.vectors, ref, atol=1e-6)
    assert counts[-1] == 3 and model.index_of(model.normalize("ㅋㅋ")) is not None


@pytest.mark.parametrize("mode, lines", [
    ("ko", ["CG good", "CG2D 3D imax", "영화는 재밌다", "CG 영화", "good movie 10/10"]),
    ("zh", ["python3.11", "我们 python3.11", "hello world"]),
])
def test_lines_of_an_analyzer_model_all_go_through_its_analyzer(tmp_path, mode, lines):
    """All-ASCII lines went to the compiled unicode tokenizer: 'CG good' was a zero vector on a ko model
    whose vocabulary has 'cg' (kiwi's token), and search said the query had no word."""
    pytest.importorskip("kiwipiepy" if mode == "ko" else "jieba")
    settings = TokenizerSettings(mode=mode)
    split = make_tokenizer(settings)
    words = sorted({t for line in lines for t in split(line)})
    rng = np.random.default_rng(0)
    model = ModelFolder(write_toy_model(tmp_path / "m", words, rng.standard_normal((len(words), 8)),
                                        tokenizer=settings.as_dict()))
    ref, counts = reference_mean(model, lines)
    pooled = Embedder(model, "mean").pool(lines)
    np.testing.assert_array_equal(pooled.words, counts)
    assert counts.min() > 0
    np.testing.assert_allclose(pooled.vectors, ref, atol=1e-6)


def test_lines_of_a_phrase_model_are_joined_as_its_training_text_was(tmp_path, web_file, emb_home):
    """'the burnt offering' was the mean of 'the' and 'offering': the phrase table was not applied."""
    import embcli

    model = embcli.train(web_file, name="ph", phrases=1, epochs=1, dim=16, threads=1)
    assert "burnt_offering" in model
    got = model.embed(["the burnt offering", "the burnt_offering", "The Burnt Offering!"])
    np.testing.assert_allclose(got[0], got[1], atol=1e-7)
    np.testing.assert_allclose(got[2], got[1], atol=1e-7)
    units = model.vectors / np.linalg.norm(model.vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(got[0], units[[model.index("the"), model.index("burnt_offering")]].mean(axis=0),
                               atol=1e-6)


def test_a_line_over_a_megabyte_is_one_line_to_embed(tmp_path, w2v):
    """It was read in pieces, each a row of its own: every later line number was off."""
    from embcli.corpus import Corpus
    from embcli.sentences import text_lines

    path = tmp_path / "big.txt"
    path.write_text("first line\n" + "the king went up " * 150_000 + "\nlast line king\nno end", encoding="utf-8")
    lines = list(text_lines(Corpus([str(path)])))
    assert [len(x) for x in lines] == [10, 17 * 150_000, 14, 6]
    assert lines[1] == "the king went up " * 150_000


def test_fasttext_pooling_of_a_model_without_ngrams_is_fasttexts(tmp_path, web_file):
    """A fastText .bin trained with maxn 0 has no n-grams: --pooling fasttext refused it, though
    fastText gives it sentence vectors (unknown words add nothing)."""
    fasttext = pytest.importorskip("fasttext")
    from embcli.open import open_model

    train_fasttext_bin(web_file, tmp_path / "m0.bin", dim=16, minn=0, maxn=0)
    ft = fasttext.load_model(str(tmp_path / "m0.bin"))
    model = open_model(str(tmp_path / "m0.bin"))
    assert model.ngrams is None or not model.meta.get("fasttext")
    lines = ["the lord said", "qqqzz unknown words only xxyyq", "god qqqzz", "", "</s> the"]
    ref = np.stack([ft.get_sentence_vector(line) for line in lines])
    got = Embedder(model, "fasttext").embed(lines).vectors
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)


def test_a_sif_sample_below_ten_lines_is_refused_at_once(w2v):
    with pytest.raises(UsageError, match="--sif-sample 5: the component needs at least 10 lines"):
        Embedder(w2v, "sif", sif_sample=5)
