"""``emb tokenize``, ``vocab`` and ``train`` read stdin when no corpus is named and stdin is a pipe."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import TINY, invoke

from embcli.store import ModelStore

TEXT = "The cat sat on the mat.\nThe dog sat on the log.\n" * 30


def test_tokenize_and_vocab_read_a_piped_stdin():
    result = invoke(["tokenize"], input="Hello, World!\nDon't stop\n")
    assert result.exit_code == 0 and result.stdout == "hello world\ndon't stop\n"
    result = invoke(["vocab", "-f", "tsv"], input=TEXT)
    assert result.exit_code == 0
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0] == ["word", "count"] and rows[1] == ["the", "120"]


def test_train_reads_a_piped_stdin(emb_home):
    result = invoke(["train", *TINY, "--min-count", "1"], input=TEXT)
    assert result.exit_code == 0, result.stderr
    assert ModelStore().names() == ["stdin-word2vec"]


def test_no_corpus_on_a_terminal_is_a_usage_error(monkeypatch):
    import io

    from embcli.cli.options import corpus_inputs

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal(""))
    import typer

    with pytest.raises(typer.BadParameter, match="no corpus given: name text files, folders or globs, or pipe text"):
        corpus_inputs([])
    assert corpus_inputs(["a.txt"]) == ["a.txt"]


def test_no_corpus_with_a_closed_stdin_in_a_real_process(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "embcli", "tokenize"], stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stdout == "" and "Traceback" not in proc.stderr
