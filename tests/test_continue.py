"""``emb train --continue MODEL`` and ``--init MODEL|FILE``: the state kept, what resumes from it, and bad input."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from conftest import SAMPLE, TINY, TINY_FT, assert_clean_error, invoke

import embcli
from embcli.api import model_info
from embcli.training import resume

ALGOS = {"word2vec": TINY, "fasttext": TINY_FT, "glove": TINY}


def fingerprint(folder):
    """Every file of a folder with its bytes' hash: equal means byte-identical."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def halves(tmp_path, web_lines):
    """Two real corpora: the first 2,000 verses and the next 2,000; ``Zorblax`` is in the second only,
    ``quimby`` 3 times in each (below --min-count 5 in either, above it in both)."""
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("\n".join(web_lines[:2000] + ["the quimby came"] * 3) + "\n", encoding="utf-8")
    second.write_text("\n".join(web_lines[2000:] + ["the zorblax of the king"] * 8 + ["quimby went"] * 3) + "\n",
                      encoding="utf-8")
    return first, second


def train(corpus, name, algo="word2vec", *extra):
    result = invoke(["train", corpus, "--algo", algo, "--name", name, *ALGOS[algo], *extra])
    assert result.exit_code == 0, result.stderr
    return result


@pytest.mark.parametrize("algo", list(ALGOS))
def test_continue_adds_new_words_and_keeps_the_original(emb_home, halves, algo):
    first, second = halves
    train(first, "a", algo, "--min-count", "5")
    before = fingerprint(emb_home / "models" / "a")
    info = model_info("a")
    assert info["continuable"] is True and info["state_bytes"] > 0
    assert info["state_bytes"] == sum((emb_home / "models" / "a" / f).stat().st_size for f in info["state"]["files"])
    old = embcli.load("a")
    result = invoke(["train", second, "--continue", "a", "--threads", "1"])
    assert result.exit_code == 0, result.stderr
    assert fingerprint(emb_home / "models" / "a") == before
    new = embcli.load("a-continued")
    assert new.dim == old.dim == 12
    words = new.words
    assert "zorblax" in words and "zorblax" not in old.words
    # 3 + 3 occurrences: rare in each half, kept over both (the rare counts are in the state).
    assert "quimby" in words and "quimby" not in old.words
    assert set(old.words) <= set(words)
    counts = np.asarray(new.counts)
    assert (np.diff(counts) <= 0).all()  # still most frequent first
    assert counts[words.index("quimby")] == 6
    meta = model_info("a-continued")
    assert meta["continued"]["model"] == "a" and meta["continued"]["new_words"] >= 2
    assert meta["params"]["dim"] == 12 and meta["params"]["min_count"] == 5 and meta["algorithm"] == algo
    assert meta["continuable"] is True


@pytest.mark.parametrize("algo", list(ALGOS))
def test_old_words_resume_from_their_rows(emb_home, halves, algo):
    """With a vanishing learning rate the continued model's old words keep their vectors: rows are
    carried over by word, not by position."""
    first, second = halves
    train(first, "a", algo)
    old = embcli.load("a")
    embcli.train(second, continue_from="a", name="b", lr=1e-9, min_lr=1e-10, threads=1)
    new = embcli.load("b")
    shared = [w for w in old.words if w in set(new.words)][::7]
    np.testing.assert_allclose(np.array([new.vector(w) for w in shared]),
                               np.array([old.vector(w) for w in shared]), atol=1e-5)


