"""``emb train``: model folders for every algorithm, metadata, FastText subwords, determinism."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from conftest import TINY, TINY_FT, W2V_TRAINERS, assert_clean_error, invoke, use_word2vec_trainer

from embcli.corpus import Corpus
from embcli.errors import CorpusError
from embcli.folder import ModelFolder
from embcli.open import open_model
from embcli.store import ModelStore
from embcli.subwords import oov_vector
from embcli.tokenize import MAX_SENTENCE_TOKENS, TokenizerSettings
from embcli.training.options import TrainOptions
from embcli.training.run import train_to_folder
from embcli.training.prepare import prepare_corpus
from embcli.vocab import count_words


@pytest.fixture(scope="module", params=W2V_TRAINERS)
def trained_home(request, tmp_path_factory, web_file):
    """A store with a word2vec skip-gram model ``w2v`` trained through the CLI (do not change it),
    once by emb's own kernels and once by gensim."""
    home = tmp_path_factory.mktemp("trained-home")
    with pytest.MonkeyPatch.context() as mp:
        use_word2vec_trainer(mp, request.param)
        result = invoke(["train", web_file, *TINY, "--name", "w2v"], env={"EMB_HOME": str(home)})
    assert result.exit_code == 0, result.stderr
    return home, result


@pytest.fixture(scope="module")
def w2v(trained_home) -> Model:
    home, _ = trained_home
    return ModelFolder(home / "models" / "w2v")


@pytest.fixture(scope="module")
def fasttext_run(tmp_path_factory, web_file):
    """A FastText model trained by the library."""
    target = tmp_path_factory.mktemp("ft") / "model"
    options = TrainOptions(algo="fasttext", dim=12, epochs=1, min_count=3, threads=1, buckets=5000)
    result = train_to_folder(Corpus([str(web_file)]), TokenizerSettings(), options, target)
    return ModelFolder(target), result


# ------------------------------------------------------------------ the model folder


def test_cli_summary_and_default(trained_home):
    home, result = trained_home
    assert result.stdout == ""
    assert "trained word2vec model w2v" in result.stderr
    assert "now the default model" in result.stderr
    assert (home / "default").read_text().strip() == "w2v"


def test_model_folder_files_and_shapes(w2v):
    files = sorted(p.name for p in w2v.path.iterdir())
    # emb's own kernels keep the training state (--continue); gensim's trainer has none to keep.
    state = ["state"] if w2v.meta["trainer"] == "word2vec" else []
    assert files == sorted(["counts.npy", "meta.json", "norms.npy", "vectors.npy", "vocab.txt", *state])
    for name in ("counts.npy", "norms.npy", "vectors.npy"):
        np.load(w2v.path / name, allow_pickle=False)  # no pickles anywhere
    V = len(w2v.words)
    assert V > 1000
    assert w2v.vectors.shape == (V, 12) and w2v.vectors.dtype == np.float32
    assert w2v.norms.shape == (V,)
    np.testing.assert_allclose(w2v.norms, np.linalg.norm(w2v.vectors, axis=1), rtol=1e-5)
    assert w2v.counts.dtype == np.int64 and w2v.counts.shape == (V,)
    assert np.all(np.diff(w2v.counts) <= 0), "counts must be sorted, most frequent first"
    assert w2v.words[:3] == ["the", "of", "and"]
    assert w2v.counts.min() >= 3
    assert w2v.ngrams is None


def test_counts_are_the_corpus_counts(w2v, web_file):
    counts = dict(count_words(Corpus([str(web_file)]), TokenizerSettings(), min_count=3))
    assert len(counts) == len(w2v.words)
    assert dict(zip(w2v.words, w2v.counts.tolist())) == counts


def test_meta_json(w2v, web_file):
    meta = json.loads((w2v.path / "meta.json").read_text())
    assert meta["algorithm"] == "word2vec"
    assert meta["format_version"] == 1
    assert meta["vocab_size"] == len(w2v.words) and meta["dim"] == 12
    params = meta["params"]
    assert params["arch"] == "skipgram" and params["loss"] == "ns"
    assert (params["dim"], params["epochs"], params["window"], params["min_count"]) == (12, 1, 5, 3)
    assert params["lr"] == 0.025 and params["sample"] == 1e-3 and params["threads"] == 1
    assert params["ns_exponent"] == 0.75
    assert "minn" not in params
    assert meta["tokenizer"] == {"mode": "unicode", "lowercase": True, "min_token_length": 1, "keep_jamo": True}
    corpus = meta["corpus"]
    assert corpus["inputs"] == [str(web_file)]
    assert corpus["lines"] == 4000 and corpus["files"] == 1 and corpus["replaced_bytes"] == 0
    assert corpus["bytes"] == web_file.stat().st_size
    assert corpus["tokens"] == sum(c for _, c in count_words(Corpus([str(web_file)]), TokenizerSettings()))
    assert set(meta["timings"]) == {"tokenize_seconds", "train_seconds"}
    assert meta["emb_version"] and meta["created"]


