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
