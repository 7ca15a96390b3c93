"""The Python API's maps and clusters: ``Model.plot`` and ``Model.cluster``."""

from __future__ import annotations

import numpy as np
import pytest

import embcli
from embcli.errors import UsageError
from map_models import ENGLISH, KOREAN, write_grouped_model


def test_model_plot_returns_a_figure_or_writes_the_file(tmp_path):
    model = embcli.load(str(write_grouped_model(tmp_path / "en", ENGLISH)))
    fig = model.plot(["king", "queen", "apple", "dog", "rain"], method="pca")
    assert len(fig.axes) == 1 and len(fig.axes[0].collections[0].get_offsets()) == 5
    out = model.plot(top=32, method="pca", path=tmp_path / "m.svg", clusters=4)
    assert out == tmp_path / "m.svg" and out.read_text().startswith("<?xml")
    with pytest.raises(UsageError, match="not one string"):
        model.plot("king")


def test_model_plot_compares_two_models(tmp_path):
    a = embcli.load(str(write_grouped_model(tmp_path / "a", ENGLISH)))
    b = embcli.load(str(write_grouped_model(tmp_path / "b", ENGLISH, rotate=True)))
    fig = a.plot(top=32, compare=b)
    assert len(fig.axes) == 2
    pa, pb = (ax.collections[0].get_offsets() for ax in fig.axes)
    assert np.allclose(pa, pb, atol=1e-3)  # a rotation of the same space lands on the same map


def test_model_cluster(tmp_path):
    model = embcli.load(str(write_grouped_model(tmp_path / "ko", KOREAN, seed=1)))
    result = model.cluster(k=4)
    assert result.k == 4 and sorted(result.sizes().tolist()) == [8, 8, 8, 8]
    assert {w for ws in result.central(8) for w in ws} == set(model.words)


def test_align_ranks_the_words_that_moved(tmp_path):
    from map_models import grouped_vectors

    from embcli.folder import write_model

    a = embcli.load(str(write_grouped_model(tmp_path / "a", ENGLISH)))
    rotated = embcli.load(str(write_grouped_model(tmp_path / "b", ENGLISH, rotate=True)))
    same = a.align(rotated)
    assert len(same.moved) == 32 and max(d for _, d in same.moved) < 1e-4
    # The same space rotated, but "apple" put among the animals: it is the word that moved most.
    words, vectors = grouped_vectors(ENGLISH)
    q, _ = np.linalg.qr(np.random.default_rng(7).standard_normal((24, 24)))
    vectors[words.index("apple")] = vectors[words.index("dog")] + 0.01
    (tmp_path / "c").mkdir()
    write_model(tmp_path / "c", words, (vectors @ q).astype(np.float32), {"algorithm": "toy"})
    moved = embcli.align(str(tmp_path / "a"), str(tmp_path / "c"), words=["apple", "dog", "king", "pear", "zzz"])
    assert moved.moved[0][0] == "apple" and moved.moved[0][1] > 0.5
    assert sorted(w for w, _ in moved.moved) == ["apple", "dog", "king", "pear"] and moved.unknown == ["zzz"]
    assert moved.to_dict()["moved"][0]["word"] == "apple"
    with pytest.raises(UsageError, match="not one string"):
        a.align(rotated, words="king")


def test_word_map_and_save_map_are_what_plot_does(tmp_path):
    model = embcli.load(str(write_grouped_model(tmp_path / "en", ENGLISH)))
    wmap = embcli.api.word_map(model, ["king", "queen", "apple", "nosuchword"], clusters=2)
    assert wmap.words == ["king", "queen", "apple"] and wmap.unknown == ["nosuchword"]
    assert wmap.panels[0].xy.shape == (3, 2) and len(set(wmap.clusters.tolist())) == 2
    path, _ = embcli.api.save_map(wmap, tmp_path / "m.html")
    assert path.read_text(encoding="utf-8").count("queen") >= 1
    assert embcli.api.map_kind("x.SVG") == "svg"
    with pytest.raises(UsageError, match=r"\.png, \.svg or \.html"):
        embcli.api.map_kind("x.jpg")


def test_write_projector_with_clusters(tmp_path):
    model = embcli.load(str(write_grouped_model(tmp_path / "en", ENGLISH)))
    result = model.cluster(k=4)
    out = tmp_path / "proj"
    assert model.write_projector(out, limit=len(result.words), clusters=result.labels) == 32
    rows = (out / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "word\tcount\tcluster" and len(rows) == 33
    assert rows[1] == f"king\t320\t{result.labels[0]}"
    assert len((out / "vectors.tsv").read_text().splitlines()) == 32
    with pytest.raises(embcli.EmbError, match="force"):
        model.write_projector(out)
    assert model.write_projector(out, limit=5, force=True) == 5
