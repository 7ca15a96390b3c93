"""``emb plot``, ``emb cluster`` and ``emb export --format projector`` end to end."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from embcli.cli.app import app
from map_models import ENGLISH, KOREAN, write_grouped_model
from query_models import install

runner = CliRunner()
EN_WORDS = [w for ws in ENGLISH.values() for w in ws]


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def en(tmp_path):
    folder = write_grouped_model(tmp_path / "en", ENGLISH)
    install(folder, "en")
    return folder


def test_plot_words_lists_unknown_ones_on_stderr(tmp_path, en):
    out = tmp_path / "royals.png"
    result = run("plot", "king", "queen", "prince", "unicorn", "dragon", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "2 word(s) not in model 'en', left out: unicorn, dragon" in result.stderr
    assert f"wrote {out}: 3 words, pca" in result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_from_a_file_and_neighbours_of_a_word(tmp_path, en):
    words = tmp_path / "words.txt"
    words.write_text("apple banana\ncherry\n\ngrape\n", encoding="utf-8")
    svg = tmp_path / "fruit.svg"
    assert run("plot", "--file", str(words), "-o", str(svg)).exit_code == 0
    assert "<svg" in svg.read_text()
    html = tmp_path / "near.html"
    result = run("plot", "--neighbors-of", "lion", "-k", "7", "-o", str(html), "--color-by-cluster", "--clusters", "2")
    assert result.exit_code == 0, result.stderr
    assert "8 words" in result.stderr and "Plotly.newPlot" in html.read_text()


def test_an_existing_file_is_refused_before_any_work_and_replaced_with_force(tmp_path, en, monkeypatch):
    out = tmp_path / "mine.png"
    out.write_bytes(b"the user's own picture")
    import embcli.api as api

    def never(*args, **kwargs):
        raise AssertionError("the map was computed before the output was checked")

    with monkeypatch.context() as patched:
        patched.setattr(api, "word_map", never)
        result = run("plot", "king", "queen", "prince", "-o", str(out))
    assert result.exit_code == 1 and result.stderr.strip().splitlines() == [
        f"emb: error: {out} exists: pass --force to replace it"]
    assert out.read_bytes() == b"the user's own picture"
    result = run("plot", "king", "queen", "prince", "-o", str(out), "--force")
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_a_seed_out_of_range_is_one_line(tmp_path, en, seed):
    for args in (["cluster", "-k", "3", "--top", "50"], ["plot", "--top", "30", "-o", str(tmp_path / "m.png")],
                 ["plot", "--top", "30", "--color-by-cluster", "-o", str(tmp_path / "m.png")]):
        result = run(*args, "--seed", seed)
        assert result.exit_code == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"emb: error: --seed {seed} is out of range: use a number from 0 to 4294967295"]
    assert not (tmp_path / "m.png").exists()


def test_plot_bad_input(tmp_path, en):
    cases = [
        (["plot", "unicorn", "dragon", "-o", str(tmp_path / "a.png")], 1, "none of the words is in model 'en'"),
        (["plot", "king", "queen", "-o", str(tmp_path / "a.png")], 2, "at least 3 words, found 2"),
        (["plot", "king", "queen", "duke", "-o", str(tmp_path / "a.pdf")], 2, ".png, .svg or .html"),
        (["plot", "king", "--top", "5"], 2, "not several"),
        (["plot", "--file", str(tmp_path / "nope.txt")], 2, "no such file"),
        (["plot", "-m", "en", "-m", "en", "-m", "en", "--top", "5"], 2, "at most two models"),
        # An output that cannot be created was a FileNotFoundError traceback.
        (["plot", "king", "queen", "duke", "-o", "/proc/emb-no/a.png"], 1, "/proc/emb-no/a.png"),
    ]
    for args, code, message in cases:
        result = run(*args)
        assert result.exit_code == code, (args, result.stderr)
        assert result.stderr.startswith("emb: error: ") and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "a.pdf").exists()


def test_tsne_without_the_extra_is_one_line(tmp_path, en, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    result = run("plot", "--top", "10", "--method", "tsne", "-o", str(tmp_path / "t.png"))
    assert result.exit_code == 1
    assert result.stderr == (
        "emb: error: --method tsne needs the 'plot' extra (sklearn.manifold is not installed): pip install 'embcli[plot]'\n"
    )


def test_two_models_list_the_words_that_moved_most(tmp_path, en):
    vectors = np.load(en / "vectors.npy")
    vectors[EN_WORDS.index("cat")] = vectors[EN_WORDS.index("rain")]
    from embcli.folder import write_model

    other = tmp_path / "other"
    other.mkdir()
    write_model(other, EN_WORDS, vectors, {"algorithm": "toy", "tokenizer": {"mode": "unicode"}})
    out = tmp_path / "drift.html"
    result = run("plot", "-m", "en", "-m", str(other), "--top", "32", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "word\tmoved" and lines[1].startswith("cat\t")
    assert float(lines[1].split("\t")[1]) > 0.5 and float(lines[2].split("\t")[1]) < 0.01
    assert out.read_text().count('"name":"') >= 2


def test_plot_many_words_says_labels_were_thinned(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    from embcli.folder import write_model

    folder = tmp_path / "big"
    folder.mkdir()
    write_model(folder, [f"w{i}" for i in range(n)], rng.standard_normal((n, 8)).astype(np.float32),
                {"algorithm": "toy"})
    result = run("plot", "-m", str(folder), "--top", str(n), "-o", str(tmp_path / "big.png"))
    assert result.exit_code == 0, result.stderr
    assert "of 3,000 words, the most frequent that fit without overlapping" in result.stderr


def test_cluster_tsv_and_summary(tmp_path):
    folder = write_grouped_model(tmp_path / "ko", KOREAN, seed=1)
    result = run("cluster", "-m", str(folder), "-k", "4", "--top", "100", "--central", "3")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "word\tcluster\tdistance" and len(lines) == 33
    rows = {w: (int(c), float(d)) for w, c, d in (line.split("\t") for line in lines[1:])}
    for members in KOREAN.values():
        assert len({rows[w][0] for w in members}) == 1
    summary = [line for line in result.stderr.splitlines() if line.startswith("cluster ")]
    assert len(summary) == 4 and all("(8 words)" in line for line in summary)
    assert "32 words of model 'ko' in 4 clusters" in result.stderr


def test_cluster_writes_a_projector_folder_with_clusters(tmp_path, en):
    out = tmp_path / "proj"
    result = run("cluster", "-k", "4", "--projector", str(out))
    assert result.exit_code == 0, result.stderr
    meta = (out / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert meta[0] == "word\tcount\tcluster" and len(meta) == 33
    assert len((out / "vectors.tsv").read_text().splitlines()) == 32
    again = run("cluster", "-k", "4", "--projector", str(out))
    assert again.exit_code == 1 and "--force" in again.stderr


def test_export_projector(tmp_path, en):
    out = tmp_path / "proj"
    result = run("export", str(out), "--format", "projector", "--limit", "10")
    assert result.exit_code == 0, result.stderr
    assert "(projector): 10 words" in result.stderr
    assert (out / "projector_config.pbtxt").is_file()
    bad = run("import", str(out), "--format", "projector")
    assert bad.exit_code == 2  # not offered as an input format


def test_help_has_examples():
    for command in ("plot", "cluster"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Examples" in result.stdout
