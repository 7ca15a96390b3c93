"""The Python API for lines of text: Model.embed, Model.search and embcli.search."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from query_models import install, small_corpus_file, w2v_dir  # noqa: F401

import embcli
from embcli.docsearch import DocHit, open_docs
from embcli.folder import ModelFolder
from embcli.sentences import Embedder


def test_model_embed_is_the_library_pooling(w2v_dir, web_lines):
    model = embcli.load(str(w2v_dir))
    lines = web_lines[:50]
    for pooling in ("mean", "sif"):
        got = model.embed(lines, pooling=pooling)
        assert got.shape == (50, model.dim) and got.dtype == np.float32
        np.testing.assert_array_equal(got, Embedder(ModelFolder(w2v_dir), pooling).embed(lines).vectors)
    with pytest.raises(embcli.UsageError, match="list of lines"):
        model.embed("one line")
    with pytest.raises(embcli.ModelError, match="--pooling mean or sif"):
        model.embed(lines, pooling="fasttext")


def test_model_search_over_a_list_a_file_and_an_opened_collection(w2v_dir, web_lines, tmp_path):
    model = embcli.load(str(w2v_dir))
    docs = web_lines[:300]
    hits = model.search(web_lines[20], docs, k=3)
    assert isinstance(hits[0], DocHit) and hits[0].line == 21 and hits[0].text == web_lines[20]
    assert hits[0].to_dict()["line"] == 21
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(docs) + "\n", encoding="utf-8")
    many = model.search([web_lines[20], web_lines[30]], path, k=3)
    assert [h[0].line for h in many] == [21, 31]
    assert [h.line for h in many[0]] == [h.line for h in hits]
    np.testing.assert_allclose([h.score for h in many[0]], [h.score for h in hits], atol=1e-6)
    opened = open_docs(model.folder, str(path))
    (again,) = model.search([web_lines[30]], opened, k=3)
    assert [h.line for h in again] == [h.line for h in many[1]]
    with pytest.raises(embcli.EmbError, match="no word in the vocabulary"):
        model.search("qqqzz xxyyz", docs)


def test_embcli_search_is_the_module_function_and_the_module(w2v_dir, web_lines):
    install(w2v_dir, "web-small")
    hits = embcli.search(web_lines[5], web_lines[:100], k=2)
    assert hits[0].line == 6
    out = subprocess.run(
        [sys.executable, "-c", "import embcli, embcli.search as s; print(callable(embcli.search), hasattr(s, 'topk'))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert out == ["True", "True"]
