"""``emb plot`` and ``emb cluster``: maps of words and k-means clusters (thin over the Python API)."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from embcli.cli.console import info, set_quiet, warn
from embcli.cli.options import QuietOpt


class Method(str, Enum):
    pca = "pca"
    tsne = "tsne"
    umap = "umap"


PLOT_EXAMPLES = """\
Examples:

\b
  emb plot king queen man woman prince princess -o royals.png
  emb plot --top 2000 -o map.html                      hover, zoom, search
  emb plot --neighbors-of 서울 -k 40 --method umap -o seoul.svg
  emb plot --file words.txt --color-by-cluster -o clusters.png
  emb plot -m old -m new --top 500 -o drift.html      two models aligned; moved words on stdout
"""
CLUSTER_EXAMPLES = """\
Examples:

\b
  emb cluster -k 100 --top 10000 > clusters.tsv        word, cluster, distance
  emb cluster -k 50 --projector proj/                  also a folder for TensorBoard's projector
"""


def plot_cmd(
    words: Annotated[Optional[list[str]], typer.Argument(help="Words to map.", show_default=False)] = None,
    model: Annotated[
        Optional[list[str]],
        typer.Option("--model", "-m", help="Model (name, folder or file); twice to compare two models"
                     " [default: the default model]."),
    ] = None,
    top: Annotated[Optional[int], typer.Option("--top", min=1, help="The N most frequent words [default: 300].")] = None,
    file: Annotated[Optional[str], typer.Option("--file", help="A file of words (whitespace-separated); - for stdin.")] = None,
    neighbors_of: Annotated[Optional[str], typer.Option("--neighbors-of", help="A word and its nearest words.")] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="How many neighbours with --neighbors-of.")] = 30,
    method: Annotated[Method, typer.Option("--method", help="pca: exact and fast; tsne, umap: need the plot extra.")] = Method.pca,
    output: Annotated[str, typer.Option("--output", "-o", help="map.png, map.svg or map.html.")] = "map.png",
    force: Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")] = False,
    color_by_cluster: Annotated[bool, typer.Option("--color-by-cluster", help="Colour words by k-means cluster.")] = False,
    clusters: Annotated[int, typer.Option("--clusters", min=1, help="How many clusters for --color-by-cluster.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed of t-SNE, UMAP and k-means.")] = 0,
    be_quiet: QuietOpt = False,
) -> None:
    """Draw a 2-D map of words with their labels (PNG, SVG, or an offline HTML page)."""
    set_quiet(be_quiet)
    from embcli.api import load, map_kind, read_words, save_map, word_map
    from embcli.errors import UsageError

    kind = map_kind(output, force)
    if model and len(model) > 2:
        raise UsageError(f"-m given {len(model)} times: a map compares at most two models")
    wanted = list(words or [])
    if file is not None:
        wanted += read_words(file)
    if file is not None and not wanted:
        raise UsageError(f"{file} holds no words: give a file of words")
    models = [load(m) for m in (model or [None])]
    wmap = word_map(
        models, wanted or None, top, neighbors_of, k, method.value, seed,
        clusters if color_by_cluster else None, hover_neighbours=8 if kind == "html" else 0,
    )
    if wmap.unknown:
        shown = ", ".join(wmap.unknown[:20]) + (" ..." if len(wmap.unknown) > 20 else "")
        warn(f"{len(wmap.unknown):,} word(s) not in model {models[0].name!r}, left out: {shown}")
    path, notes = save_map(wmap, output, force)
    for note in wmap.notes + notes:
        warn(note)
    if wmap.moved:
        out = sys.stdout
        out.write("word\tmoved\n")
        for word, distance in wmap.moved[:30]:
            out.write(f"{word}\t{distance:.4f}\n")
    info(f"wrote {path}: {len(wmap.words):,} words, {method.value}")


def cluster_cmd(
    model: Annotated[
        Optional[str], typer.Option("--model", "-m", help="Model name, folder or file [default: the default model].")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="How many clusters.")] = 100,
    top: Annotated[int, typer.Option("--top", min=1, help="Cluster the N most frequent words.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of k-means.")] = 0,
    central: Annotated[int, typer.Option("--central", min=0, help="Words per cluster in the summary on stderr.")] = 8,
    projector: Annotated[
        Optional[str], typer.Option("--projector", help="Also write a projector folder with a cluster column.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --projector folder.")] = False,
    be_quiet: QuietOpt = False,
) -> None:
    """k-means clusters of the most frequent words: TSV word, cluster, distance on stdout."""
    set_quiet(be_quiet)
    from embcli.api import load

    m = load(model)
    result = m.cluster(k, top, seed)
    if projector is not None:
        m.write_projector(projector, limit=len(result.words), clusters=result.labels, force=force)
    out = sys.stdout
    out.write("word\tcluster\tdistance\n")
    for word, label, distance in zip(result.words, result.labels.tolist(), result.distances.tolist()):
        out.write(f"{word}\t{label}\t{distance:.4f}\n")
    out.flush()
    if central:
        sizes = result.sizes()
        for c, words in enumerate(result.central(central)):
            info(f"cluster {c} ({sizes[c]:,} words): {' '.join(words)}")
    info(f"{len(result.words):,} words of model {m.name!r} in {result.k} clusters"
         + (f"; projector folder {projector}" if projector else ""))


def register(app: typer.Typer) -> None:
    app.command("plot", epilog=PLOT_EXAMPLES)(plot_cmd)
    app.command("cluster", epilog=CLUSTER_EXAMPLES)(cluster_cmd)