@pytest.mark.parametrize("algo", ["word2vec", "fasttext"])
def test_continued_rows_are_the_running_mean_of_the_models(emb_home, halves, algo, monkeypatch):
    """Old words end as the new text's weight (its tokens against them and half the old ones) times their rows trained on it plus the rest
    times their saved rows; trained alone (--new-weight 1) they would be further from the saved
    model, and --new-weight 0 keeps their vectors. (Without the healing pass, tested below.)"""
    monkeypatch.setattr(resume, "HEAL_EPOCHS", 0)
    first, second = halves
    train(first, "a", algo)
    common = dict(continue_from="a", threads=1, make_default=False)
    embcli.train(second, name="mean", **common)
    result = invoke(["train", second, "--continue", "a", "--threads", "1", "--name", "trained", "--new-weight", "1"])
    assert result.exit_code == 0, result.stderr
    embcli.train(second, name="kept", new_weight=0, **common)
    old, mean, trained = embcli.load("a"), embcli.load("mean"), embcli.load("trained")
    assert model_info("trained")["continued"]["new_weight"] == 1.0
    kept = embcli.load("kept")
    np.testing.assert_allclose(np.array([kept.vector(w) for w in old.words]),
                               np.array([old.vector(w) for w in old.words]), atol=1e-6)
    tokens_old = model_info("a")["state"]["tokens"]
    tokens_all = model_info("mean")["state"]["tokens"]
    weight = model_info("mean")["continued"]["new_weight"]
    tokens_new = tokens_all - tokens_old
    assert 0.3 < weight < 0.8 and weight == pytest.approx(tokens_new / (tokens_new + tokens_old / 2), abs=1e-6)
    words = old.words
    expected = weight * np.array([trained.vector(w) for w in words]) + (1 - weight) * np.array([old.vector(w) for w in words])
    got = np.array([mean.vector(w) for w in words])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # A word only the new text has keeps its trained vector (FastText's n-gram rows are averaged).
    if algo == "word2vec":
        np.testing.assert_allclose(mean.vector("zorblax"), trained.vector("zorblax"), atol=1e-6)
    drift = np.linalg.norm(got - np.array([old.vector(w) for w in words]), axis=1).mean()
    alone = np.linalg.norm(np.array([trained.vector(w) for w in words]) - np.array([old.vector(w) for w in words]),
                           axis=1).mean()
    assert drift < 0.8 * alone


@pytest.mark.parametrize("algo", ["word2vec", "fasttext"])
def test_averaged_rows_get_one_gentle_pass_more(emb_home, halves, algo, monkeypatch):
    """After averaging, one more epoch over the new text at a tenth of the rate: recorded in
    meta.json, reported as one epoch more, deterministic with one thread and a seed, and a small
    step from the plain mean; --new-weight 1 and 0 (no mean) make no such pass."""
    first, second = halves
    train(first, "a", algo)
    common = dict(continue_from="a", threads=1, make_default=False, seed=3)
    seen = []
    embcli.train(second, name="healed", progress=lambda stage, done, total, info=None: seen.append((stage, done, total)),
                 **common)
    embcli.train(second, name="again", **common)
    info = model_info("healed")["continued"]
    epochs = model_info("healed")["params"]["epochs"]
    assert info["healing_pass"] == {"epochs": resume.HEAL_EPOCHS, "lr": pytest.approx(
        model_info("healed")["params"]["lr"] * resume.HEAL_RATE)}
    trained = [(done, total) for stage, done, total in seen if stage == "train"]
    assert {total for _, total in trained} == {epochs + 1}
    assert [d for d, _ in trained] == sorted(d for d, _ in trained) and trained[-1][0] == epochs + 1
    healed, again = embcli.load("healed"), embcli.load("again")
    np.testing.assert_array_equal(healed.vectors, again.vectors)
    heal_epochs = resume.HEAL_EPOCHS
    monkeypatch.setattr(resume, "HEAL_EPOCHS", 0)
    embcli.train(second, name="mean", **common)
    mean, old = embcli.load("mean"), embcli.load("a")
    assert "healing_pass" not in model_info("mean")["continued"]
    words = old.words
    step = np.linalg.norm(np.array([healed.vector(w) - mean.vector(w) for w in words]), axis=1).mean()
    drift = np.linalg.norm(np.array([mean.vector(w) - old.vector(w) for w in words]), axis=1).mean()
    assert 0 < step < drift
    monkeypatch.setattr(resume, "HEAL_EPOCHS", heal_epochs)
    for weight in (0, 1):
        embcli.train(second, name=f"w{weight}", new_weight=weight, **common)
        assert "healing_pass" not in model_info(f"w{weight}")["continued"]


@pytest.mark.parametrize(
    "algo,args,message",
    [
        ("word2vec", ["--new-weight", "1.5"], "--new-weight 1.5: give a number from 0 to 1"),
        ("word2vec", ["--new-weight", "-0.1"], "give a number from 0 to 1"),
        ("glove", ["--new-weight", "0.5"], "--new-weight applies to word2vec and FastText, not glove"),
    ],
)
def test_bad_new_weight_is_refused(emb_home, halves, algo, args, message):
    train(halves[0], "a", algo)
    assert_clean_error(invoke(["train", halves[1], "--continue", "a", *args]), 2, message)
    assert sorted(p.name for p in (emb_home / "models").iterdir()) == ["a"]