def test_vectors_are_meaningful(w2v):
    # Even one epoch of 12 dimensions puts numbers nearer to numbers than to other words.
    v = np.asarray(w2v.vectors) / np.asarray(w2v.norms)[:, None]

    def sim(a, b):
        return float(v[w2v.index_of(a)] @ v[w2v.index_of(b)])

    numbers = ["three", "four", "five", "six", "seven", "ten"]
    others = ["bread", "water", "went", "said", "land", "heaven"]
    near = np.mean([sim(a, b) for a in numbers for b in numbers if a != b])
    far = np.mean([sim(a, b) for a in numbers for b in others])
    assert near > far + 0.01, (near, far)


@pytest.mark.parametrize(
    "extra, params",
    [
        (["--arch", "cbow"], {"arch": "cbow", "loss": "ns"}),
        (["--loss", "hs"], {"arch": "skipgram", "loss": "hs"}),
        (["--arch", "cbow", "--loss", "hs", "--window", "3", "--negative", "0"], {"arch": "cbow", "loss": "hs", "window": 3}),
    ],
)
def test_word2vec_variants(word2vec_trainer, small_corpus, emb_home, extra, params):
    result = invoke(["train", small_corpus, *TINY, "--name", "m", *extra])
    assert result.exit_code == 0, result.stderr
    model = open_model("m")
    assert model.vectors.shape == (len(model.words), 12)
    assert np.all(np.isfinite(model.vectors))
    assert model.meta["algorithm"] == "word2vec"
    assert params.items() <= model.meta["params"].items()


def test_max_vocab(word2vec_trainer, small_corpus):
    result = invoke(["train", small_corpus, *TINY, "--max-vocab", "500", "--name", "m"])
    assert result.exit_code == 0, result.stderr
    assert len(open_model("m").words) <= 500


@pytest.mark.parametrize("args", [["--loss", "hs"], ["--loss", "ns"], ["--algo", "fasttext", "--loss", "hs"]])
def test_max_vocab_keeps_exactly_the_most_frequent_words_ties_by_word(small_corpus, args):
    """--loss hs went through gensim's max_final_vocab, which drops a whole tie at the cut (99 of 100)."""
    from embcli.api.corpora import count_words

    ranked, _ = count_words(small_corpus, min_count=1)
    counts = dict(ranked)
    ordered = sorted(counts, key=lambda w: (-counts[w], w))
    cut = next(n for n in range(100, 400) if counts[ordered[n - 1]] == counts[ordered[n]])  # a tie at the cut
    extra = ["--buckets", "2000"] if "fasttext" in args else []
    result = invoke(["train", small_corpus, "--dim", "8", "--epochs", "1", "--threads", "1", "--min-count", "1",
                     "--max-vocab", str(cut), *args, *extra, "--name", "m", "--force"])
    assert result.exit_code == 0, result.stderr
    model = open_model("m")
    assert model.words == ordered[:cut]
    assert model.counts.tolist() == [counts[w] for w in ordered[:cut]]


def test_tokenizer_settings_saved(small_corpus):
    args = ["train", small_corpus, *TINY, "--tokenizer", "whitespace", "--min-token-length", "2", "--name", "ws"]
    assert invoke(args).exit_code == 0
    model = open_model("ws")
    assert model.meta["tokenizer"] == {"mode": "whitespace", "lowercase": False, "min_token_length": 2}
    assert "In" in model.words and "God," in model.words  # whitespace mode: case and punctuation kept
    assert model.normalize("God,") == "God,"


def test_no_lowercase(small_corpus):
    assert invoke(["train", small_corpus, *TINY, "--no-lowercase", "--name", "cased"]).exit_code == 0
    model = open_model("cased")
    assert model.index_of("God") is not None and model.index_of("god") is None


# ------------------------------------------------------------------ FastText


