"""Maps drawn: PNG and SVG (Hangul glyphs really drawn), and the offline HTML opened in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from embcli import maps, render
from embcli.errors import MissingExtraError, UsageError
from embcli.folder import ModelFolder
from map_models import ENGLISH, KOREAN, write_grouped_model

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(params=["en", "ko"])
def lang_map(request, tmp_path):
    groups = ENGLISH if request.param == "en" else KOREAN
    model = ModelFolder(write_grouped_model(tmp_path / request.param, groups))
    return request.param, maps.build_map([model], top=32, hover_neighbours=4, clusters=4)


def read_png(path: Path) -> np.ndarray:
    from matplotlib.image import imread

    return imread(str(path))


def draw_text(text: str, fonts) -> np.ndarray:
    """One label drawn alone by matplotlib's Agg, as a grey image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.6, 0.5), dpi=100)
    FigureCanvasAgg(fig)
    fig.text(0.05, 0.3, text, fontsize=16, fontfamily=fonts)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].mean(axis=2)


# ------------------------------------------------------------------------------------------ fonts


def test_hangul_kana_and_hanja_have_glyphs_in_the_label_fonts():
    families = [f for f, _ in render.label_fonts()]
    assert "NanumGothic" in families
    assert render.missing_glyphs(["서울", "어머니", "한국어", "ひらがな", "カタカナ", "東京", "café"]) == {}
    # A private-use character has no glyph anywhere: it is reported, not drawn as a silent box.
    assert render.missing_glyphs(["a\U000f0001"]) == {"a\U000f0001": ["\U000f0001"]}


def test_hangul_labels_are_drawn_as_glyphs_not_the_missing_glyph_box():
    fonts = [f for f, _ in render.label_fonts()]
    syllables = "서울김치한"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # DejaVu Sans alone has no Hangul: every syllable comes out as the same missing-glyph box.
        boxes = [draw_text(ch, ["DejaVu Sans"]) for ch in syllables]
    assert all(np.array_equal(b, boxes[0]) for b in boxes)
    drawn = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns for every glyph it cannot find
        for ch in syllables:
            drawn[ch] = draw_text(ch, fonts)
    for ch, image in drawn.items():
        assert (image < 128).sum() > 20, f"{ch} drew nothing"
        assert not np.array_equal(image, boxes[0]), f"{ch} drawn as the missing-glyph box"
    # Five different syllables give five different pictures.
    assert len({image.tobytes() for image in drawn.values()}) == 5


# --------------------------------------------------------------------------------------- PNG, SVG


def test_png_map_of_english_and_korean_words(tmp_path, lang_map):
    lang, wmap = lang_map
    path, notes = render.save_map(wmap, tmp_path / f"{lang}.png")
    image = read_png(path)
    assert image.shape[:2] == (990, 1320)
    assert not [n for n in notes if "font" in n]  # every label's characters have a glyph
    dark = (image[..., :3].max(axis=2) < 0.3).sum()
    assert dark > 2000  # labels (and the frame) are drawn
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [f"{lang}.png"]  # no temporary file left


def test_every_korean_label_is_drawn_in_the_png(tmp_path):
    """Each word of a small map is labelled and its figure text resolves to NanumGothic."""
    model = ModelFolder(write_grouped_model(tmp_path / "ko", {"a": KOREAN["도시"], "b": KOREAN["음식"]}))
    wmap = maps.build_map([model], words=KOREAN["도시"][:4] + KOREAN["음식"][:4])
    fig = render.figure(wmap, notes := [])
    fig.canvas.draw()
    texts = [t for ax in fig.axes for t in ax.texts]
    assert sorted(t.get_text() for t in texts) == sorted(wmap.words) and notes == []
    from matplotlib import font_manager

    for t in texts:
        resolved = {Path(p).name for p in font_manager.fontManager._find_fonts_by_props(t.get_fontproperties())}
        assert "NanumGothic.ttf" in resolved


def test_svg_map_and_two_models_side_by_side(tmp_path):
    a = ModelFolder(write_grouped_model(tmp_path / "a", ENGLISH))
    b = ModelFolder(write_grouped_model(tmp_path / "b", ENGLISH, rotate=True))
    wmap = maps.build_map([a, b], top=32, method="pca")
    path, _ = render.save_map(wmap, tmp_path / "two.svg")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    text = path.read_text()
    assert text.count("(pca)") >= 2 or len(re.findall(r"<g id=\"axes_\d\"", text)) == 2
    assert max(d for _, d in wmap.moved) < 1e-4  # a pure rotation moves no word


