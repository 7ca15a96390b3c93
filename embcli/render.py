"""Pictures of a ``WordMap``: PNG and SVG through matplotlib, one offline HTML file through plotly.

Labels are thinned by ``maps.place_labels`` so that none overlaps another (the most frequent words
first). Hangul, kana and Hanja are drawn with NanumGothic (SIL Open Font License), which the
``plot`` extra brings in the ``koreanize-matplotlib`` package (only its font files are used, the
module is never imported); CJK fonts installed on the system (Noto Sans CJK and the like) are
added after it, and characters no font has are reported rather than drawn as boxes unannounced.
The HTML file holds plotly.js, its data and the label glyphs (a font subset of just the characters
used), so it opens offline; hovering shows each word's count and nearest words, and a search box
finds a word.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
import os
import unicodedata
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from embcli.errors import MissingExtraError, UsageError
from embcli.extras import available
from embcli.extras import require as require_module
from embcli.folder.output import output_target, write_file
from embcli.maps import WordMap, build_map, label_order, place_labels, text_width

SUFFIXES = (".png", ".svg", ".html")
LABEL_PT = 8.0
DPI = 110
# Beyond this many points a PNG/SVG gets small dots, and the HTML map draws with WebGL.
MANY_POINTS = 5_000
_SYSTEM_CJK = ("Noto Sans CJK", "Noto Serif CJK", "Source Han Sans", "Droid Sans Fallback", "WenQuanYi")


def output_kind(path: str | os.PathLike) -> str:
    """``png``, ``svg`` or ``html`` from the output's suffix; anything else is refused."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"{path}: a map is written as .png, .svg or .html: change the suffix of -o")
    return suffix[1:]


def check_map_path(path: str | os.PathLike, force: bool) -> str:
    """The kind of map ``path`` names, its library installed and (without ``force``) no file there yet."""
    kind = output_kind(path)
    require(kind)
    if Path(path).is_dir():
        raise UsageError(f"{path} is a folder: give a file name ending in .{kind}")
    output_target(Path(path), force)
    return kind


def require(kind: str) -> None:
    """Fail early, with the install command, when the library for ``kind`` is missing."""
    module = "plotly" if kind == "html" else "matplotlib"
    if not available(module):
        raise MissingExtraError(module, "plot", f"a .{kind} map")


# ------------------------------------------------------------------------------------------- fonts


