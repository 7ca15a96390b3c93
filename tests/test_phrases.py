"""Phrases (embcli.phrasing, emb phrases, emb train --phrases): the same phrases as gensim's Phrases."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from gensim.models.phrases import ENGLISH_CONNECTOR_WORDS, FrozenPhrases, Phrases

from conftest import TINY, assert_clean_error, invoke
from embcli import phrasing
from embcli.errors import ModelError, UsageError
from embcli.phrasing import PhraseSettings, PhraseTable, phrase_file, phrase_sentences
from embcli.tokenize import TokenizerSettings, make_tokenizer


@pytest.fixture(scope="module")
def sentences(web_lines) -> list[list[str]]:
    """The sample verses tokenized by emb, with city names mixed in so that there are 3-word phrases."""
    tokenize = make_tokenizer(TokenizerSettings())
    rng = random.Random(0)
    out = []
    for i, line in enumerate(web_lines):
        toks = tokenize(line)
        if i % 5 == 0:
            at = rng.randrange(len(toks) + 1)
            toks[at:at] = rng.choice([["new", "york", "times"], ["new", "york"], ["bank", "of", "america"]])
        out.append(toks)
    return out


def _gensim_phrases(sentences, settings: PhraseSettings) -> Phrases:
    connectors = ENGLISH_CONNECTOR_WORDS if settings.connector_words == "english" else frozenset()
    return Phrases(sentences, min_count=settings.min_count, threshold=settings.threshold, scoring=settings.scoring,
                   max_vocab_size=settings.max_vocab, connector_words=connectors)


CASES = [
    PhraseSettings(),
    PhraseSettings(scoring="npmi", threshold=0.5),
    PhraseSettings(connector_words="english", threshold=5.0, min_count=3),
    PhraseSettings(scoring="npmi", threshold=0.3, connector_words="english"),
    PhraseSettings(max_vocab=5000),  # prunes often: gensim's min_reduce rule
    PhraseSettings(max_vocab=20000, connector_words="english", scoring="npmi", threshold=0.4),
]


@pytest.mark.parametrize("settings", CASES, ids=lambda s: f"{s.scoring}-{s.connector_words}-{s.max_vocab}")
def test_same_phrases_and_output_as_gensim(sentences, settings):
    ours, table = phrase_sentences(sentences, settings)
    ref = _gensim_phrases(sentences, settings)
    assert ours == [ref[s] for s in sentences]
    exported = {k.replace(" ", "_"): v for k, v in table.passes[0].items()}
    assert exported == ref.export_phrases()
    assert len(exported) > 5
    assert any("_" in t for s in ours for t in s)


def test_table_size_and_word_count_are_gensims(sentences):
    settings = PhraseSettings(max_vocab=5000)
    p = phrasing.PhrasePass(settings)
    p.learn([" ".join(s) for s in sentences])
    ref = _gensim_phrases(sentences, settings)
    assert (p.table_size, p.total_words) == (len(ref.vocab), ref.corpus_word_count)
    assert p.table_size < 10_000  # the bound held (gensim's rule lets one sentence pass it)


def test_two_passes_find_three_word_phrases_as_gensim_does(sentences):
    settings = PhraseSettings(threshold=5.0)
    ours, table = phrase_sentences(sentences, settings, passes=2)
    bigram = _gensim_phrases(sentences, settings)
    once = [bigram[s] for s in sentences]
    trigram = _gensim_phrases(once, settings)
    assert ours == [trigram[s] for s in once]
    flat = {t for s in ours for t in s}
    assert {"new_york_times", "new_york"} <= flat
    # The saved table joins a query as training joined the text: gensim's FrozenPhrases, pass after pass.
    for query in (["the", "new", "york", "times"], ["new", "york"], ["bank", "of", "america"]):
        assert table.join(query) == FrozenPhrases(trigram)[FrozenPhrases(bigram)[query]]
    assert table.join(["new", "york", "times"]) == ["new_york_times"]


def test_files_in_small_chunks_give_the_same_text(sentences, tmp_path, monkeypatch):
    settings = PhraseSettings(connector_words="english")
    expected, table = phrase_sentences(sentences, settings)
    src = tmp_path / "tokens.txt"
    # Blank lines and stray spaces are tolerated: a blank line stays blank.
    src.write_text("\n".join(" ".join(s) for s in sentences) + "\n\n  \n", encoding="utf-8")
    monkeypatch.setattr(phrasing, "CHUNK_CHARS", 5000)  # many chunks; the pair table grows many times
    result = phrase_file(src, tmp_path / "out.txt", settings)
    lines = (tmp_path / "out.txt").read_text(encoding="utf-8").split("\n")
    assert lines[:-3] == [" ".join(s) for s in expected] and lines[-3:] == ["", "", ""]
    assert result.phrases == table.passes[0]
    assert result.tokens_in == sum(map(len, sentences))
    assert sum(result.counts.values()) == result.tokens_out
    assert result.tokens_out == sum(map(len, expected))
    assert result.counts["new_york"] == sum(s.count("new_york") for s in expected)


def test_table_round_trip(tmp_path, sentences):
    _, table = phrase_sentences(sentences, PhraseSettings(connector_words="english"), passes=2)
    table.save(tmp_path / "phrases.tsv")
    again = PhraseTable.load(tmp_path / "phrases.tsv", table.settings, 2)
    assert again.passes == table.passes and len(again) == len(table) > 0
    (tmp_path / "bad.tsv").write_text("pass\tphrase\tscore\n1\tnew\tx\n")
    with pytest.raises(ModelError, match="line 2"):
        PhraseTable.load(tmp_path / "bad.tsv", table.settings, 2)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"threshold": 0}, "above 0"),
        ({"threshold": -3}, "above 0"),
        ({"scoring": "npmi", "threshold": 1.5}, "(-1, 1]"),
        ({"scoring": "npmi", "threshold": -1}, "(-1, 1]"),
        ({"scoring": "pmi"}, "default, npmi"),
        ({"connector_words": "french"}, "none, english"),
        ({"min_count": 0}, "1 or more"),
        ({"max_vocab": 0}, "1 or more"),
    ],
)
def test_bad_settings(kwargs, fragment):
    with pytest.raises(UsageError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        PhraseSettings(**kwargs)


# ----------------------------------------------------------------------------- emb phrases


@pytest.fixture
def city_corpus(tmp_path, sentences):
    path = tmp_path / "cities.txt"
    path.write_text("\n".join(" ".join(s).upper() for s in sentences) + "\n", encoding="utf-8")
    return path


def test_cli_phrases_to_stdout_and_file(city_corpus, sentences, tmp_path):
    expected, _ = phrase_sentences(sentences, PhraseSettings(), passes=2)
    result = invoke(["phrases", city_corpus, "--threads", "1"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split("\n")[:-1] == [" ".join(s) for s in expected]
    assert "new_york_times" in result.stdout and "phrases found by pass" in result.stderr
    out = tmp_path / "out.txt"
    result = invoke(["phrases", city_corpus, "--passes", "1", "-o", out, "--connector-words", "english"])
    assert result.exit_code == 0, result.stderr
    once, _ = phrase_sentences(sentences, PhraseSettings(connector_words="english"))
    assert out.read_text(encoding="utf-8").split("\n")[:-1] == [" ".join(s) for s in once]
    assert "bank_of_america" in out.read_text(encoding="utf-8")
    assert_clean_error(invoke(["phrases", city_corpus, "-o", out]), 1, "exists: pass --force")
    # -o - is stdout, as for emb embed: it wrote a file named "-" before.
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = invoke(["phrases", city_corpus, "--threads", "1", "-o", "-"])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split("\n")[:-1] == [" ".join(s) for s in expected]
    assert not (tmp_path / "-").exists()


def test_api_phrases(city_corpus, tmp_path):
    import embcli

    result = embcli.phrases(city_corpus, tmp_path / "o.txt", passes=1, scoring="npmi", threads=1)
    assert result.table.settings.threshold == 0.5 and result.found[0] > 0
    assert result.tokens_out < result.tokens_in and result.to_dict()["found"] == result.found
    with pytest.raises(UsageError, match="output file or a stream"):
        embcli.phrases(city_corpus)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--threshold", "0"], "--threshold 0.0: default scoring needs a threshold above 0"),
        (["--scoring", "npmi", "--threshold", "2"], "give a threshold in (-1, 1]"),
        (["--passes", "0"], "--passes 0: give 1 or more"),
        (["--min-count", "0"], "--min-count 0: give 1 or more"),
    ],
)
def test_cli_bad_options(city_corpus, args, fragment):
    assert_clean_error(invoke(["phrases", city_corpus, *args]), 2, "emb: error: ", fragment)


def test_cli_empty_corpus(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert_clean_error(invoke(["phrases", empty]), 1, "the corpus is empty")
    empty.write_text("... !!!\n")
    assert_clean_error(invoke(["phrases", empty]), 1, "no tokens")


# ----------------------------------------------------------------------------- emb train --phrases


def test_train_with_phrases_answers_phrase_queries(city_corpus, emb_home, sentences):
    result = invoke(["train", city_corpus, *TINY, "--phrases", "2", "--phrase-threshold", "5", "--name", "m"])
    assert result.exit_code == 0, result.stderr
    folder = emb_home / "models" / "m"
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["phrases"]["passes"] == 2 and meta["phrases"]["threshold"] == 5.0
    assert meta["phrases"]["tokens_after"] < meta["phrases"]["tokens_before"] == meta["corpus"]["tokens"]
    words = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert "new_york_times" in words and "new_york" in words
    _, table = phrase_sentences(sentences, PhraseSettings(threshold=5.0), passes=2)
    saved = PhraseTable.load(folder / "phrases.tsv", table.settings, 2)
    assert saved.passes == table.passes
    result = invoke(["neighbors", "New York", "new york times", "-k", "2", "-m", "m"])
    assert result.exit_code == 0, result.stderr
    assert "'New York' looked up as 'new_york'" in result.stderr
    assert "'new york times' looked up as 'new_york_times'" in result.stderr
    assert result.stdout.count("\n") == 5
    result = invoke(["similarity", "new york", "bank of america", "-m", "m"])
    assert result.exit_code == 0 and "looked up as 'new_york'" in result.stderr
    result = invoke(["analogy", "new york", "new york times", "god", "-k", "1", "-m", "m"])
    assert result.exit_code == 0 and "'new york times' looked up as 'new_york_times'" in result.stderr
    # emb similar with a quoted phrase answers as the API does (it added new and york apart)
    import embcli

    result = invoke(["similar", "new york", "-god", "-k", "3", "-m", "m", "-f", "tsv"])
    assert result.exit_code == 0 and "looked up as 'new_york'" in result.stderr, result.stderr
    hits = embcli.load("m").most_similar(positive=["new york"], negative=["god"], k=3)
    assert [row.split("\t")[2] for row in result.stdout.splitlines()[1:]] == [h.word for h in hits]
    # A query the phrases do not join is still several words: the error says so.
    result = invoke(["vector", "york new", "-m", "m"])
    assert result.exit_code == 1 and "'york new' is 2 words" in result.stderr
    # A damaged table is named.
    (folder / "phrases.tsv").write_text("pass\tphrase\tscore\n7\tnew york\t1\n")
    assert_clean_error(invoke(["neighbors", "new york", "-m", "m"]), 1, "phrases.tsv: line 2")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--phrases", "1", "--phrase-threshold", "0"], "--phrase-threshold 0.0: default scoring needs"),
        (["--phrases", "1", "--phrase-scoring", "npmi", "--phrase-threshold", "3"], "(-1, 1]"),
        (["--phrases", "-1"], "--phrases -1"),
        (["--phrases", "1", "--connector-words", "klingon"], "--connector-words"),
        # Phrase settings without phrase passes did nothing, silently.
        (["--phrase-threshold", "10"], "--phrase-threshold sets the phrase passes: add --phrases 1"),
        (["--phrases", "0", "--phrase-scoring", "npmi", "--connector-words", "english"],
         "--phrase-scoring and --connector-words set the phrase passes"),
    ],
)
def test_train_bad_phrase_options(city_corpus, emb_home, args, fragment):
    assert_clean_error(invoke(["train", city_corpus, *TINY, *args, "--name", "m"]), 2, "emb: error: ", fragment)
    assert not (emb_home / "models" / "m").exists()


def test_api_refuses_phrase_settings_without_phrase_passes(city_corpus, emb_home):
    import embcli

    with pytest.raises(UsageError, match="--phrase-threshold sets the phrase passes"):
        embcli.train(city_corpus, name="m", epochs=1, dim=8, phrase_threshold=5.0)
    assert not (emb_home / "models" / "m").exists()


def test_phrase_table_follows_the_model_through_compress_and_convert(city_corpus, emb_home, tmp_path):
    assert invoke(["train", city_corpus, *TINY, "--phrases", "1", "--name", "m"]).exit_code == 0
    meta = json.loads((emb_home / "models" / "m" / "meta.json").read_text())
    assert meta["phrases"]["threshold"] == 50.0 == meta["params"]["phrase_threshold"]  # emb train's default
    assert invoke(["compress", "m", "--to", "int8", "--name", "small"]).exit_code == 0
    assert invoke(["convert", emb_home / "models" / "m", tmp_path / "copy", "--to", "folder", "--limit", "500"]).exit_code == 0
    for spec in ("small", str(tmp_path / "copy")):
        result = invoke(["vector", "new york", "-m", spec])
        assert result.exit_code == 0 and "looked up as 'new_york'" in result.stderr, result.stderr


def test_continuing_a_phrase_model_joins_the_new_text_with_its_phrases(tmp_path, web_lines, emb_home):
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("\n".join(web_lines[:2500]) + "\n", encoding="utf-8")
    new.write_text("\n".join(web_lines[2500:]) + "\n", encoding="utf-8")
    assert invoke(["train", old, *TINY, "--phrases", "1", "--phrase-threshold", "10", "--name", "m"]).exit_code == 0
    saved = (emb_home / "models" / "m" / "phrases.tsv").read_text(encoding="utf-8")
    assert_clean_error(invoke(["train", new, "--continue", "m", "--phrases", "1", "--threads", "1"]), 2,
                       "--phrases with --continue")
    result = invoke(["train", new, "--continue", "m", "--threads", "1"])
    assert result.exit_code == 0, result.stderr
    folder = emb_home / "models" / "m-continued"
    assert (folder / "phrases.tsv").read_text(encoding="utf-8") == saved
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["phrases"]["tokens_after"] < meta["phrases"]["tokens_before"]
    import numpy as np

    words = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")
    before = dict(zip((emb_home / "models" / "m" / "vocab.txt").read_text(encoding="utf-8").split("\n"),
                      np.load(emb_home / "models" / "m" / "counts.npy").tolist()))
    after = dict(zip(words, np.load(folder / "counts.npy").tolist()))
    assert after["right_hand"] > before["right_hand"]  # the new text's "right hand" was joined
    result = invoke(["vector", "right hand", "-m", "m-continued"])
    assert result.exit_code == 0 and "looked up as 'right_hand'" in result.stderr


@pytest.mark.parametrize("how", ["same path", "symlink", "folder"])
def test_phrases_never_write_over_their_own_corpus(city_corpus, tmp_path, how):
    """With --force, `emb phrases corpus.txt -o corpus.txt` replaced the corpus with its phrased text."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(Path(city_corpus).read_bytes())
    before = corpus.read_bytes()
    given, output = corpus, corpus
    if how == "symlink":
        output = tmp_path / "link.txt"
        output.symlink_to(corpus)
    elif how == "folder":
        given = tmp_path
    res = invoke(["phrases", given, "-o", output, "--force"])
    assert_clean_error(res, 2, "is also an input", "another file")
    assert corpus.read_bytes() == before
