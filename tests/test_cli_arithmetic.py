"""``emb similar``, ``emb doesnt-match`` and ``emb neighbors --vector``: stdout, stderr, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from query_models import gensim_keyed_vectors, install, lee_ft_dir, small_corpus_file, w2v_dir  # noqa: F401
from typer.testing import CliRunner

from embcli.api import parse_terms, parse_vector
from embcli.cli.app import app
from embcli.errors import UsageError


@pytest.fixture
def store_model(w2v_dir):
    return install(w2v_dir, "web-small")


@pytest.fixture(scope="module")
def kv(w2v_dir):
    return gensim_keyed_vectors(w2v_dir)


def run(args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def tsv(stdout: str) -> list[list[str]]:
    return [line.split("\t") for line in stdout.splitlines()]


@pytest.mark.parametrize(
    "args",
    [
        ["king", "-man", "+woman"],
        ["king", "-", "man", "+", "woman"],
        ["-k", "4", "king", "-man", "woman"],
        ["king", "-man", "--top", "4", "+woman", "-m", "web-small"],
        ["--top=4", "king", "-man", "+woman", "--format", "tsv"],
        ["--", "king", "-man", "+woman"],
    ],
)
def test_similar_reads_signed_words_not_options(store_model, kv, args):
    res = run(["similar", *args])
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ""
    rows = tsv(res.stdout)
    want = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=len(rows) - 1)
    assert rows[0] == ["query", "rank", "word", "score", "oov"] and len(rows) - 1 in (4, 10)
    assert [r[2] for r in rows[1:]] == [w for w, _ in want]
    np.testing.assert_allclose([float(r[3]) for r in rows[1:]], [s for _, s in want], atol=1e-5)


def test_similar_words_that_look_like_options(store_model, kv):
    """-m and -k are options of the command, but -man and -king are words to subtract."""
    res = run(["similar", "father", "-king", "-man", "-k", "3"])
    assert res.exit_code == 0, res.stderr
    want = kv.most_similar(positive=["father"], negative=["king", "man"], topn=3)
    assert [r[2] for r in tsv(res.stdout)[1:]] == [w for w, _ in want]


def test_similar_and_doesnt_match_say_what_a_word_was_looked_up_as(store_model):
    """'KING,' is the vocabulary word king, not an out-of-vocabulary one, and stderr says so."""
    res = run(["similar", "KING,", "-Man", "-k", "1", "-f", "jsonl"])
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["oov"] is False
    assert res.stderr == "emb: 'KING,' looked up as 'king'\n"
    res = run(["doesnt-match", "KING,", "father", "water", "-f", "tsv"])
    assert res.exit_code == 0 and res.stderr == "emb: 'KING,' looked up as 'king'\n"


def test_similar_from_stdin_one_query_a_line(store_model, kv):
    res = run(["similar", "-k", "2", "-f", "jsonl"], input="king -man +woman\nfather -man\n\nqqqzzz +king\n")
    assert res.exit_code == 1
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["query"] for r in rows] == ["king -man +woman"] * 2 + ["father -man"] * 2
    assert [r["word"] for r in rows[2:]] == [w for w, _ in kv.most_similar(["father"], ["man"], topn=2)]
    assert res.stderr.startswith("emb: error: line 4: unknown word 'qqqzzz'") and res.stderr.count("\n") == 1


def test_similar_bad_input(store_model):
    res = run(["similar", "-king"])
    assert res.exit_code == 1 and res.stdout.count("\n") <= 1
    assert res.stderr == "emb: error: give at least one positive word or vector (the words to add)\n"
    res = run(["similar", "king", "-k", "0"])
    assert res.exit_code == 2 and res.stdout == "" and res.stderr == "emb: error: -k must be at least 1 (got 0)\n"
    res = run(["similar", "king", "-"])
    assert res.exit_code == 1 and "a '-' at the end with no word after it" in res.stderr


def test_doesnt_match(store_model, kv):
    res = run(["doesnt-match", "king", "prince", "pharaoh", "bread", "-f", "tsv"])
    assert res.exit_code == 0 and res.stderr == ""
    rows = tsv(res.stdout)
    assert rows[0] == ["query", "word", "score"]
    assert rows[1][:2] == ["king prince pharaoh bread", kv.doesnt_match(["king", "prince", "pharaoh", "bread"])]
    res = run(["doesnt-match"], input="father mother son water\nking\nbread wine qqqzzz\n")
    assert res.exit_code == 1
    assert [r[1] for r in tsv(res.stdout)[1:]] == [kv.doesnt_match(["father", "mother", "son", "water"])]
    assert res.stderr.splitlines() == [
        "emb: error: line 2: doesnt-match takes at least 2 words, got 1",
        "emb: error: line 3: unknown word 'qqqzzz': not among the 2616 words of model 'web-small';"
        " a FastText model (emb train --algo fasttext) answers unseen words from their letters",
    ]


@pytest.mark.parametrize("fmt", ["tsv", "jsonl", "json"])
def test_neighbors_of_a_vector_from_emb_vector(store_model, kv, fmt):
    vec = run(["vector", "king", "god", "-f", fmt])
    assert vec.exit_code == 0
    text = vec.stdout
    if fmt == "json":  # a JSON array of rows: one row a line is what --vector reads
        text = "\n".join(json.dumps(row) for row in json.loads(text))
    res = run(["neighbors", "--vector", "-", "-k", "3", "-f", "tsv"], input=text)
    assert res.exit_code == 0, res.stderr
    rows = tsv(res.stdout)[1:]
    assert [r[0] for r in rows] == ["king"] * 3 + ["god"] * 3
    assert [r[2] for r in rows[:3]] == [w for w, _ in kv.similar_by_vector(kv["king"], topn=3)]
    assert rows[0][2] == "king" and float(rows[0][3]) == pytest.approx(1.0, abs=1e-5)


def test_neighbors_of_plain_numbers_from_a_file(store_model, kv, tmp_path):
    path = tmp_path / "v.txt"
    path.write_text(" ".join(f"{x:.9g}" for x in kv["lord"]) + "\n" + ",".join("1" for _ in range(32)) + "\n")
    res = run(["neighbors", "--vector", path, "-k", "2", "--metric", "dot"])
    assert res.exit_code == 0, res.stderr
    rows = tsv(res.stdout)[1:]
    assert [r[0] for r in rows] == ["vector:1", "vector:1", "vector:2", "vector:2"]
    dots = kv.vectors @ kv["lord"]
    assert rows[0][2] == kv.index_to_key[int(np.argmax(dots))]


def test_neighbors_vector_bad_input(store_model, tmp_path):
    res = run(["neighbors", "--vector", "-"], input="1 2 3\nnot numbers\n")
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        "emb: error: line 1: query vector has dimension 3 but model 'web-small' has 32: give 32 numbers",
        "emb: error: line 2: not a vector of numbers: 'not numbers'",
    ]
    res = run(["neighbors", "king", "--vector", "-"], input="1 2\n")
    assert res.exit_code == 2 and "give query words or --vector, not both" in res.stderr
    res = run(["neighbors", "--vector", tmp_path / "missing.txt"])
    assert res.exit_code == 1 and res.stderr.startswith("emb: error: ") and "missing.txt" in res.stderr


def test_parse_terms_and_vectors():
    assert parse_terms("king -man +woman") == (["king", "woman"], ["man"])
    assert parse_terms(["a", "-", "b", "+", "c", "-d"]) == (["a", "c"], ["b", "d"])
    with pytest.raises(UsageError):
        parse_terms("a - - b")
    assert parse_vector("1 2,3")[1].tolist() == [1.0, 2.0, 3.0]
    assert parse_vector('{"query": "x", "vector": [1, 2]}')[0] == "x"
    assert parse_vector("king\tking\tFalse\t0.5 1")[0] == "king"
    with pytest.raises(UsageError):
        parse_vector("[1, ")


def test_similar_with_a_fasttext_word_it_never_saw(lee_ft_dir):
    """A FastText model adds an unseen word's n-gram vector, as gensim does, and marks the rows oov."""
    from gensim.models.fasttext import load_facebook_vectors
    from gensim.test.utils import datapath

    wv = load_facebook_vectors(datapath("lee_fasttext.bin"))
    res = run(["similar", "government", "+rejoicingly", "-k", "3", "-m", lee_ft_dir])
    assert res.exit_code == 0, res.stderr
    rows = tsv(res.stdout)[1:]
    assert [r[2] for r in rows] == [w for w, _ in wv.most_similar(["government", "rejoicingly"], topn=3)]
    assert {r[4] for r in rows} == {"true"}