def test_new_weight_without_continue_is_refused(emb_home, halves):
    result = invoke(["train", halves[0], "--new-weight", "0.5", *TINY])
    assert_clean_error(result, 2, "--new-weight applies to --continue only")
    assert not (emb_home / "models").exists() or not any((emb_home / "models").iterdir())


def test_average_mixes_saved_rows_by_word_and_the_rows_after():
    from embcli.training.resume import Start, blend

    saved = np.arange(12, dtype=np.float32).reshape(4, 3)  # words x, y, z, then an extra row
    start = Start(model="m", pretrained=False, arrays={"input": saved}, saved_words=["x", "y", "z"])
    start.source = np.array([2, -1, 0, 1])  # z, a new word, x, y
    matrix = np.ones((5, 3), dtype=np.float32)  # the four words and the extra row
    start.average("input", matrix, 0.25, extra=1)
    np.testing.assert_allclose(matrix[0], 0.25 + 0.75 * saved[2])
    np.testing.assert_allclose(matrix[1], 1.0)  # a new word keeps its trained row
    np.testing.assert_allclose(matrix[2], 0.25 + 0.75 * saved[0])
    np.testing.assert_allclose(matrix[3], 0.25 + 0.75 * saved[1])
    np.testing.assert_allclose(matrix[4], 0.25 + 0.75 * saved[3])
    grams = np.full((3, 3), 2.0, dtype=np.float32)
    blend(grams, np.zeros((3, 3), dtype=np.float32), 0.5)
    np.testing.assert_allclose(grams, 1.0)
    assert Start(model="m", pretrained=False, arrays={}, tokens=300).new_weight(100) == 0.4  # 100 / (100 + 300 / 2)
    assert Start(model="m", pretrained=False, arrays={}, tokens=300, given_weight=0.1).new_weight(100) == 0.1


def test_continuing_changes_the_vectors_and_state(emb_home, halves):
    first, second = halves
    train(first, "a")
    embcli.train(second, continue_from="a", name="b", threads=1)
    old, new = embcli.load("a"), embcli.load("b")
    assert not np.allclose(old.vector("king"), new.vector("king"))
    out_old = np.load(emb_home / "models" / "a" / "state" / "output.npy")
    out_new = np.load(emb_home / "models" / "b" / "state" / "output.npy")
    assert out_new.shape == (len(new.words), 12) and out_old.shape == (len(old.words), 12)


def test_force_replaces_the_model_and_default_names_do_not_clobber(emb_home, halves):
    first, second = halves
    train(first, "a")
    for expected in ("a-continued", "a-continued-2"):
        assert invoke(["train", second, "--continue", "a", "-q"]).exit_code == 0
        assert (emb_home / "models" / expected).is_dir()
    before = len(embcli.load("a").words)
    train(first, "other")  # now the default
    result = invoke(["train", second, "--continue", "a", "--force"])
    assert result.exit_code == 0, result.stderr
    assert len(embcli.load("a").words) > before
    assert model_info("a")["continued"]["model"] == "a"
    # Replaced in the store, as a model trained with --name a --force would be: named, and the default.
    assert "trained word2vec model a:" in result.stderr and "now the default model" in result.stderr
    assert (emb_home / "default").read_text().strip() == "a"


def test_no_state_is_smaller_and_cannot_be_continued(emb_home, halves):
    first, second = halves
    train(first, "a")
    train(first, "small", "word2vec", "--no-state")
    assert not (emb_home / "models" / "small" / "state").exists()
    info = model_info("small")
    assert info["continuable"] is False and info["state_bytes"] == 0 and "--no-state" in info["not_continuable"]
    assert info["size_bytes"] < model_info("a")["size_bytes"]
    result = invoke(["train", second, "--continue", "small"])
    assert_clean_error(result, 2, "model 'small' cannot be continued", "--init small")