def test_fasttext_folder(fasttext_run):
    model, result = fasttext_run
    assert sorted(p.name for p in model.path.iterdir()) == [
        "counts.npy", "meta.json", "ngrams.npy", "norms.npy", "state", "vectors.npy", "vocab.txt",
    ]
    assert model.ngrams.shape == (5000, 12) and model.ngrams.dtype == np.float32
    assert model.meta["fasttext"] == {"minn": 3, "maxn": 6, "buckets": 5000}
    # emb's FastText defaults follow Facebook's fastText.
    assert model.meta["params"]["lr"] == 0.05 and model.meta["params"]["sample"] == 1e-4
    assert model.meta["params"]["ns_exponent"] == 0.5
    assert result.algorithm == "fasttext" and result.vocab_size == len(model.words)


def test_oov_vector_of_a_model_written_by_facebook_fasttext():
    from gensim.models.fasttext import load_facebook_vectors
    from gensim.test.utils import datapath

    kv = load_facebook_vectors(datapath("lee_fasttext.bin"))
    for word in ["unseenword", "nightmarishly", "Ünïcödé"]:
        assert word not in kv.key_to_index
        ours = oov_vector(word, kv.vectors_ngrams, kv.min_n, kv.max_n)
        np.testing.assert_allclose(ours, kv.get_vector(word), rtol=1e-5, atol=1e-7)


def test_fasttext_through_cli(small_corpus):
    result = invoke(["train", small_corpus, *TINY_FT, "--algo", "fasttext", "--arch", "cbow", "--minn", "2", "--maxn", "4"])
    assert result.exit_code == 0, result.stderr
    model = open_model("web-small-fasttext")
    assert model.meta["fasttext"] == {"minn": 2, "maxn": 4, "buckets": 5000}
    assert model.meta["params"]["arch"] == "cbow"


# ------------------------------------------------------------------ determinism


def _vectors(home, name):
    return np.load(home / "models" / name / "vectors.npy")


def test_same_seed_one_thread_gives_identical_vectors(word2vec_trainer, small_corpus, emb_home):
    for name in ("a", "b"):
        assert invoke(["train", small_corpus, *TINY, "--seed", "7", "--name", name]).exit_code == 0
    assert invoke(["train", small_corpus, *TINY, "--seed", "8", "--name", "c"]).exit_code == 0
    np.testing.assert_array_equal(_vectors(emb_home, "a"), _vectors(emb_home, "b"))
    assert not np.array_equal(_vectors(emb_home, "a"), _vectors(emb_home, "c"))


def test_fasttext_determinism(small_corpus, emb_home):
    for name in ("a", "b"):
        args = ["train", small_corpus, *TINY_FT, "--algo", "fasttext", "--seed", "3", "--name", name]
        assert invoke(args).exit_code == 0
    np.testing.assert_array_equal(_vectors(emb_home, "a"), _vectors(emb_home, "b"))
    a = np.load(emb_home / "models" / "a" / "ngrams.npy")
    np.testing.assert_array_equal(a, np.load(emb_home / "models" / "b" / "ngrams.npy"))


# ------------------------------------------------------------------ store options


def test_default_name_output_no_default_force(small_corpus, emb_home, tmp_path):
    store = ModelStore()
    assert invoke(["train", small_corpus, *TINY]).exit_code == 0
    assert store.names() == ["web-small-word2vec"] and store.default_name() == "web-small-word2vec"

    result = invoke(["train", small_corpus, *TINY, "--name", "second", "--no-default"])
    assert result.exit_code == 0 and "default unchanged" in result.stderr
    assert store.default_name() == "web-small-word2vec"

    before = _vectors(emb_home, "second")
    result = invoke(["train", small_corpus, *TINY, "--name", "second", "--seed", "9", "--force"])
    assert result.exit_code == 0, result.stderr
    assert store.default_name() == "second"
    assert not np.array_equal(before, _vectors(emb_home, "second"))
    assert sorted(p.name for p in store.models_dir.iterdir()) == ["second", "web-small-word2vec"]

    out = tmp_path / "elsewhere" / "model"
    result = invoke(["train", small_corpus, *TINY, "--output", out])
    assert result.exit_code == 0, result.stderr
    assert f"saved to {out}" in result.stderr
    assert ModelFolder(out).vectors.shape[1] == 12
    assert store.default_name() == "second" and len(store.names()) == 2

    assert_clean_error(invoke(["train", small_corpus, *TINY, "--output", out]), 1, "exists", "--force")
    assert invoke(["train", small_corpus, *TINY, "--output", out, "--force"]).exit_code == 0
    assert [p.name for p in out.parent.iterdir()] == ["model"]


