"""Bad input to ``emb train``: one clean line on stderr, exit 1 (2 for usage), store left as it was."""

from __future__ import annotations

import gzip
import json
import random
import re

import pytest
from conftest import TINY, assert_clean_error, invoke

from embcli.store import ModelStore


def store_untouched(emb_home, names=()):
    """Nothing but ``names`` in the store: no model, no temporary folder."""
    models = emb_home / "models"
    found = sorted(p.name for p in models.iterdir()) if models.is_dir() else []
    assert found == sorted(names)


def test_missing_path(emb_home, tmp_path):
    result = invoke(["train", tmp_path / "no-such-corpus.txt", *TINY])
    assert_clean_error(result, 1, "no-such-corpus.txt: no such file or folder", "check the path")
    store_untouched(emb_home)


def test_missing_path_among_good_ones(emb_home, small_corpus, tmp_path):
    result = invoke(["train", small_corpus, tmp_path / "typo.txt", *TINY])
    assert_clean_error(result, 1, "typo.txt: no such file or folder")
    store_untouched(emb_home)


def test_empty_corpus(emb_home, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert_clean_error(invoke(["train", empty, *TINY]), 1, "the corpus is empty", "empty.txt")
    store_untouched(emb_home)


def test_empty_compressed_corpus(emb_home, tmp_path):
    empty = tmp_path / "empty.txt.gz"
    empty.write_bytes(gzip.compress(b""))
    assert_clean_error(invoke(["train", empty, *TINY]), 1, "the corpus is empty")
    store_untouched(emb_home)


def test_empty_stdin(emb_home):
    assert_clean_error(invoke(["train", "-", *TINY], input=""), 1, "the corpus is empty")
    store_untouched(emb_home)


def test_corpus_without_tokens(emb_home, tmp_path):
    path = tmp_path / "punct.txt"
    path.write_text("... !!!\n\n--- ???\n" * 10)
    assert_clean_error(invoke(["train", path, *TINY]), 1, "the corpus has no tokens", "30 lines")
    store_untouched(emb_home)


def test_vocabulary_emptied_by_min_count(emb_home, small_corpus):
    result = invoke(["train", small_corpus, *TINY, "--min-count", "100000"])
    assert_clean_error(
        result, 1, "no word occurs 100000 times", "'the', occurs 7913 times", "use --min-count 7913 or lower"
    )
    store_untouched(emb_home)


@pytest.mark.parametrize("algo", ["word2vec", "fasttext"])
def test_hierarchical_softmax_with_one_word_is_one_line(emb_home, small_corpus, algo):
    result = invoke(["train", small_corpus, "--algo", algo, "--loss", "hs", "--max-vocab", "1", "--dim", "8",
                     "--epochs", "1", "--threads", "1", "--buckets", "1000"])
    assert_clean_error(result, 1, "hierarchical softmax needs at least 2 words", "--loss ns")
    assert not (emb_home / "models").exists() or not any((emb_home / "models").iterdir())


def test_a_diverging_training_names_the_learning_rate(emb_home, small_corpus):
    result = invoke(["train", small_corpus, "--algo", "fasttext", "--lr", "900", "--dim", "8", "--epochs", "1",
                     "--threads", "1", "--buckets", "1000"])
    assert_clean_error(result, 1, "training diverged", "lower --lr (now 900)")
    assert ".tmp-" not in result.stderr
    assert not (emb_home / "models").exists() or not any((emb_home / "models").iterdir())


def test_min_lr_is_an_option_and_kept(emb_home, small_corpus):
    assert invoke(["train", small_corpus, *TINY, "--min-lr", "0.001", "--name", "m"]).exit_code == 0
    assert json.loads((emb_home / "models" / "m" / "meta.json").read_text())["params"]["min_lr"] == 0.001


def test_output_to_stdout_is_refused(emb_home, small_corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(["train", small_corpus, *TINY, "--output", "-"])
    assert_clean_error(result, 2, "a model is a folder, not a stream")
    assert not (tmp_path / "-").exists()


def test_init_that_shares_no_word_says_so(emb_home, small_corpus, tmp_path):
    far = tmp_path / "far.txt"
    far.write_text("2 4\nzzqa 1 2 3 4\nzzqb 2 3 4 5\n", encoding="utf-8")
    result = invoke(["train", small_corpus, *TINY, "--init", far, "--dim", "4", "--name", "m"])
    assert result.exit_code == 0, result.stderr
    assert f"emb: warning: none of the corpus's words is in --init {far}" in result.stderr


def test_binary_file_refused_as_not_text(emb_home, tmp_path):
    rng = random.Random(1)
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(rng.randrange(256) for _ in range(50_000)))
    assert_clean_error(invoke(["train", path, *TINY]), 1, "photo.jpg: not text", "UTF-8 text")
    store_untouched(emb_home)


@pytest.mark.parametrize(
    "option, value",
    [("--dim", "0"), ("--epochs", "-1"), ("--epochs", "0"), ("--window", "0"), ("--min-count", "0"),
     ("--threads", "0"), ("--negative", "-1"), ("--sample", "2"), ("--lr", "-0.1"), ("--dim", "ten"),
     ("--algo", "bert"), ("--arch", "skipgrams")],
)
def test_invalid_numbers_and_choices_are_usage_errors(emb_home, small_corpus, option, value):
    result = invoke(["train", small_corpus, option, value])
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    # A value that is no number or no choice is refused by the parser; a number out of range by the
    # library (the same check and message as the Python API's), in one line.
    parsed = "Invalid value" in result.stderr
    assert option in result.stderr and (parsed or result.stderr.startswith("emb: error: --"))
    assert parsed or result.stderr.count("\n") == 1
    store_untouched(emb_home)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr", "0"], "--lr must be greater than 0"),
        (["--negative", "0"], "--negative must be at least 1 with --loss ns"),
        (["--algo", "fasttext", "--minn", "5", "--maxn", "3"], "minn <= maxn"),
        (["--algo", "glove", "--arch", "cbow"], "--arch cbow is for word2vec and fasttext"),
        (["--min-lr", "-1"], "--min-lr -1 must be a finite number of 0 or more"),
        (["--algo", "glove", "--loss", "hs"], "--loss hs is for word2vec and fasttext"),
    ],
)
def test_inconsistent_options_are_usage_errors(emb_home, small_corpus, args, message):
    result = invoke(["train", small_corpus, *args])
    assert_clean_error(result, 2, message)
    store_untouched(emb_home)