def test_imported_model_cannot_be_continued(emb_home, halves, vec_file):
    assert invoke(["import", vec_file, "--name", "imp"]).exit_code == 0
    result = invoke(["train", halves[1], "--continue", "imp"])
    assert_clean_error(result, 2, "not trained by emb", "--init imp")
    result = invoke(["train", halves[1], "--continue", str(vec_file)])
    assert_clean_error(result, 2, "--init")
    assert model_info("imp")["continuable"] is False


def test_compressed_model_cannot_be_continued_and_says_why(emb_home, halves):
    train(halves[0], "a")
    assert invoke(["compress", "a", "--to", "int8", "--name", "a8", "--no-benchmarks", "-q"]).exit_code == 0
    assert model_info("a8")["continuable"] is False
    assert_clean_error(invoke(["train", halves[1], "--continue", "a8"]), 2, "its vectors are compressed", "--init a8")
    # A float32 copy with fewer words is compressed too, in emb compress's sense: it was said to be --no-state.
    assert invoke(["compress", "a", "--to", "float32", "--max-vocab", "300", "--name", "a300", "--no-benchmarks",
                   "-q"]).exit_code == 0
    assert_clean_error(invoke(["train", halves[1], "--continue", "a300"]), 2, "a smaller copy made by emb compress")


def test_hs_model_from_gensim_cannot_be_continued(emb_home, halves):
    train(halves[0], "hs", "word2vec", "--loss", "hs")
    assert_clean_error(invoke(["train", halves[1], "--continue", "hs"]), 2, "trained by gensim (--loss hs)", "--init hs")


@pytest.mark.parametrize(
    "algo,args,saved",
    [
        ("word2vec", ["--dim", "16"], "--dim 12"),
        ("word2vec", ["--algo", "fasttext"], "--algo word2vec"),
        ("word2vec", ["--arch", "cbow"], "--arch skipgram"),
        ("fasttext", ["--minn", "2"], "--minn 3"),
        ("fasttext", ["--buckets", "6000"], "--buckets 5000"),
        ("word2vec", ["--tokenizer", "whitespace"], "--tokenizer unicode"),
        ("word2vec", ["--min-token-length", "2"], "--min-token-length 1"),
        # Spelled as the options are (it was "--lowercase False ... --lowercase True").
        ("word2vec", ["--no-lowercase"], "--no-lowercase contradicts model 'a', tokenized with --lowercase:"),
    ],
)
def test_contradicting_options_are_refused_naming_the_saved_value(emb_home, halves, algo, args, saved):
    train(halves[0], "a", algo)
    before = fingerprint(emb_home / "models" / "a")
    result = invoke(["train", halves[1], "--continue", "a", *args])
    assert_clean_error(result, 2, "contradicts model 'a'", saved)
    assert sorted(p.name for p in (emb_home / "models").iterdir()) == ["a"]
    assert fingerprint(emb_home / "models" / "a") == before


def test_same_values_and_free_options_are_taken(emb_home, halves):
    train(halves[0], "a")
    result = invoke(["train", halves[1], "--continue", "a", "--dim", "12", "--epochs", "2", "--window", "3", "-q"])
    assert result.exit_code == 0, result.stderr
    params = model_info("a-continued")["params"]
    assert params["epochs"] == 2 and params["window"] == 3 and params["dim"] == 12


def test_failure_while_continuing_leaves_the_original_untouched(emb_home, halves, monkeypatch):
    """A trainer failing, or Ctrl-C, in the middle of a --force continue: MODEL byte-identical, no leftovers."""
    train(halves[0], "a")
    before = fingerprint(emb_home / "models" / "a")

    def stop(stage, done, total, info):
        if stage == "train" and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embcli.train(halves[1], continue_from="a", force=True, progress=stop, threads=1, epochs=3)
    assert fingerprint(emb_home / "models" / "a") == before
    assert sorted(p.name for p in (emb_home / "models").iterdir()) == ["a"]

    import embcli.training.word2vec as w2v

    def broken(*args, **kwargs):
        raise embcli.TrainingError("the disk caught fire")

    monkeypatch.setattr(w2v, "train_word2vec", broken)
    result = invoke(["train", halves[1], "--continue", "a", "--force"])
    assert_clean_error(result, 1, "the disk caught fire")
    assert fingerprint(emb_home / "models" / "a") == before
    assert sorted(p.name for p in (emb_home / "models").iterdir()) == ["a"]


