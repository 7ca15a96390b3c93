"""``emb tokenize`` and ``emb vocab`` end to end: stdout, stderr and exit codes."""

from __future__ import annotations

import gzip
import json

import pytest
from conftest import assert_clean_error, invoke

TEXT = "The cat sat.\nThe dog; the CAT!\n\nA cat's tail\n"


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "pets.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.mark.parametrize("source", ["file", "gzip", "stdin"])
def test_tokenize_one_line_per_input_line(tmp_path, text_file, source):
    if source == "file":
        result = invoke(["tokenize", text_file])
    elif source == "gzip":
        path = tmp_path / "pets.bin"  # the suffix says nothing; the magic bytes do
        path.write_bytes(gzip.compress(TEXT.encode()))
        result = invoke(["tokenize", path])
    else:
        result = invoke(["tokenize", "-"], input=TEXT)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "the cat sat\nthe dog the cat\n\na cat's tail\n"
    assert result.stderr == ""


def test_tokenize_options(text_file):
    result = invoke(["tokenize", text_file, "--no-lowercase", "--min-token-length", "3"])
    assert result.stdout == "The cat sat\nThe dog the CAT\n\ncat's tail\n"
    result = invoke(["tokenize", text_file, "--tokenizer", "whitespace"])
    assert result.stdout == "The cat sat.\nThe dog; the CAT!\n\nA cat's tail\n"
    result = invoke(["tokenize", text_file, "--tokenizer", "whitespace", "--lowercase"])
    assert result.stdout.splitlines()[1] == "the dog; the cat!"


def test_tokenize_multilingual():
    text = "서울은 한국의 수도이다.\nПривет, мир!\nnaïve façade\n"
    result = invoke(["tokenize", "-"], input=text)
    assert result.stdout == "서울은 한국의 수도이다\nпривет мир\nnaïve façade\n"


def test_tokenize_reports_replaced_bytes(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"caf\xe9 au lait\n")
    result = invoke(["tokenize", path])
    assert result.exit_code == 0
    assert result.stdout == "caf au lait\n"  # U+FFFD is not a word character
    assert result.stderr == "emb: warning: 1 invalid UTF-8 bytes were replaced by U+FFFD\n"
    quiet = invoke(["--quiet", "tokenize", path])
    assert quiet.stdout == result.stdout and quiet.stderr == ""


def test_vocab_tsv_is_sorted_with_header(text_file):
    result = invoke(["vocab", text_file])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "word\tcount", "the\t3", "cat\t2", "a\t1", "cat's\t1", "dog\t1", "sat\t1", "tail\t1",
    ]  # ties by word, the order in which --max-vocab keeps words


def test_vocab_min_count_and_top(text_file):
    assert invoke(["vocab", text_file, "--min-count", "2"]).stdout.splitlines() == ["word\tcount", "the\t3", "cat\t2"]
    assert invoke(["vocab", text_file, "--top", "1"]).stdout.splitlines() == ["word\tcount", "the\t3"]
    assert invoke(["vocab", text_file, "--top", "5", "--min-count", "3"]).stdout.splitlines() == ["word\tcount", "the\t3"]


def test_vocab_formats(text_file):
    jsonl = invoke(["vocab", text_file, "--top", "2", "--format", "jsonl"]).stdout
    assert [json.loads(line) for line in jsonl.splitlines()] == [{"word": "the", "count": 3}, {"word": "cat", "count": 2}]
    as_json = invoke(["vocab", text_file, "--top", "2", "-f", "json"]).stdout
    assert json.loads(as_json) == [{"word": "the", "count": 3}, {"word": "cat", "count": 2}]
    table = invoke(["vocab", text_file, "--top", "2", "-f", "table"]).stdout
    assert "word" in table and "count" in table and "the" in table and "3" in table
    assert "\t" not in table


def test_vocab_real_corpus(small_corpus):
    result = invoke(["vocab", small_corpus, "--top", "3"])
    assert result.stdout.splitlines() == ["word\tcount", "the\t7913", "of\t4597", "and\t4297"]


def test_vocab_from_folder_and_stdin(tmp_path, text_file):
    result = invoke(["vocab", tmp_path, "-", "--top", "1"], input="the the the\n")
    assert result.stdout.splitlines() == ["word\tcount", "the\t6"]


@pytest.mark.parametrize("command", ["tokenize", "vocab"])
def test_missing_path(command, tmp_path):
    assert_clean_error(invoke([command, tmp_path / "missing.txt"]), 1, "missing.txt: no such file or folder")


@pytest.mark.parametrize("args", [["vocab", "-", "--min-count", "0"], ["vocab", "-", "--top", "0"],
                                  ["tokenize", "-", "--min-token-length", "0"], ["vocab", "-", "-f", "xml"]])
def test_bad_numbers_are_usage_errors(args):
    result = invoke(args, input="a\n")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert "Invalid value" in result.stderr