def test_existing_name_without_force(emb_home, small_corpus):
    assert invoke(["train", small_corpus, *TINY, "--name", "taken"]).exit_code == 0
    before = (emb_home / "models" / "taken" / "vectors.npy").read_bytes()
    result = invoke(["train", small_corpus, *TINY, "--name", "taken", "--seed", "5"])
    assert_clean_error(result, 1, "model 'taken' exists", "--force")
    assert (emb_home / "models" / "taken" / "vectors.npy").read_bytes() == before
    store_untouched(emb_home, ["taken"])


@pytest.mark.parametrize("name", ["a/b", "../escape", "..", "sub\\dir", ".hidden", " padded"])
def test_bad_model_names(emb_home, small_corpus, name):
    result = invoke(["train", small_corpus, *TINY, "--name", name])
    assert_clean_error(result, 2, "invalid model name", "without '/'")
    store_untouched(emb_home)
    assert not (emb_home / "escape").exists()


def test_failed_run_keeps_previous_default(emb_home, small_corpus, tmp_path):
    assert invoke(["train", small_corpus, *TINY, "--name", "good"]).exit_code == 0
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert invoke(["train", empty, *TINY, "--name", "bad"]).exit_code == 1
    assert ModelStore().default_name() == "good"
    store_untouched(emb_home, ["good"])


