"""emb evaluate: the same numbers as gensim on the same vectors, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath
from typer.testing import CliRunner

from embcli.cli.app import app
from embcli.corpus import Corpus
from embcli.evaluation import evaluate_analogies, evaluate_pairs, parse_pairs
from embcli.folder import ModelFolder
from embcli.tokenize import TokenizerSettings
from embcli.training.options import TrainOptions
from embcli.training.run import train_to_folder

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, web_lines):
    """A small word2vec model on 4,000 real verses, trained once for this module."""
    base = tmp_path_factory.mktemp("evaluate")
    corpus = base / "web.txt"
    corpus.write_text("\n".join(web_lines) + "\n", encoding="utf-8")
    folder = base / "model"
    options = TrainOptions(dim=32, epochs=3, min_count=2, threads=1, seed=3)
    train_to_folder(Corpus([str(corpus)]), TokenizerSettings(), options, folder)
    return folder


@pytest.fixture(scope="module")
def gensim_kv(trained):
    model = ModelFolder(trained)
    kv = KeyedVectors(model.dim)
    kv.add_vectors(model.words, np.asarray(model.vectors))
    return kv


def test_analogies_match_gensim(trained, gensim_kv):
    model = ModelFolder(trained)
    path = datapath("questions-words.txt")
    score, sections = gensim_kv.evaluate_word_analogies(path)
    ours = evaluate_analogies(model, path)
    assert ours.total.answered > 50  # the test means something only if questions were answered
    assert ours.total.accuracy == pytest.approx(score, abs=1e-12)
    gensim_sections = {s["section"]: s for s in sections}
    for sec in ours.sections:
        theirs = gensim_sections[sec.section]
        assert sec.correct == len(theirs["correct"])
        assert sec.answered == len(theirs["correct"]) + len(theirs["incorrect"])
    assert ours.total.questions == 19544
    assert ours.semantic.questions + ours.syntactic.questions == 19544


def test_restrict_vocab_matches_gensim(trained, gensim_kv):
    path = datapath("questions-words.txt")
    score, _ = gensim_kv.evaluate_word_analogies(path, restrict_vocab=500)
    ours = evaluate_analogies(ModelFolder(trained), path, restrict_vocab=500)
    assert ours.total.accuracy == pytest.approx(score, abs=1e-12)
    assert ours.total.answered < evaluate_analogies(ModelFolder(trained), path).total.answered


def test_cosmul_matches_gensim_cosmul(trained, gensim_kv):
    """3CosMul against gensim's most_similar_cosmul, question by question."""
    model = ModelFolder(trained)
    path = datapath("questions-words.txt")
    ours = evaluate_analogies(model, path, method="mul")
    vocab = {w.upper(): w for w in reversed(model.words)}
    correct = answered = 0
    for line in open(path, encoding="utf-8"):
        if line.startswith(":"):
            continue
        a, b, c, d = line.upper().split()
        if not all(w in vocab for w in (a, b, c, d)):
            continue
        answered += 1
        sims = gensim_kv.most_similar_cosmul(positive=[vocab[b], vocab[c]], negative=[vocab[a]], topn=5)
        predicted = None
        for word, _ in sims:
            predicted = word.upper()
            if predicted not in {a, b, c}:
                break
        correct += predicted == d
    assert ours.total.answered == answered
    assert ours.total.correct == correct


@pytest.mark.parametrize("name", ["wordsim353.tsv", "simlex999.txt"])
def test_pairs_match_gensim(trained, gensim_kv, name):
    pearson, spearman, oov_ratio = gensim_kv.evaluate_word_pairs(datapath(name))
    ours = evaluate_pairs(ModelFolder(trained), datapath(name))
    assert ours.answered > 20
    assert ours.spearman == pytest.approx(spearman.statistic, abs=1e-9)
    assert ours.pearson == pytest.approx(pearson.statistic, abs=1e-6)
    assert 100 * ours.oov_share == pytest.approx(oov_ratio)


def test_oov_wrong_counts_unknown_questions_as_failures(trained):
    path = datapath("questions-words.txt")
    skip = evaluate_analogies(ModelFolder(trained), path)
    wrong = evaluate_analogies(ModelFolder(trained), path, oov="wrong")
    assert wrong.total.correct == skip.total.correct
    assert wrong.total.answered == 19544
    assert wrong.total.accuracy < skip.total.accuracy


def test_all_unknown_reports_zero_coverage(trained, tmp_path):
    path = tmp_path / "unknown.txt"
    path.write_text(": made-up\nqwzx vbnm plok jhgf\nzzzq yyyq xxxq wwwq\n", encoding="utf-8")
    res = evaluate_analogies(ModelFolder(trained), path)
    assert res.total.answered == 0 and res.total.coverage == 0.0 and res.total.accuracy is None
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("qwzx vbnm 3.0\nplok jhgf 1.0\n", encoding="utf-8")
    sim = evaluate_pairs(ModelFolder(trained), pairs)
    assert sim.answered == 0 and sim.coverage == 0.0 and sim.spearman is None