def test_damaged_state_is_refused(emb_home, halves):
    train(halves[0], "a")
    (emb_home / "models" / "a" / "state" / "output.npy").unlink()
    assert model_info("a")["continuable"] is False
    assert_clean_error(invoke(["train", halves[1], "--continue", "a"]), 2, "state/output.npy missing", "--init a")


@pytest.mark.parametrize(
    "part,content,message",
    [
        ("output.npy", np.zeros((3, 12), dtype=np.float32), "not ("),
        ("output.npy", None, "not ("),  # the right rows, the wrong width
        ("rare.txt", b"\xff\xfe\n", "utf-8"),
        ("rare.counts.npy", np.zeros(2, dtype=np.float32), "counts of float32"),
    ],
)
def test_hostile_state_is_one_clean_error(emb_home, halves, part, content, message):
    train(halves[0], "a")
    path = emb_home / "models" / "a" / "state" / part
    if content is None:
        rows = np.load(path).shape[0]
        np.save(path, np.zeros((rows, 7), dtype=np.float32))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    before = fingerprint(emb_home / "models" / "a")
    result = invoke(["train", halves[1], "--continue", "a"])
    assert_clean_error(result, 1, "training state is damaged", "--init", message)
    assert fingerprint(emb_home / "models" / "a") == before


