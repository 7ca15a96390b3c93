"""The version report of ``emb --version``: emb, Python, the core engines, the optional ones installed."""

from __future__ import annotations

import sys
from importlib import metadata

from embcli import __version__, versions


def test_engine_versions_lists_emb_python_and_the_core_engines_first():
    report = versions.engine_versions()
    assert list(report)[:7] == ["emb", "python", "numpy", "numba", "gensim", "onnxruntime", "pyarrow"]
    assert report["emb"] == __version__
    assert report["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert report["numpy"] == metadata.version("numpy") and report["gensim"] == metadata.version("gensim")


def test_optional_engines_appear_only_when_installed(monkeypatch):
    monkeypatch.setattr(versions, "OPTIONAL", (("absent", ("no-such-dist-emb",)), ("pytest", ("pytest",))))
    report = versions.engine_versions()
    assert "absent" not in report and report["pytest"] == metadata.version("pytest")


def test_the_first_installed_distribution_name_gives_the_version():
    assert versions.distribution_version(("no-such-dist-emb", "numpy")) == metadata.version("numpy")
    assert versions.distribution_version(("no-such-dist-emb",)) is None


def test_a_missing_core_engine_is_reported_not_raised(monkeypatch):
    monkeypatch.setattr(versions, "CORE", (("ghost", ("no-such-dist-emb",)),))
    assert versions.engine_versions()["ghost"] == "not installed"