def test_similarity_layouts(tmp_path):
    """WordSim353 (tabs, comments), SimLex-style header and MEN (spaces) layouts."""
    tabs = tmp_path / "ws.tsv"
    tabs.write_text("# comment\nlove\tsex\t6.77\ntiger\tcat\t7.35\n", encoding="utf-8")
    header = tmp_path / "simlex.txt"
    header.write_text("word1\tword2\tPOS\tSimLex999\nold\tnew\t1.58\n", encoding="utf-8")
    spaces = tmp_path / "men.txt"
    spaces.write_text("sun sunlight 50.000000\nautomobile car 50.000000\n", encoding="utf-8")
    assert parse_pairs(tabs) == [("love", "sex", 6.77), ("tiger", "cat", 7.35)]
    assert parse_pairs(spaces) == [("sun", "sunlight", 50.0), ("automobile", "car", 50.0)]
    assert parse_pairs(header) == [("old", "new", 1.58)]


def test_cli_two_models_json(trained):
    result = runner.invoke(
        app,
        ["evaluate", "-m", str(trained), "-m", str(trained), "--similarity", datapath("wordsim353.tsv"),
         "--analogies", datapath("questions-words.txt"), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    totals = [r for r in rows if r["section"] == "total"]
    assert len(totals) == 4  # two models x two datasets
    kinds = {(r["dataset"], r["kind"]) for r in totals}
    assert kinds == {("questions-words.txt", "analogy-add"), ("wordsim353.tsv", "similarity-spearman")}
    sections = {r["section"] for r in rows if r["dataset"] == "questions-words.txt"}
    assert {"family", "semantic", "syntactic", "total"} <= sections
    assert all(r["oov"] == "skip" for r in rows)


def test_cli_defaults_run_standard_sets_in_tsv(trained):
    result = runner.invoke(app, ["evaluate", "-m", str(trained), "--format", "tsv"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split("\t")[:4] == ["model", "dataset", "kind", "section"]
    datasets = {line.split("\t")[1] for line in lines[1:]}
    assert datasets == {"questions-words.txt", "wordsim353.tsv", "simlex999.txt"}


def test_cli_bad_layout_names_the_line(trained, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text(": sec\nathens greece baghdad iraq\nathens greece baghdad\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "-m", str(trained), "--analogies", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:3:" in result.stderr and "four words" in result.stderr
    assert "Traceback" not in result.output


def test_cli_missing_file_is_named(trained, tmp_path):
    missing = tmp_path / "nope.tsv"
    result = runner.invoke(app, ["evaluate", "-m", str(trained), "--similarity", str(missing)])
    assert result.exit_code == 1
    assert str(missing) in result.stderr and "no such file" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("score", ["nan", "inf", "-Infinity"])
def test_pairs_with_a_non_finite_score_are_refused_naming_the_line(tmp_path, score):
    from embcli.errors import DatasetError

    path = tmp_path / "pairs.tsv"
    path.write_text(f"word1\tword2\tscore\nking\tqueen\t8.5\nman\twoman\t{score}\n")
    with pytest.raises(DatasetError, match=rf"pairs.tsv:3: the score '{score}' is not a finite number"):
        parse_pairs(path)


def test_pairs_with_a_non_numeric_score_after_the_header_are_refused(tmp_path):
    from embcli.errors import DatasetError

    path = tmp_path / "pairs.tsv"
    path.write_text("king\tqueen\t8.5\nman\twoman\thigh\n")
    with pytest.raises(DatasetError, match=r"pairs.tsv:2: expected 'word1 word2 score'"):
        parse_pairs(path)


def test_analogies_in_small_batches_give_the_same_scores(trained, monkeypatch):
    import embcli.evaluation as ev

    trained = ModelFolder(trained)
    whole = evaluate_analogies(trained, datapath("questions-words.txt"), restrict_vocab=30000)
    monkeypatch.setattr(ev, "QUESTION_BATCH", 7)
    batched = evaluate_analogies(trained, datapath("questions-words.txt"), restrict_vocab=30000)
    assert whole.total.answered > 100
    assert [(s.section, s.correct, s.answered) for s in whole.sections] == [
        (s.section, s.correct, s.answered) for s in batched.sections
    ]


def test_a_fifo_nobody_writes_to_is_an_error_not_a_hang(tmp_path):
    import os

    from embcli.errors import DatasetError

    fifo = tmp_path / "pairs.fifo"
    os.mkfifo(fifo)
    with pytest.raises(DatasetError, match="a pipe with nothing written to it"):
        parse_pairs(fifo)


def test_a_pipe_with_a_writer_is_read_to_its_end(tmp_path):
    import os
    import threading

    fifo = tmp_path / "pairs.fifo"
    os.mkfifo(fifo)

    def write():
        with open(fifo, "w") as fh:
            fh.write("king\tqueen\t8.5\nman\twoman\t8.3\n")

    # The writer opens first (it blocks until a reader comes), as a shell's <(...) does.
    writer = threading.Thread(target=write)
    writer.start()
    import time

    time.sleep(0.2)
    assert parse_pairs(fifo) == [("king", "queen", 8.5), ("man", "woman", 8.3)]
    writer.join()
