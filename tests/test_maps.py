"""Word maps without drawing: word selection, projections, Procrustes alignment, label placement, clusters."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from embcli import maps
from embcli.clusters import cluster_model, kmeans
from embcli.errors import MissingExtraError, UnknownWordError, UsageError
from embcli.folder import ModelFolder
from map_models import ENGLISH, KOREAN, write_grouped_model

EN_WORDS = [w for ws in ENGLISH.values() for w in ws]
KO_WORDS = [w for ws in KOREAN.values() for w in ws]


@pytest.fixture
def en(tmp_path) -> ModelFolder:
    return ModelFolder(write_grouped_model(tmp_path / "en", ENGLISH))


@pytest.fixture
def ko(tmp_path) -> ModelFolder:
    return ModelFolder(write_grouped_model(tmp_path / "ko", KOREAN, seed=1))


def group_of(word: str, groups) -> str:
    return next(name for name, ws in groups.items() if word in ws)


def same_group_share(words, xy, groups) -> float:
    """The share of words whose nearest word on the map is of their own group."""
    d = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=2)
    np.fill_diagonal(d, np.inf)
    nearest = d.argmin(axis=1)
    return float(np.mean([group_of(words[i], groups) == group_of(words[j], groups) for i, j in enumerate(nearest)]))


# ------------------------------------------------------------------------------------------ words


def test_words_not_in_the_model_are_listed_and_the_rest_kept(en):
    sel = maps.select(en, ["King", "queen", "zzz", "prince", "queen", "qqq"])
    assert sel.words == ["king", "queen", "prince"]  # the model's tokenizer folds case; each word once
    assert sel.unknown == ["zzz", "qqq"]
    assert sel.counts == [320, 310, 300] and sel.rows == [0, 1, 2]
    assert np.allclose(np.linalg.norm(sel.units, axis=1), 1.0, atol=1e-6)


def test_bad_word_lists_are_refused(en):
    with pytest.raises(UnknownWordError, match="none of the words"):
        maps.select(en, ["zzz", "qqq"])
    with pytest.raises(UsageError, match="at least 3 words, found 2"):
        maps.select(en, ["king", "queen", "zzz"])
    with pytest.raises(UsageError, match="not several"):
        maps.select(en, ["king"], top=5)
    with pytest.raises(UsageError, match="--top must be at least 1"):
        maps.select(en, top=0)


def test_top_and_neighbours(en):
    assert maps.select(en, top=5).words == EN_WORDS[:5]
    assert len(maps.select(en).words) == len(EN_WORDS)  # the default top is more than the model has
    sel = maps.select(en, neighbours_of="apple", k=7)
    assert sel.center == "apple" and sel.words[0] == "apple"
    assert set(sel.words) == set(ENGLISH["fruit"])  # a fruit's 7 nearest words are the other fruit


# ------------------------------------------------------------------------------------- projection


def test_pca_is_exact_and_stable(en):
    from sklearn.decomposition import PCA

    units = maps.select(en, top=32).units
    xy = maps.pca(units)
    ref = PCA(n_components=2, svd_solver="full").fit_transform(units.astype(np.float64))
    assert np.allclose(np.abs(xy), np.abs(ref), atol=1e-5)
    assert np.array_equal(maps.pca(units), xy)
    # Flipping the input's signs does not flip the map.
    assert np.allclose(maps.pca(-units), xy, atol=1e-6)
    assert same_group_share(EN_WORDS, xy, ENGLISH) >= 0.9


@pytest.mark.parametrize("method", ["tsne", "umap"])
def test_tsne_and_umap_are_seeded_and_keep_groups_apart(ko, method):
    units = maps.select(ko, top=32).units
    a = maps.project(units, method, seed=3)
    b = maps.project(units, method, seed=3)
    assert a.shape == (32, 2) and np.array_equal(a, b)
    assert same_group_share(KO_WORDS, a, KOREAN) >= 0.9


@pytest.mark.parametrize("method,module", [("tsne", "sklearn.manifold"), ("umap", "umap")])
def test_tsne_and_umap_without_the_extra_name_the_install(en, monkeypatch, method, module):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError, match=r"pip install 'embcli\[plot\]'"):
        maps.project(maps.select(en, top=10).units, method)


def test_too_many_points_for_tsne_are_refused_at_once(en, monkeypatch):
    monkeypatch.setattr(maps, "MAX_EMBED", 10)
    with pytest.raises(UsageError, match="use --method pca"):
        maps.project(maps.select(en, top=20).units, "tsne")
    with pytest.raises(UsageError, match="unknown method"):
        maps.project(maps.select(en, top=20).units, "mds")


# ------------------------------------------------------------------------------------- two models


def test_procrustes_undoes_a_rotation_and_finds_the_word_that_moved(tmp_path, en):
    turned = write_grouped_model(tmp_path / "turned", ENGLISH, rotate=True)
    # Move "lemon" into the animals in the rotated model.
    vectors = np.load(turned / "vectors.npy")
    lemon, lion = EN_WORDS.index("lemon"), EN_WORDS.index("lion")
    vectors[lemon] = vectors[lion] * 1.01
    from embcli.folder import write_model

    moved_dir = tmp_path / "moved"
    moved_dir.mkdir()
    write_model(moved_dir, EN_WORDS, vectors, {"algorithm": "toy", "tokenizer": {"mode": "unicode"}})
    wmap = maps.build_map([en, ModelFolder(moved_dir)], top=32)
    assert [p.title for p in wmap.panels] == ["en", "moved"]
    assert wmap.moved[0][0] == "lemon" and wmap.moved[0][1] > 0.5
    assert all(d < 0.05 for w, d in wmap.moved[1:])  # the rest sit where they were, after the rotation
    a, b = wmap.panels[0].xy, wmap.panels[1].xy
    others = [i for i, w in enumerate(wmap.words) if w != "lemon"]
    assert np.abs(a[others] - b[others]).max() < 0.1 * np.ptp(a)


def test_models_of_different_dimensions_align_and_unshared_words_are_noted(tmp_path, en):
    small = dict(ENGLISH)
    small["fruit"] = ENGLISH["fruit"][:4]
    other = ModelFolder(write_grouped_model(tmp_path / "other", small, dim=16, seed=5))
    wmap = maps.build_map([en, other], top=32)
    assert len(wmap.words) == 28 and "mango" not in wmap.words
    assert any("4 word(s) not in model 'other'" in n for n in wmap.notes)


# ----------------------------------------------------------------------------------------- labels


def test_overlapping_labels_are_thinned_most_important_first():
    xy = np.array([[0.0, 0.0], [5.0, 1.0], [500.0, 0.0], [5.0, 300.0]])
    sizes = np.array([[40.0, 10.0]] * 4)
    assert maps.place_labels(xy, sizes).tolist() == [True, False, True, True]
    assert maps.place_labels(xy, sizes, order=[1, 0, 2, 3]).tolist() == [False, True, True, True]


def test_label_placement_of_many_points_keeps_no_overlap():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1200, size=(100_000, 2))
    sizes = np.column_stack([rng.uniform(20, 80, len(xy)), np.full(len(xy), 11.0)])
    keep = maps.place_labels(xy, sizes)
    kept = np.flatnonzero(keep)
    assert 200 < len(kept) < 5000
    x0, y0 = xy[kept, 0] + 2, xy[kept, 1] - 5.5
    x1, y1 = x0 + sizes[kept, 0], y0 + 11
    overlap = (x0[:, None] < x1[None]) & (x0[None] < x1[:, None]) & (y0[:, None] < y1[None]) & (y0[None] < y1[:, None])
    np.fill_diagonal(overlap, False)
    assert not overlap.any()


def test_wide_characters_count_as_wider():
    assert maps.text_width("서울") == 2.0 and maps.text_width("東京") == 2.0
    assert maps.text_width("ab") == pytest.approx(1.24)


# --------------------------------------------------------------------------------------- clusters


@pytest.mark.parametrize("groups,seed", [(ENGLISH, 0), (KOREAN, 1)])
def test_kmeans_finds_the_groups(tmp_path, groups, seed):
    model = ModelFolder(write_grouped_model(tmp_path / "m", groups, seed=seed))
    result = cluster_model(model, k=4, top=100)
    words = [w for ws in groups.values() for w in ws]
    assert result.words == words and result.sizes().tolist() == [8, 8, 8, 8]
    for members in groups.values():
        assert len({int(result.labels[words.index(w)]) for w in members}) == 1
    assert ((result.distances >= 0) & (result.distances < 0.5)).all()
    for c, central in enumerate(result.central(3)):
        assert len(central) == 3 and all(result.labels[words.index(w)] == c for w in central)
    again = cluster_model(model, k=4, top=100)
    assert np.array_equal(again.labels, result.labels)


def test_kmeans_bad_k(en):
    with pytest.raises(UsageError, match="more clusters than the 32 words"):
        cluster_model(en, k=40)
    with pytest.raises(UsageError, match="at least 1"):
        kmeans(np.eye(3, dtype=np.float32), 0)


def test_kmeans_without_scikit_learn_names_the_install(en, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.cluster", None)
    with pytest.raises(MissingExtraError, match=r"^clustering needs the 'plot' extra .*: pip install 'embcli\[plot\]'$"):
        cluster_model(en, k=4)


def test_map_with_clusters_and_hover_neighbours(en):
    wmap = maps.build_map([en], top=32, clusters=4, hover_neighbours=3)
    assert len(set(wmap.clusters.tolist())) == 4
    assert wmap.neighbours[EN_WORDS.index("king")][0] in ENGLISH["royalty"]


def test_labels_do_not_cover_other_points_when_asked():
    xy = np.array([[0.0, 0.0], [20.0, 0.0], [200.0, 0.0]])
    sizes = np.array([[40.0, 10.0]] * 3)
    assert maps.place_labels(xy, sizes).tolist() == [True, False, True]
    # The first label would cover the second word's point: with point avoidance the second is labelled.
    assert maps.place_labels(xy, sizes, order=[0, 1, 2], point=3.0).tolist() == [False, True, True]


def test_a_label_that_does_not_fit_on_the_right_goes_left():
    xy = np.array([[100.0, 0.0], [120.0, 0.0]])
    sizes = np.array([[40.0, 10.0]] * 2)
    keep, left = maps.place_labels(xy, sizes, point=3.0, try_left=True)
    assert keep.tolist() == [True, True] and left.tolist() == [True, False]


def test_hover_neighbours_are_left_out_of_large_maps(en, monkeypatch):
    monkeypatch.setattr(maps, "HOVER_NEIGHBOURS_UP_TO", 10)
    wmap = maps.build_map([en], top=32, hover_neighbours=5)
    assert wmap.neighbours is None and "up to 10 words; this one has 32" in wmap.notes[0]
