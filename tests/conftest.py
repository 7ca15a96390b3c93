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
