"""``emb train --algo glove`` end to end through the CLI: output, options, help and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from embcli.cli.app import app
from embcli.store import ModelStore

FAST = ["--algo", "glove", "--dim", "12", "--epochs", "2", "--x-max", "10", "--threads", "1"]


def run(*args, input=None):
    return CliRunner().invoke(app, list(args), input=input)


def test_train_glove_into_the_store(small_corpus):
    result = run("train", str(small_corpus), *FAST, "--alpha", "0.5", "--memory", "64M", "--lr", "0.03")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "trained glove model web-small-glove" in result.stderr and "now the default model" in result.stderr
    folder = ModelStore().path("web-small-glove")
    meta = json.loads((folder / "meta.json").read_text())
    params = meta["params"]
    assert (params["x_max"], params["alpha"], params["memory"], params["lr"], params["window"]) == (
        10.0, 0.5, 0.064, 0.03, 10,
    )
    vectors = np.load(folder / "vectors.npy")
    assert vectors.shape == (meta["vocab_size"], 12) and np.isfinite(vectors).all()
    assert not list(folder.parent.glob(".tmp-*"))


def test_train_glove_from_stdin_with_defaults(web_lines):
    result = run("-q", "train", "-", "--algo", "glove", "--epochs", "1", "--dim", "8", input="\n".join(web_lines[:1500]))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    meta = json.loads((ModelStore().path("stdin-glove") / "meta.json").read_text())
    assert (meta["params"]["x_max"], meta["params"]["alpha"], meta["params"]["memory"]) == (100.0, 0.75, 2.0)


def test_help_offers_glove():
    result = run("train", "--help")
    assert result.exit_code == 0
    for text in ("GloVe", "--memory", "--x-max", "--alpha", "glove 10"):
        assert text in result.stdout
    assert "not available" not in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--memory", "1M"], "use --memory "),
        (["--memory", "plenty"], "--memory 'plenty' is not a size"),
        (["--memory", "0"], "must be greater than 0"),
        (["--x-max", "0"], "--x-max must be greater than 0"),
        (["--alpha", "0"], "--alpha must be in (0, 10]"),
    ],
)
def test_bad_glove_options_exit_2(small_corpus, args, message):
    result = run("train", str(small_corpus), *FAST, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("emb: error: ") and message in result.stderr
    assert ModelStore().names() == []


def test_too_small_memory_suggests_a_value_that_works(small_corpus):
    result = run("train", str(small_corpus), *FAST, "--memory", "10M")
    suggested = result.stderr.split("use --memory ")[1].split()[0]
    assert result.exit_code == 2 and "words" in result.stderr
    result = run("train", str(small_corpus), *FAST, "--memory", suggested)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    "content, args, message",
    [
        ("", [], "the corpus is empty"),
        ("... !!! ---\n", [], "the corpus has no tokens"),
        ("one two three\n", ["--min-count", "5"], "use --min-count 1 or lower"),
        ("solo\n" * 30, [], "nothing to fit"),
    ],
)
def test_bad_corpus_exit_1(tmp_path, content, args, message):
    src = tmp_path / "c.txt"
    src.write_text(content, encoding="utf-8")
    result = run("train", str(src), *FAST, *args)
    assert result.exit_code == 1
    assert result.stdout == "" and result.stderr.startswith("emb: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr
    assert ModelStore().names() == []


def test_missing_corpus_and_existing_model(tmp_path, small_corpus):
    result = run("train", str(tmp_path / "nope.txt"), *FAST)
    assert result.exit_code == 1 and "emb: error:" in result.stderr
    assert run("train", str(small_corpus), *FAST, "--name", "g").exit_code == 0
    result = run("train", str(small_corpus), *FAST, "--name", "g")
    assert result.exit_code == 1 and "--force" in result.stderr