def test_training_failure_inside_gensim_leaves_no_folder(emb_home, small_corpus, monkeypatch):
    import embcli.training.gensim_trainer as trainer

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(trainer, "train_gensim", broken)
    with pytest.raises(RuntimeError):
        from embcli.corpus import Corpus
        from embcli.tokenize import TokenizerSettings
        from embcli.training.options import TrainOptions
        from embcli.training.run import train_to_store

        # Hierarchical softmax: the loss gensim still trains.
        train_to_store(ModelStore(), "m", Corpus([str(small_corpus)]), TokenizerSettings(), TrainOptions(threads=1, loss="hs"))
    store_untouched(emb_home)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dim", "5000000"], r"needs [\d,.]+ GB for its matrices but [\d,.]+ GB of memory is available: lower --dim"),
        # Before the corpus is read: the settings, not "0 words".
        (["--algo", "fasttext", "--buckets", "100000000000"],
         r"the settings \(dim 12, 100,000,000,000 buckets\) needs [\d,.]+ GB.*--buckets"),
        (["--algo", "glove", "--dim", "200000000"], r"needs [\d,.]+ GB for its matrices"),
        (["--seed", "-1"], r"--seed -1 is out of range: use a number from 0 to 4294967295"),
    ],
)
def test_sizes_that_cannot_fit_are_refused_before_allocating(emb_home, small_corpus, args, message):
    result = invoke(["train", small_corpus, *TINY, "--name", "big", *args])
    assert result.exit_code in (1, 2)
    assert re.search(message, result.stderr), result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    store_untouched(emb_home, [])


def test_huge_maxn_trains_like_the_longest_word_allows(emb_home, small_corpus):
    result = invoke(["train", small_corpus, *TINY, "--algo", "fasttext", "--maxn", "1000000", "--buckets", "1000", "--name", "ft"])
    assert result.exit_code == 0, result.stderr
    assert ModelStore().exists("ft")


def test_an_address_space_limit_is_counted_before_allocating(emb_home, tmp_path):
    """Under ``ulimit -v`` the matrices' allocation raised a MemoryError traceback (MemAvailable was plenty)."""
    import os
    import subprocess
    import sys

    small_corpus = tmp_path / "five.txt"  # 5 words: dim 200,000,000 needs 8 GB, within MemAvailable here, not 4 GB
    small_corpus.write_text("the cat sat on the mat\n" * 3)

    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (4 << 30, resource.RLIM_INFINITY));"
            " sys.argv[0] = 'emb'; from embcli.cli.entry import main; main()")
    run = subprocess.run([sys.executable, "-c", code, "train", str(small_corpus), "--dim", "200000000", "--min-count",
                          "1", "--epochs", "1", "--threads", "1", "--name", "big"],
                         env=dict(os.environ, EMB_HOME=str(emb_home)), capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert re.search(r"needs [\d,.]+ GB for its matrices but [\d,.]+ (GB|MB) of memory is available", run.stderr)
    store_untouched(emb_home, [])


def test_running_out_of_memory_while_training_is_one_line(emb_home, small_corpus, monkeypatch):
    import embcli.training.word2vec as w2v

    def short(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(w2v, "stream_threads", short)
    result = invoke(["train", small_corpus, *TINY, "--name", "m"])
    assert_clean_error(result, 1, "training ran out of memory (dim", "lower --dim or --max-vocab")
    store_untouched(emb_home, [])


def test_init_with_a_file_of_unknown_format_names_a_way_that_works(emb_home, small_corpus):
    """emb train has no --format, which the message told the user to pass."""
    result = invoke(["train", small_corpus, *TINY, "--init", small_corpus, "--name", "m"])
    assert_clean_error(result, 1, "--init", "cannot tell the format", f"emb import {small_corpus} --format FORMAT",
                       "then pass --init NAME")
    store_untouched(emb_home, [])

