"""``emb models list|info|use|rm`` and the store under ``EMB_HOME``."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import TINY, assert_clean_error, invoke

from embcli.store import ModelStore


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory, web_file):
    """One tiny word2vec model folder, copied into each test's store (never changed in place)."""
    home = tmp_path_factory.mktemp("models-home")
    result = invoke(["train", web_file, *TINY, "--name", "base"], env={"EMB_HOME": str(home)})
    assert result.exit_code == 0, result.stderr
    return home / "models" / "base"


@pytest.fixture
def store(emb_home, trained_model) -> ModelStore:
    """A store with models ``alpha`` and ``beta``; ``alpha`` is the default."""
    for name in ("alpha", "beta"):
        shutil.copytree(trained_model, emb_home / "models" / name)
    store = ModelStore()
    store.set_default("alpha")
    return store


def test_list_empty_store():
    result = invoke(["models", "list"])
    assert result.exit_code == 0
    assert result.stdout == "name\talgorithm\tdim\tvocab\tstorage\tsize\tcreated\tdefault\n"
    assert "no models yet" in result.stderr


def test_list_tsv(store):
    result = invoke(["models", "list"])
    assert result.exit_code == 0, result.stderr
    header, *rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert header == ["name", "algorithm", "dim", "vocab", "storage", "size", "created", "default"]
    assert [r[0] for r in rows] == ["alpha", "beta"]
    alpha = dict(zip(header, rows[0]))
    meta = json.loads((store.path("alpha") / "meta.json").read_text())
    assert alpha["algorithm"] == "word2vec" and alpha["dim"] == "12"
    assert alpha["vocab"] == str(meta["vocab_size"])
    size = sum(f.stat().st_size for f in store.path("alpha").rglob("*") if f.is_file())
    assert alpha["size"] == str(size)
    assert alpha["created"] == meta["created"]
    assert alpha["default"] == "true" and rows[1][-1] == "false"


def test_list_json_and_table(store):
    rows = json.loads(invoke(["models", "list", "--format", "json"]).stdout)
    assert [(r["name"], r["default"]) for r in rows] == [("alpha", True), ("beta", False)]
    table = invoke(["models", "list", "-f", "table"]).stdout
    assert "alpha" in table and "*" in table and "KB" in table


def test_list_ignores_temporary_folders_and_marks_damaged_ones(store, emb_home):
    (emb_home / "models" / ".tmp-gamma-abc").mkdir()
    (emb_home / "models" / "no-meta").mkdir()
    result = invoke(["models", "list", "-f", "json"])
    rows = json.loads(result.stdout)
    assert [(r["name"], r["algorithm"]) for r in rows] == [("alpha", "word2vec"), ("beta", "word2vec"), ("no-meta", "damaged")]
    assert "model 'no-meta' is damaged" in result.stderr and "emb models rm no-meta" in result.stderr


def test_info(store):
    result = invoke(["models", "info", "beta"])
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["name"] == "beta" and info["default"] is False
    assert info["path"] == str(store.path("beta"))
    assert info["algorithm"] == "word2vec" and info["params"]["dim"] == 12
    assert info["corpus"]["lines"] == 4000


def test_info_by_path(store):
    info = json.loads(invoke(["models", "info", str(store.path("alpha"))]).stdout)
    assert info["name"] == "alpha" and info["default"] is True


def test_use(store):
    result = invoke(["models", "use", "beta"])
    assert result.exit_code == 0 and result.stdout == ""
    assert "default model: beta" in result.stderr
    assert store.default_name() == "beta"


def test_rm(store):
    result = invoke(["models", "rm", "beta"])
    assert result.exit_code == 0
    assert store.names() == ["alpha"] and store.default_name() == "alpha"
    result = invoke(["models", "rm", "alpha"])
    assert result.exit_code == 0 and "it was the default" in result.stderr
    assert store.names() == [] and store.default_name() is None
    assert list(store.models_dir.iterdir()) == []


@pytest.mark.parametrize("command", ["info", "use", "rm"])
def test_unknown_model(store, command):
    result = invoke(["models", command, "gamma"])
    assert_clean_error(result, 1, "no model named 'gamma'", "alpha, beta", "emb models list")
    assert store.names() == ["alpha", "beta"] and store.default_name() == "alpha"


@pytest.mark.parametrize("name", ["../alpha", "a/b", "..", ".hidden"])
@pytest.mark.parametrize("command", ["use", "rm"])
def test_bad_names_refused(store, command, name):
    result = invoke(["models", command, name])
    assert result.exit_code in (1, 2)
    assert "Traceback" not in result.stderr and result.stderr.startswith("emb: error: ")
    assert store.names() == ["alpha", "beta"] and store.default_name() == "alpha"


def test_emb_home_overrides_the_root(tmp_path, monkeypatch, trained_model):
    home = tmp_path / "custom"
    shutil.copytree(trained_model, home / "models" / "mine")
    monkeypatch.setenv("EMB_HOME", str(home))
    assert ModelStore().root == home
    rows = json.loads(invoke(["models", "list", "-f", "json"]).stdout)
    assert [r["name"] for r in rows] == ["mine"]


def test_store_root_fallbacks(tmp_path, monkeypatch):
    from embcli.store import store_root

    monkeypatch.delenv("EMB_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert store_root() == tmp_path / "xdg" / "emb"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store_root() == tmp_path / "home" / ".local" / "share" / "emb"


def test_list_marks_a_model_whose_vectors_are_cut_short(store, emb_home):
    """A truncated vectors.npy was listed as healthy; only using the model told."""
    vectors = emb_home / "models" / "beta" / "vectors.npy"
    with open(vectors, "r+b") as fh:
        fh.truncate(1000)
    result = invoke(["models", "list", "-f", "json"])
    rows = {r["name"]: r["algorithm"] for r in json.loads(result.stdout)}
    assert rows == {"alpha": "word2vec", "beta": "damaged"}
    assert "model 'beta' is damaged" in result.stderr and "truncated" in result.stderr