def test_name_and_output_together_are_refused(small_corpus, tmp_path):
    result = invoke(["train", small_corpus, "--name", "x", "--output", tmp_path / "o"])
    assert_clean_error(result, 2, "--name or --output")


def test_train_from_stdin(web_lines):
    text = "\n".join(web_lines) + "\n"
    result = invoke(["train", "-", *TINY], input=text)
    assert result.exit_code == 0, result.stderr
    model = open_model("stdin-word2vec")
    assert model.meta["corpus"]["inputs"] == ["-"] and model.meta["corpus"]["lines"] == 4000


def test_emb_home_is_the_store(small_corpus, tmp_path, monkeypatch):
    home = tmp_path / "other-home"
    monkeypatch.setenv("EMB_HOME", str(home))
    assert invoke(["train", small_corpus, *TINY, "--name", "here"]).exit_code == 0
    assert (home / "models" / "here" / "vectors.npy").is_file()
    assert (home / "default").read_text().strip() == "here"


# ------------------------------------------------------------------ the tokenizing pass


def test_prepare_splits_long_lines_and_keeps_every_token(tmp_path):
    long_line = " ".join(f"w{i % 3000}" for i in range(2 * MAX_SENTENCE_TOKENS + 5))
    src = tmp_path / "long.txt"
    src.write_text("short line here\n" + long_line + "\n\n...\n", encoding="utf-8")
    out = tmp_path / "prepared.txt"
    prepared = prepare_corpus(Corpus([str(src)]), TokenizerSettings(), out)
    lines = out.read_text().splitlines()
    assert [len(line.split()) for line in lines] == [3, MAX_SENTENCE_TOKENS, MAX_SENTENCE_TOKENS, 5]
    assert " ".join(lines[1:]).split() == long_line.split()
    assert prepared.sentences == 4 and prepared.stats.tokens == 3 + 2 * MAX_SENTENCE_TOKENS + 5
    assert prepared.stats.lines == 4
    assert prepared.counts == Counter(" ".join(lines).split())


def test_long_line_trains_without_losing_words(word2vec_trainer, tmp_path):
    # One 30,000-token line: gensim alone would drop everything past 10,000 tokens.
    words = [f"tail{i % 50}" if i >= 25_000 else f"head{i % 50}" for i in range(30_000)]
    src = tmp_path / "one-line.txt"
    src.write_text(" ".join(words), encoding="utf-8")
    result = invoke(["train", src, *TINY, "--name", "long"])
    assert result.exit_code == 0, result.stderr
    model = open_model("long")
    assert set(model.words) == set(words)
    assert model.meta["corpus"]["tokens"] == 30_000


def test_replaced_bytes_are_reported(tmp_path, web_lines):
    src = tmp_path / "bad.txt"
    src.write_bytes(("\n".join(web_lines[:2000]) + "\n").encode() + b"caf\xe9 \xff\n")
    result = invoke(["train", src, *TINY, "--name", "bad"])
    assert result.exit_code == 0, result.stderr
    assert "2 invalid UTF-8 bytes" in result.stderr
    assert open_model("bad").meta["corpus"]["replaced_bytes"] == 2


def test_parallel_tokenizing_writes_the_same_file(tmp_path, web_lines, monkeypatch):
    import embcli.training.prepare as prepare

    monkeypatch.setattr(prepare, "BLOCK_LINES", 100)  # many small blocks, so order matters
    long_line = " ".join(f"x{i}" for i in range(MAX_SENTENCE_TOKENS + 7))
    src = tmp_path / "c.txt"
    src.write_text("\n".join(web_lines[:1500] + ["", long_line, "!!!"] + web_lines[1500:]) + "\n", encoding="utf-8")
    one = prepare_corpus(Corpus([str(src)]), TokenizerSettings(), tmp_path / "one.txt", workers=1)
    two = prepare_corpus(Corpus([str(src)]), TokenizerSettings(), tmp_path / "two.txt", workers=3)
    assert (tmp_path / "one.txt").read_bytes() == (tmp_path / "two.txt").read_bytes()
    assert one.counts == two.counts  # equal; words of equal count may come in another order
    assert (one.sentences, one.stats.tokens, one.stats.lines) == (two.sentences, two.stats.tokens, two.stats.lines)
    assert one.sentences == 4000 + 2  # the long line is two sentences; the empty and "!!!" lines none