def test_many_points_are_drawn_with_labels_thinned(tmp_path):
    rng = np.random.default_rng(0)
    n = 6000
    words = [f"w{i}" for i in range(n)]
    from embcli.folder import write_model

    folder = tmp_path / "big"
    folder.mkdir()
    write_model(folder, words, rng.standard_normal((n, 8)).astype(np.float32), {"algorithm": "toy"})
    wmap = maps.build_map([ModelFolder(folder)], top=n)
    path, notes = render.save_map(wmap, tmp_path / "big.png")
    assert path.is_file()
    note = next(n for n in notes if n.startswith("labelled"))
    shown = int(note.split()[1].replace(",", ""))
    assert 100 < shown < n and "6,000" in note


def test_bad_outputs(tmp_path, monkeypatch):
    with pytest.raises(UsageError, match=r"\.png, \.svg or \.html"):
        render.output_kind("map.pdf")
    with pytest.raises(UsageError, match=r"\.png, \.svg or \.html"):
        render.output_kind("map")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "plotly" else real(name, *a))
    with pytest.raises(MissingExtraError, match=r"^a \.html map needs the 'plot' extra \(plotly is not installed\): pip install 'embcli\[plot\]'$"):
        render.require("html")


# ------------------------------------------------------------------------------------------- HTML


def test_html_map_is_self_contained(tmp_path, lang_map):
    lang, wmap = lang_map
    path, _ = render.save_map(wmap, tmp_path / f"{lang}.html")
    page = path.read_text(encoding="utf-8")
    # No script, style sheet, font or image is fetched: every tag's source is inline.
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//", page, re.I)
    assert not re.search(r"@import|url\([\"']?(https?:)?//", page)
    assert "Plotly.newPlot" in page and 'id="emb-q"' in page
    for word in wmap.words:
        assert word in page
    import json

    near = ", ".join(wmap.neighbours[0])
    assert near in page or json.dumps(near)[1:-1] in page  # hover text holds the nearest words
    assert "@font-face{font-family:EmbLabels" in page  # the labels' glyphs travel with the page


def chromium_shot(page: Path, shot: Path, fragment: str = "") -> None:
    profile = shot.parent / f"profile-{shot.stem}"
    subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
            # Any request would go to a closed port on this machine and fail: the page must not need one.
            "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--window-size=1250,900", "--virtual-time-budget=15000", f"--screenshot={shot}",
            page.as_uri() + fragment,
        ],
        check=True, capture_output=True, timeout=120,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_map_renders_offline_in_headless_chromium(tmp_path, lang_map):
    lang, wmap = lang_map
    path, _ = render.save_map(wmap, tmp_path / f"{lang}.html")
    chromium_shot(path, tmp_path / "shot.png")
    image = read_png(tmp_path / "shot.png")[..., :3]
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    plot = image[80:, :1200]
    # Points: coloured dots (the clusters' colours) on the light background of the plot area.
    coloured = (plot.max(axis=2) - plot.min(axis=2)) > 0.25
    assert coloured.sum() > 32 * 20
    # Labels: dark grey text pixels (the points are coloured) in the plot area.
    text = (plot.max(axis=2) < 0.45) & ((plot.max(axis=2) - plot.min(axis=2)) < 0.08)
    assert text.sum() > 150
    # The search: map.html#q=WORD rings the word in red and zooms to it.
    word = wmap.words[5]
    chromium_shot(path, tmp_path / "found.png", fragment=f"#q={word}")
    found = read_png(tmp_path / "found.png")[..., :3]
    red = (found[..., 0] > 0.6) & (found[..., 1] < 0.35) & (found[..., 2] < 0.35)
    before = (r > 0.6) & (g < 0.35) & (b < 0.35)
    assert red.sum() > before.sum() + 30


def test_plot_function_returns_a_figure_or_the_file(tmp_path):
    model = ModelFolder(write_grouped_model(tmp_path / "en", ENGLISH))
    fig = render.plot(model, ["king", "queen", "apple", "banana", "dog"])
    assert len(fig.axes[0].collections[0].get_offsets()) == 5
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert {"king", "apple", "dog"} <= set(labels) <= {"king", "queen", "apple", "banana", "dog"}
    written = render.plot([model], top=16, method="pca", path=tmp_path / "m.html")
    assert written == tmp_path / "m.html" and "Plotly.newPlot" in written.read_text()