def nanum_fonts() -> list[Path]:
    """NanumGothic's font files from the ``koreanize-matplotlib`` package (not imported), if installed."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(list(spec.submodule_search_locations)[0]) / "fonts"
    return [p for p in (folder / "NanumGothic.ttf", folder / "NanumGothicBold.ttf") if p.is_file()]


@lru_cache(maxsize=1)
def label_fonts() -> tuple[tuple[str, str], ...]:
    """(family, file) of the fonts labels fall back through: DejaVu Sans, NanumGothic, system CJK."""
    from matplotlib import font_manager

    for path in nanum_fonts():
        font_manager.fontManager.addfont(str(path))
    chain: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(entry) -> None:
        if entry.name not in seen and entry.style == "normal":
            seen.add(entry.name)
            chain.append((entry.name, entry.fname))

    entries = sorted(font_manager.fontManager.ttflist, key=lambda e: (abs(e.weight - 400) if isinstance(e.weight, int) else 0))
    for want in ("DejaVu Sans", "NanumGothic"):
        for entry in entries:
            if entry.name == want:
                add(entry)
                break
    for entry in entries:
        if entry.name.startswith(_SYSTEM_CJK):
            add(entry)
    return tuple(chain)


@lru_cache(maxsize=8)
def _charmap(path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(path).get_charmap())


def missing_glyphs(texts, fonts=None) -> dict[str, list[str]]:
    """The texts with characters that none of ``fonts`` (default: the label fonts) has, and those characters."""
    maps = [_charmap(path) for _, path in (label_fonts() if fonts is None else fonts)]
    out: dict[str, list[str]] = {}
    for text in texts:
        lost = [
            ch for ch in text
            if not any(ord(ch) in m for m in maps) and unicodedata.category(ch) not in ("Cc", "Cf", "Zs", "Zl", "Zp")
            and not unicodedata.combining(ch)
        ]
        if lost:
            out[text] = lost
    return out


def _glyph_note(words) -> list[str]:
    lost = missing_glyphs(words)
    if not lost:
        return []
    chars = sorted({c for cs in lost.values() for c in cs})
    shown = ", ".join(list(lost)[:5]) + (" ..." if len(lost) > 5 else "")
    return [
        f"{len(lost):,} label(s) have characters no installed font draws ({''.join(chars[:10])}): {shown};"
        " install a font that has them (Debian: fonts-noto-cjk)"
    ]


# -------------------------------------------------------------------------------------- matplotlib


def _limits(xy: np.ndarray) -> tuple[float, float, float, float]:
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    # Room on the right for the labels of the rightmost points.
    return lo[0] - 0.04 * span[0], hi[0] + 0.12 * span[0], lo[1] - 0.05 * span[1], hi[1] + 0.05 * span[1]


def _colors(wmap: WordMap):
    import matplotlib

    if wmap.clusters is None:
        return "#3b75af"
    cmap = matplotlib.colormaps["tab20"]
    return [cmap(int(c) % 20) for c in wmap.clusters]


def figure(wmap: WordMap, notes: list[str] | None = None):
    """A matplotlib Figure of the map (one panel per model); labels thinned so none overlaps.

    Messages for the person (how many labels fit) are appended to ``notes``.
    """
    FigureCanvasAgg = require_module("matplotlib.backends.backend_agg", "plot", "drawing a map").FigureCanvasAgg
    from matplotlib.figure import Figure
    fonts = [family for family, _ in label_fonts()] or ["sans-serif"]
    n_panels = len(wmap.panels)
    fig = Figure(figsize=(11 * n_panels if n_panels > 1 else 12, 9), dpi=DPI)
    FigureCanvasAgg(fig)  # drawn off screen, whatever matplotlib's default backend
    fig.subplots_adjust(left=0.03, right=0.99, bottom=0.03, top=0.94, wspace=0.05)
    n = len(wmap.words)
    size_px = LABEL_PT * DPI / 72
    sizes = np.array([[text_width(w) * size_px, size_px * 1.25] for w in wmap.words])
    center = wmap.words.index(wmap.center) if wmap.center in wmap.words else None
    order = label_order(wmap.counts, center)
    colors = _colors(wmap)
    dot = 14 if n <= 500 else 6 if n <= MANY_POINTS else 1
    shown = []
    for p, panel in enumerate(wmap.panels):
        ax = fig.add_subplot(1, n_panels, p + 1)
        x0, x1, y0, y1 = _limits(np.vstack([q.xy for q in wmap.panels]))
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{panel.title} ({wmap.method})", fontfamily=fonts, fontsize=11)
        ax.scatter(panel.xy[:, 0], panel.xy[:, 1], s=dot, c=colors, alpha=0.8, linewidths=0)
        keep, left = place_labels(ax.transData.transform(panel.xy), sizes, order,
                                  point=np.sqrt(dot) * DPI / 72 / 2 + 1, try_left=True)
        shown.append(int(keep.sum()))
        for i in np.flatnonzero(keep).tolist():
            ax.annotate(
                wmap.words[i], panel.xy[i], xytext=(-2.5 if left[i] else 2.5, 0), textcoords="offset points",
                va="center", ha="right" if left[i] else "left",
                fontsize=LABEL_PT, fontfamily=fonts, color="#c0392b" if i == center else "#222222",
                fontweight="bold" if i == center else "normal",
            )
        if center is not None:
            ax.scatter(panel.xy[center:center + 1, 0], panel.xy[center:center + 1, 1], s=40, c="#c0392b")
    if min(shown) < n and notes is not None:
        notes.append(
            f"labelled {min(shown):,} of {n:,} words, the most frequent that fit without overlapping"
            " (an .html map shows every word on hover)"
        )
    return fig


def _save_matplotlib(wmap: WordMap, tmp: str, kind: str, notes: list[str]) -> None:
    # matplotlib logs "findfont: Failed to find font weight bold for NanumGothic" (a title in bold,
    # drawn in the regular weight): a library prints nothing, so its font log is quiet meanwhile.
    log = logging.getLogger("matplotlib.font_manager")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        fig = figure(wmap, notes)
        with warnings.catch_warnings():
            # Missing glyphs are reported once, in the notes, not as a warning per character.
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
            fig.savefig(tmp, format=kind, dpi=DPI)
    finally:
        log.setLevel(level)


# ------------------------------------------------------------------------------------------ plotly


def _font_face(texts) -> str:
    """A CSS @font-face with NanumGothic cut down to the characters of ``texts`` and ASCII.

    The page then draws its labels the same on every machine, also one without any CJK (or any)
    fonts installed; the subset of a few hundred words' characters weighs a few tens of KB.
    """
    chars = {c for t in texts for c in t} | {chr(c) for c in range(0x20, 0x7F)}
    fonts = nanum_fonts()
    if not fonts:
        return ""
    from fontTools import subset

    options = subset.Options()
    options.layout_features = ["*"]
    log = logging.getLogger("fontTools")
    level = log.level
    log.setLevel(logging.ERROR)  # it reports each table it drops; none matters for a label font
    try:
        font = subset.load_font(str(fonts[0]), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(text="".join(sorted(chars)))
        subsetter.subset(font)
        buf = io.BytesIO()
        subset.save_font(font, buf, options)
    finally:
        log.setLevel(level)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"@font-face{{font-family:EmbLabels;src:url(data:font/ttf;base64,{data}) format('truetype');}}"


_SEARCH_BOX = """<div id="emb-search" style="position:fixed;top:6px;left:8px;z-index:10;background:#fff;
padding:4px 6px;border:1px solid #bbb;border-radius:4px;font:13px EmbLabels,sans-serif">
<input id="emb-q" type="search" placeholder="find a word" style="font:inherit;width:12em">
<span id="emb-found"></span></div>"""

_SEARCH_JS = """<script>
(function () {
  var gd = document.getElementById("emb-map");
  var box = document.getElementById("emb-q"), found = document.getElementById("emb-found");
  var panels = %(panels)s, marks = %(marks)s, words = %(words)s;
  function find() {
    var q = box.value.trim(), i = words.indexOf(q);
    if (i < 0) { i = words.indexOf(q.toLowerCase()); }
    if (i < 0) { found.textContent = q ? "not in the map" : ""; return; }
    found.textContent = "";
    var layout = {};
    panels.forEach(function (t, p) {
      var x = gd.data[t].x[i], y = gd.data[t].y[i];
      Plotly.restyle(gd, {x: [[x]], y: [[y]], text: [[words[i]]]}, [marks[p]]);
      var ax = gd.layout[p ? "xaxis" + (p + 1) : "xaxis"].range, ay = gd.layout[p ? "yaxis" + (p + 1) : "yaxis"].range;
      var dx = (ax[1] - ax[0]) / 4, dy = (ay[1] - ay[0]) / 4;
      layout[(p ? "xaxis" + (p + 1) : "xaxis") + ".range"] = [x - dx, x + dx];
      layout[(p ? "yaxis" + (p + 1) : "yaxis") + ".range"] = [y - dy, y + dy];
    });
    Plotly.relayout(gd, layout);
  }
  box.addEventListener("keydown", function (e) { if (e.key === "Enter") { find(); } });
  box.addEventListener("change", find);
  // map.html#q=WORD opens the map on that word.
  var hash = decodeURIComponent(location.hash || "");
  if (hash.indexOf("#q=") === 0) { box.value = hash.slice(3); find(); }
})();
</script>"""


def _hover_rows(wmap: WordMap) -> list[list[str]]:
    rows = []
    for i, word in enumerate(wmap.words):
        count = wmap.counts[i]
        near = ", ".join(wmap.neighbours[i]) if wmap.neighbours else ""
        extra = [f"cluster {int(wmap.clusters[i])}"] if wmap.clusters is not None else []
        rows.append([word, f"{count:,}" if count is not None else "-", near or "-"] + extra)
    return rows


def html_page(wmap: WordMap, notes: list[str] | None = None) -> str:
    """The map as one self-contained HTML page (plotly.js inline, no network at view time)."""
    go = require_module("plotly.graph_objects", "plot", "an .html map")
    from plotly.subplots import make_subplots
    n_panels, n = len(wmap.panels), len(wmap.words)
    fig = make_subplots(rows=1, cols=n_panels, subplot_titles=[f"{p.title} ({wmap.method})" for p in wmap.panels],
                        horizontal_spacing=0.03)
    width, height = 1100 * n_panels if n_panels > 1 else 1200, 850
    x0, x1, y0, y1 = _limits(np.vstack([p.xy for p in wmap.panels]))
    size_px = 11.0
    sizes = np.array([[text_width(w) * size_px, size_px * 1.3] for w in wmap.words])
    center = wmap.words.index(wmap.center) if wmap.center in wmap.words else None
    order = label_order(wmap.counts, center)
    hover = _hover_rows(wmap)
    template = "<b>%{customdata[0]}</b><br>count %{customdata[1]}<br>nearest: %{customdata[2]}"
    template += "<br>%{customdata[3]}" if wmap.clusters is not None else ""
    template += "<extra></extra>"
    scatter = go.Scattergl if n > MANY_POINTS else go.Scatter
    colors = wmap.clusters.tolist() if wmap.clusters is not None else "#3b75af"
    panels, marks = [], []
    shown = []
    for p, panel in enumerate(wmap.panels):
        px = np.column_stack([(panel.xy[:, 0] - x0) / (x1 - x0) * width / n_panels,
                              (panel.xy[:, 1] - y0) / (y1 - y0) * height])
        keep, left = place_labels(px, sizes, order, point=4.5 if n <= MANY_POINTS else 0.0, try_left=True)
        shown.append(int(keep.sum()))
        text = [w if k else "" for w, k in zip(wmap.words, keep.tolist())]
        fig.add_trace(scatter(
            x=panel.xy[:, 0].tolist(), y=panel.xy[:, 1].tolist(), mode="markers+text", text=text,
            textposition=["middle left" if q else "middle right" for q in left.tolist()], textfont={"size": size_px, "color": "#222"}, customdata=hover,
            hovertemplate=template, name=panel.title, showlegend=False,
            marker={"size": 7 if n <= MANY_POINTS else 3, "color": colors, "colorscale": "Turbo" if wmap.clusters is not None else None,
                    "opacity": 0.8},
        ), row=1, col=p + 1)
        panels.append(len(fig.data) - 1)
        fig.add_trace(go.Scatter(x=[], y=[], mode="markers+text", text=[], textposition="top center",
                                 marker={"size": 16, "color": "rgba(0,0,0,0)", "line": {"color": "#c0392b", "width": 3}},
                                 textfont={"size": 15, "color": "#c0392b"}, hoverinfo="skip", showlegend=False),
                      row=1, col=p + 1)
        marks.append(len(fig.data) - 1)
    fig.update_xaxes(range=[x0, x1], showticklabels=False, zeroline=False)
    fig.update_yaxes(range=[y0, y1], showticklabels=False, zeroline=False)
    fig.update_layout(width=width, height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      font={"family": "EmbLabels, 'DejaVu Sans', Arial, sans-serif"}, plot_bgcolor="#fafafa",
                      hovermode="closest", dragmode="zoom")
    if min(shown) < n and notes is not None:
        notes.append(f"labelled {min(shown):,} of {n:,} words that fit without overlapping; hover shows every word")
    page = fig.to_html(include_plotlyjs=True, full_html=True, div_id="emb-map",
                       config={"displaylogo": False, "scrollZoom": True, "responsive": False})
    face = _font_face(wmap.words + [p.title for p in wmap.panels] + ["·–—…"])
    style = f"<style>{face} body{{margin:0;padding-top:34px}}</style>"
    page = page.replace("<head>", f"<head><meta charset=\"utf-8\"><title>emb map</title>{style}", 1)
    page = page.replace("<body>", "<body>" + _SEARCH_BOX, 1)
    script = _SEARCH_JS % {
        "panels": json.dumps(panels), "marks": json.dumps(marks),
        "words": json.dumps(wmap.words, ensure_ascii=False).replace("</", "<\\/"),
    }
    return page.replace("</body>", script + "</body>", 1)


# ------------------------------------------------------------------------------------------- files


def save_map(wmap: WordMap, path: str | os.PathLike, force: bool = False) -> tuple[Path, list[str]]:
    """Write the map to ``path`` (.png, .svg or .html), through a temporary file renamed at the end;
    an existing file is refused unless ``force``.

    Returns the path and messages for the person (labels left out, characters no font has).
    """
    notes: list[str] = []
    kind = check_map_path(path, force)
    target = Path(path)

    def write(path: str) -> None:
        if kind == "html":
            Path(path).write_text(html_page(wmap, notes), encoding="utf-8")
        else:
            # The format is named: the temporary file's suffix is not the picture's.
            _save_matplotlib(wmap, path, kind, notes)

    # A new file, or one replaced atomically with ``force`` (umask modes); a FIFO or /dev/stdout is
    # written through.
    write_file(target, write, force=force)
    if kind != "html":
        notes.extend(_glyph_note(wmap.words))
    return target, notes


def plot(models, words=None, method: str = "pca", path: str | os.PathLike | None = None, top: int | None = None,
         neighbours_of: str | None = None, k: int = 30, seed: int = 0, clusters: int | None = None,
         force: bool = False):
    """Map words of one model (or two, aligned): the matplotlib Figure, or with ``path`` the file
    written (an existing file refused unless ``force``, before any work).

    ``models`` is a ``ModelFolder`` or a list of one or two. The Python API's ``Model.plot`` is this.
    """
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    kind = check_map_path(path, force) if path is not None else "png"
    if path is None:
        require(kind)
    wmap = build_map(models, words, top, neighbours_of, k, method, seed, clusters,
                     hover_neighbours=8 if kind == "html" else 0)
    if path is None:
        return figure(wmap)
    written, _ = save_map(wmap, path, force)
    return written