def test_parallel_tokenizing_errors_are_clean(tmp_path):
    src = tmp_path / "punct.txt"
    src.write_text("!!! ???\n" * 5000)
    with pytest.raises(CorpusError, match="no tokens"):
        prepare_corpus(Corpus([str(src)]), TokenizerSettings(), tmp_path / "out.txt", workers=2)


def test_training_with_threads_uses_the_pool(word2vec_trainer, small_corpus):
    # Default --threads (all cores) tokenizes in worker processes; the model is as complete.
    result = invoke(["train", small_corpus, "--dim", "8", "--epochs", "1", "--min-count", "3", "--threads", "2"])
    assert result.exit_code == 0, result.stderr
    model = open_model()
    assert model.meta["corpus"]["tokens"] == 98_842 and model.meta["params"]["threads"] == 2


@pytest.mark.parametrize("corpus, expected", [
    ("web.txt.xz", "web-word2vec"), ("d/*.txt*", "corpus-word2vec"), ("*.txt.*", "corpus-word2vec"),
    ("d/*.txt", "corpus-word2vec"), ("news-*.txt.gz", "news--word2vec"), (".hidden.txt", "hidden-word2vec"),
    ("-", "stdin-word2vec"), ("data/", "data-word2vec"),
])
def test_default_model_names_are_valid_names(corpus, expected):
    """A glob ending in * gave '.txt-word2vec', which the store refused naming a name never typed."""
    from embcli.store import check_name
    from embcli.training.run import default_model_name

    assert check_name(default_model_name([corpus], "word2vec")) == expected


def test_an_empty_name_is_refused_not_taken_as_none(web_file, emb_home):
    import embcli

    with pytest.raises(embcli.UsageError, match="invalid model name ''"):
        embcli.train(web_file, name="", epochs=1, dim=8)
    result = invoke(["train", web_file, "--name", "", "--epochs", "1"])
    assert result.exit_code == 2 and "invalid model name ''" in result.stderr
    assert not (emb_home / "models").exists() or not any((emb_home / "models").iterdir())



def _blocks_line_by_line(lines, block_lines, block_chars):
    """The rule ``prepare._blocks`` follows, line by line: a block ends at its block_lines-th line or
    at the first line that brings it to block_chars characters."""
    block, size = [], 0
    for line in lines:
        block.append(line)
        size += len(line)
        if len(block) >= block_lines or size >= block_chars:
            yield block
            block, size = [], 0
    if block:
        yield block


@pytest.mark.parametrize("seed", range(6))
def test_blocks_cut_from_batches_are_the_line_by_line_blocks(monkeypatch, seed):
    import random

    import embcli.training.prepare as prepare

    rng = random.Random(seed)
    block_lines, block_chars = rng.choice([(7, 50), (3, 1000), (100, 20), (5, 5)])
    monkeypatch.setattr(prepare, "BLOCK_LINES", block_lines)
    monkeypatch.setattr(prepare, "BLOCK_CHARS", block_chars)
    batches = [
        ["x" * rng.choice([0, 0, 1, 3, 9, 30, 60]) + str(i) * rng.randint(0, 1) for i in range(rng.randint(0, 25))]
        for _ in range(40)
    ]
    lines = [line for batch in batches for line in batch]
    got = list(prepare._blocks(iter(batches)))
    assert got == list(_blocks_line_by_line(lines, block_lines, block_chars))
    assert [line for block in got for line in block] == lines
    assert all(block for block in got)


def test_the_reader_s_batches_are_its_lines(tmp_path):
    path = tmp_path / "c.txt"
    long_line = "y " * 700_000  # over MAX_LINE_BYTES: comes in pieces
    path.write_bytes(b"one\ntwo \xff\n\nthree\r\n" + long_line.encode() + b"\nlast")
    corpus = Corpus([str(path)])
    lines = list(corpus.lines())
    stats = corpus.stats.as_dict()
    batches = list(corpus.batches())
    assert all(isinstance(batch, list) and batch for batch in batches)
    assert [line for batch in batches for line in batch] == lines
    assert lines[:4] == ["one", "two \ufffd", "", "three"] and lines[-1] == "last" and len(lines) > 6
    assert corpus.stats.as_dict() == stats and stats["lines"] == 6 and stats["replaced_bytes"] == 1
