"""``emb train --continue`` of GloVe: the co-occurrence counts kept in the state, added to the new text's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_clean_error, invoke
from test_continue import fingerprint

import embcli
import embcli.training.glove as glove
from embcli.api import model_info

GLOVE = ["--algo", "glove", "--dim", "12", "--epochs", "1", "--threads", "1", "--min-count", "1"]


@pytest.fixture
def texts(tmp_path, web_lines):
    """Two real texts of 1,500 verses and the two together."""
    first, second, both = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "ab.txt"
    first.write_text("\n".join(web_lines[:1500]) + "\n", encoding="utf-8")
    second.write_text("\n".join(web_lines[1500:3000]) + "\n", encoding="utf-8")
    both.write_text(first.read_text(encoding="utf-8") + second.read_text(encoding="utf-8"), encoding="utf-8")
    return first, second, both


def run(*args):
    result = invoke(["train", *map(str, args), "-q"])
    assert result.exit_code == 0, result.stderr
    return result


def counts_by_words(home, name) -> dict:
    """The saved co-occurrence counts of model ``name`` by (word, word), words in order."""
    folder = home / "models" / name
    words = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    pairs = np.load(folder / "state" / "cooc.pairs.npy", allow_pickle=False)
    xs = np.load(folder / "state" / "cooc.x.npy", allow_pickle=False)
    assert pairs.dtype == np.int32 and xs.dtype == np.float32 and (pairs[:, 0] <= pairs[:, 1]).all()
    out = {}
    for (a, b), x in zip(pairs.tolist(), xs.tolist()):
        key = tuple(sorted((words[a], words[b])))
        assert key not in out  # each pair once
        out[key] = x
    return out


def assert_same_counts(got: dict, want: dict):
    assert got.keys() == want.keys()
    assert all(abs(got[k] - want[k]) <= 1e-4 * max(1.0, want[k]) for k in want)


def test_continued_state_holds_the_counts_of_both_texts(emb_home, texts):
    """Every word is in the vocabulary from the start (min-count 1): the continued model's counts are
    exactly those of counting both texts at once."""
    first, second, both = texts
    run(first, *GLOVE, "--name", "a")
    run(second, "--continue", "a", "--name", "ab")
    run(both, *GLOVE, "--name", "whole")
    got, whole = counts_by_words(emb_home, "ab"), counts_by_words(emb_home, "whole")
    assert len(whole) > 50_000
    assert_same_counts(got, whole)
    carried = model_info("ab")["continued"]["cooccurrences"]
    assert carried["saved_pairs"] == len(counts_by_words(emb_home, "a"))
    assert 0 < carried["saved_pairs_in_new_text"] < carried["saved_pairs"]
    # Both orders of a pair are entries of the fit.
    assert carried["new_entries_with_saved_counts"] >= carried["saved_pairs_in_new_text"]


def test_the_fit_sees_the_saved_counts_added(emb_home, texts, monkeypatch):
    """The entries AdaGrad fits are the new text's pairs with the counts of both texts, and only those."""
    first, second, both = texts
    run(first, *GLOVE, "--name", "a")
    run(both, *GLOVE, "--name", "whole")
    run(second, *GLOVE, "--name", "b")
    whole, new_only = counts_by_words(emb_home, "whole"), counts_by_words(emb_home, "b")
    seen = {}
    real_fit = glove.fit

    def spy(pairs, xs, params, vocab, *rest):
        seen["pairs"], seen["xs"] = np.array(pairs), np.array(xs)
        return real_fit(pairs, xs, params, vocab, *rest)

    monkeypatch.setattr(glove, "fit", spy)
    run(second, "--continue", "a", "--name", "ab")
    words = embcli.load("ab").words
    fitted = {}
    for (a, b), x in zip(seen["pairs"].tolist(), seen["xs"].tolist()):
        fitted[tuple(sorted((words[a], words[b])))] = x
    assert fitted.keys() == new_only.keys()
    assert_same_counts(fitted, {k: whole[k] for k in new_only})
    assert any(fitted[k] > new_only[k] + 0.5 for k in new_only)


def test_a_model_saved_without_counts_continues_on_the_new_text(emb_home, texts):
    """A GloVe model from before the counts were kept (no cooc files) continues as it did: on the new
    text's counts, which alone are then in its state."""
    first, second, _ = texts
    run(first, *GLOVE, "--name", "a")
    run(second, *GLOVE, "--name", "b")
    state = emb_home / "models" / "a" / "state"
    for name in ("cooc.pairs.npy", "cooc.x.npy"):
        (state / name).unlink()
    assert model_info("a")["continuable"] is True
    result = invoke(["train", str(second), "--continue", "a", "--name", "ab"])
    assert result.exit_code == 0, result.stderr
    assert "emb: warning: model 'a' keeps no co-occurrence counts (saved by an earlier emb)" in result.stderr
    assert "cooccurrences" not in model_info("ab")["continued"]
    assert_same_counts(counts_by_words(emb_home, "ab"), counts_by_words(emb_home, "b"))


@pytest.mark.parametrize(
    "change,message",
    [
        ("drop-x", "state/cooc.x.npy missing"),
        ("id", "outside the model's"),
        ("dtype", "counts of float64"),
        ("nan", "not a positive number"),
        ("negative", "not a positive number"),
        ("shape", "not int32 (n, 2)"),
    ],
)
def test_damaged_counts_are_one_clean_error(emb_home, texts, change, message):
    first, second, _ = texts
    run(first, *GLOVE, "--name", "a")
    state = emb_home / "models" / "a" / "state"
    pairs = np.load(state / "cooc.pairs.npy")
    xs = np.load(state / "cooc.x.npy")
    if change == "drop-x":
        (state / "cooc.x.npy").unlink()
    elif change == "id":
        pairs[7, 1] = json.loads((emb_home / "models" / "a" / "meta.json").read_text())["vocab_size"]
        np.save(state / "cooc.pairs.npy", pairs)
    elif change == "dtype":
        np.save(state / "cooc.x.npy", xs.astype(np.float64))
    elif change == "nan":
        xs[3] = np.nan
        np.save(state / "cooc.x.npy", xs)
    elif change == "negative":
        xs[:] = -5
        np.save(state / "cooc.x.npy", xs)
    else:
        np.save(state / "cooc.pairs.npy", pairs.reshape(-1))
    before = fingerprint(emb_home / "models" / "a")
    result = invoke(["train", str(second), "--continue", "a"])
    if change == "drop-x":  # seen before anything is read: not continuable, as emb models info says
        assert model_info("a")["continuable"] is False
        assert_clean_error(result, 2, "its state is incomplete", "--init", message)
    else:
        assert_clean_error(result, 1, "training state is damaged", "--init", message)
    assert fingerprint(emb_home / "models" / "a") == before
    assert sorted(p.name for p in (emb_home / "models").iterdir()) == ["a"]
