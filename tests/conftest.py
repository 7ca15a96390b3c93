"""Shared fixtures: an isolated model store for every test, and small real corpora."""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "web.txt.xz"


@pytest.fixture(autouse=True)
def emb_home(tmp_path, monkeypatch):
    """Every test gets its own empty model store."""
    home = tmp_path / "emb-home"
    monkeypatch.setenv("EMB_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def web_lines() -> list[str]:
    """The first 4,000 verses of the World English Bible (sample_data), as lines."""
    with lzma.open(SAMPLE, "rt", encoding="utf-8") as fh:
        return [next(fh).rstrip("\n") for _ in range(4000)]


@pytest.fixture
def small_corpus(tmp_path, web_lines) -> Path:
    """A plain text file of 4,000 real verses (about 120k tokens)."""
    path = tmp_path / "web-small.txt"
    path.write_text("\n".join(web_lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def web_file(tmp_path_factory, web_lines) -> Path:
    """The same 4,000 verses as ``small_corpus``, as one file shared by the whole session."""
    path = tmp_path_factory.mktemp("corpus") / "web-small.txt"
    path.write_text("\n".join(web_lines) + "\n", encoding="utf-8")
    return path


# Who trains word2vec with --loss ns: emb's own kernels (the "word2vec" trainer), or gensim when
# that trainer is taken out of the registry (the word2vec tests run both).
W2V_TRAINERS = ["word2vec", "gensim"]


def use_word2vec_trainer(mp: pytest.MonkeyPatch, name: str) -> None:
    """Make ``name`` the trainer of word2vec with negative sampling."""
    import embcli.training as registry

    if name == "gensim":
        # A copy without emb's trainer: deleting and restoring the entry would move it behind gensim's
        # in the registry's order (the first trainer that fits is used) for the tests that follow.
        mp.setattr(registry, "TRAINERS", {k: v for k, v in registry.TRAINERS.items() if k != "word2vec"})


@pytest.fixture(params=W2V_TRAINERS)
def word2vec_trainer(request, monkeypatch):
    """Run the test once with emb's word2vec kernels and once with gensim's."""
    use_word2vec_trainer(monkeypatch, request.param)
    return request.param


# Tiny settings: every training run in the suite takes about a second.
TINY = ["--dim", "12", "--epochs", "1", "--min-count", "3", "--threads", "1"]
TINY_FT = TINY + ["--buckets", "5000"]


def invoke(args, input=None, env=None):
    """Run ``emb ARGS`` through typer's CliRunner; stdout and stderr stay separate."""
    from typer.testing import CliRunner

    from embcli.cli.app import app
    from embcli.cli.console import STATE

    STATE["quiet"] = False
    return CliRunner().invoke(app, [str(a) for a in args], input=input, env=env)


def assert_clean_error(result, code: int, *fragments: str) -> None:
    """One ``emb: error`` line (or a usage message) on stderr, the exit code, no traceback, no stdout."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)
    if code == 1:
        assert result.stderr.startswith("emb: error: ") and result.stderr.count("\n") == 1


@pytest.fixture
def vec_file(tmp_path) -> Path:
    """A small word2vec text file: words w0..w39, 8 dimensions (the hostile-input tests' model)."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows, dim = 40, 8
    lines = [f"{rows} {dim}"] + [f"w{i} " + " ".join(f"{x:.4f}" for x in rng.standard_normal(dim)) for i in range(rows)]
    path = tmp_path / "vecs.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


SPARK_MASTER = "local[2]"


@pytest.fixture(scope="session")
def spark_session():
    """One SparkSession (local[2]) for all in-process Spark tests of a test process: the library uses
    the running session. The Spark tests share the xdist group "spark", so one process starts it."""
    import os
    import shutil

    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime (the CI installs openjdk-17-jre-headless)")
    from embcli.spark.session import SparkOptions, get_session

    spark = get_session(SparkOptions(master=SPARK_MASTER, conf={"spark.sql.shuffle.partitions": "4"}))
    yield spark
    spark.stop()