@pytest.mark.parametrize("part", ["counts.npy", "state/rare.counts.npy"])
def test_counts_below_one_are_damage(emb_home, halves, part):
    """Zero counts gave numpy's 'divide by zero' warning and a continued model; negative ones passed."""
    train(halves[0], "a")
    path = emb_home / "models" / "a" / part
    counts = np.load(path)
    counts[len(counts) // 2] = 0 if part == "counts.npy" else -3
    np.save(path, counts)
    before = fingerprint(emb_home / "models" / "a")
    result = invoke(["train", halves[1], "--continue", "a"])
    assert_clean_error(result, 1, "training state is damaged", "a count of")
    assert "RuntimeWarning" not in result.stderr and fingerprint(emb_home / "models" / "a") == before


def test_continue_and_init_together_are_refused(emb_home, halves, vec_file):
    train(halves[0], "a")
    assert_clean_error(invoke(["train", halves[1], "--continue", "a", "--init", vec_file]), 2, "not both")


def test_init_starts_known_words_from_pretrained_vectors(emb_home, tmp_path, halves):
    """Words found in a vector file start from its vectors (fastText's -pretrainedVectors); others fresh."""
    train(halves[0], "a")
    assert invoke(["export", tmp_path / "a.vec", "-m", "a", "--format", "word2vec"]).exit_code == 0
    pre = embcli.load("a")
    embcli.train(halves[1], init=str(tmp_path / "a.vec"), name="b", lr=1e-9, min_lr=1e-10, threads=1, dim=12,
                 min_count=3)
    new = embcli.load("b")
    shared = [w for w in new.words if w in set(pre.words)]
    assert len(shared) > 100
    np.testing.assert_allclose(np.array([new.vector(w) for w in shared[::5]]),
                               np.array([pre.vector(w) for w in shared[::5]]), atol=1e-4)
    meta = model_info("b")
    assert meta["init"]["words_from_model"] == len(shared)
    assert meta["init"]["new_words"] == len(new.words) - len(shared)


@pytest.mark.parametrize("algo", ["fasttext", "glove"])
def test_init_for_fasttext_and_glove(emb_home, halves, algo):
    train(halves[0], "a")
    result = invoke(["train", halves[1], "--algo", algo, "--init", "a", "--name", "b", *ALGOS[algo]])
    assert result.exit_code == 0, result.stderr
    assert model_info("b")["init"]["words_from_model"] > 100


def test_init_takes_the_vectors_dimension_unless_given(emb_home, halves, vec_file):
    train(halves[0], "a")
    embcli.train(halves[1], init="a", name="b", epochs=1, min_count=3, threads=1)
    assert embcli.load("b").dim == 12


def test_init_with_another_dimension_names_both(emb_home, halves, vec_file):
    result = invoke(["train", halves[0], "--init", vec_file, *TINY])
    assert_clean_error(result, 2, "dimension 8", "--dim 12", "pass --dim 8")
    assert not (emb_home / "models").exists() or not any((emb_home / "models").iterdir())


def test_state_is_plain_npy_listed_in_meta(emb_home, halves):
    train(halves[0], "g", "glove")
    folder = emb_home / "models" / "g"
    meta = json.loads((folder / "meta.json").read_text())
    files = meta["state"]["files"]
    assert set(files) == {"state/input.npy", "state/output.npy", "state/biases.npy", "state/gradsq.npy",
                          "state/rare.txt", "state/rare.counts.npy", "state/cooc.pairs.npy", "state/cooc.x.npy"}
    vocab = meta["vocab_size"]
    assert np.load(folder / "state" / "gradsq.npy", allow_pickle=False).shape == (2 * vocab, 13)
    assert np.load(folder / "state" / "biases.npy", allow_pickle=False).shape == (2 * vocab,)
    words = embcli.load("g")
    w = np.load(folder / "state" / "input.npy") + np.load(folder / "state" / "output.npy")
    np.testing.assert_allclose(w[:5], np.array([words.vector(x) for x in words.words[:5]]), atol=1e-6)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_while_continuing_with_force_leaves_the_model(emb_home, halves):
    """A real SIGINT to ``emb train --continue a --force`` in the middle of training: exit 130,
    ``a`` byte-identical, nothing else in the store."""
    from test_interrupt import _wait_for_id_file

    train(halves[0], "a", "word2vec", "--min-count", "5")
    models = emb_home / "models"
    before = fingerprint(models / "a")
    cmd = [sys.executable, "-m", "embcli", "train", str(SAMPLE), "--continue", "a", "--force", "--epochs", "50",
           "--threads", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            start_new_session=True)
    try:
        _wait_for_id_file(models)
        assert proc.poll() is None, "training ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err.decode()
    assert sorted(p.name for p in models.iterdir()) == ["a"]
    assert fingerprint(models / "a") == before


def test_settled_vocabulary_is_the_chosen_one_with_the_rare_words_as_their_file():
    from collections import Counter

    from embcli.training.options import TrainOptions
    from embcli.training.resume import choose_vocabulary, settle_vocabulary

    counts = Counter({"the": 9, "á": 7, "cat": 7, "sat": 2, "mat": 1, "ㅋㅋ": 2})
    opts = TrainOptions(algo="word2vec", min_count=3)
    words, kept, left_out = choose_vocabulary(Counter(counts), opts, None)
    given = Counter(counts)
    settled, settled_counts, rare = settle_vocabulary(given, opts, None)
    assert settled == words == ["the", "cat", "á"]
    assert settled_counts.tolist() == kept.tolist() == [9, 7, 7]
    assert not given  # the corpus's counts are freed
    assert rare["rare_words"] == "sat\nㅋㅋ\nmat\n".encode()
    assert rare["rare_counts"].tolist() == [2, 2, 1] and set(left_out) == {"sat", "ㅋㅋ", "mat"}


def test_continuing_a_model_another_run_replaced_meanwhile_is_refused(emb_home, halves):
    """Two `--continue m --force` at once both said they were done; one run's training was lost."""
    first, second = halves
    train(first, "m")
    folder = emb_home / "models" / "m"

    def replace_meanwhile(stage, done, total, info):
        if stage == "train" and done == 0:  # another run finishes and replaces m now
            meta = json.loads((folder / "meta.json").read_text())
            meta["created"] = "2099-01-01T00:00:00+0000"
            (folder / "meta.json").write_text(json.dumps(meta))

    with pytest.raises(embcli.ModelError, match="replaced by another run while this one continued it"):
        embcli.train(second, continue_from="m", force=True, progress=replace_meanwhile, epochs=1, dim=12, threads=1)
    assert json.loads((folder / "meta.json").read_text())["created"] == "2099-01-01T00:00:00+0000"
    # The name chosen for a continued model, taken by another run meanwhile, names --name.
    taken = emb_home / "models" / "m-continued"

    def take_the_name(stage, done, total, info):
        if stage == "train" and done == 0 and not taken.exists():
            train(second, "m-continued")

    with pytest.raises(embcli.ModelError, match="'m-continued' was written by another run meanwhile: pass --name"):
        embcli.train(second, continue_from="m", progress=take_the_name, epochs=1, dim=12, threads=1)
