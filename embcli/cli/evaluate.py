"""``emb evaluate``: analogy accuracy and word-pair similarity of one or more models."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from embcli.cli.options import AnalogyMethod as Method
from embcli.cli.options import FormatOpt, OutputFormat
from embcli.names import OOV_POLICIES

OovPolicy = Enum("OovPolicy", {name: name for name in OOV_POLICIES}, type=str)


COLUMNS = [
    "model", "dataset", "kind", "section", "score", "pearson",
    "correct", "answered", "questions", "coverage", "oov",
]

EXAMPLES = """\
Examples:

\b
  emb evaluate                                   the default model on the standard sets
  emb evaluate -m web-w2v -m web-ft              two models side by side
  emb evaluate --analogies my-questions.txt --oov wrong --format json
"""


def evaluate_cmd(
    models: Annotated[
        Optional[list[str]],
        typer.Option("--model", "-m", help="Model name or folder; repeat to compare models [default: the default model]."),
    ] = None,
    analogies: Annotated[
        Optional[list[Path]],
        typer.Option("--analogies", help="Analogy file (': section' and 'a b c d' lines: a is to b as c is to d,"
                     " i.e. b - a + c = d, Google's order, not emb analogy's A B C); repeatable."),
    ] = None,
    similarity: Annotated[
        Optional[list[Path]], typer.Option("--similarity", help="Word-pair file ('w1 w2 score'); repeatable.")
    ] = None,
    method: Annotated[Method, typer.Option(help="3CosAdd (add) or 3CosMul (mul).")] = Method.add,
    restrict_vocab: Annotated[int, typer.Option(help="Search and look up only the N most frequent words.")] = 300_000,
    case_sensitive: Annotated[
        bool, typer.Option("--case-sensitive", help="Match words exactly (default: case-insensitive, as gensim).")
    ] = False,
    oov: Annotated[
        OovPolicy, typer.Option(help="Questions with unknown words: skip (and count) them, or count them wrong.")
    ] = OovPolicy.skip,
    fmt: FormatOpt = OutputFormat.auto,
) -> None:
    """Score models on analogy and word-similarity sets (default: Google analogies, WS353, SimLex-999)."""
    from embcli.api import evaluate
    from embcli.cli.output import Renderer

    results = evaluate(
        models or None, analogies=analogies, similarity=similarity, method=method.value,
        restrict_vocab=restrict_vocab, case_sensitive=case_sensitive, oov=oov.value,
    )
    rows = [r.to_dict() for r in results]
    out = Renderer(fmt, COLUMNS)
    if out.fmt != "table":
        out.rows(rows)
        out.close()
        return
    _print_tables(rows, list(dict.fromkeys(r["model"] for r in rows)))


def _stem(dataset: str) -> str:
    """A dataset's name without its file suffixes (questions-words.txt: questions-words)."""
    name = str(dataset)
    for suffix in (".gz", ".xz", ".bz2", ".zst", ".txt", ".tsv", ".csv"):
        name = name.removesuffix(suffix)
    return name


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _print_tables(rows: list[dict], names: list[str]) -> None:
    """On a terminal: sections with one column per model, then one summary line per model and set."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    datasets = list(dict.fromkeys(r["dataset"] for r in rows if r["kind"].startswith("analogy")))
    for ds in datasets:
        table = Table(title=f"{ds}: accuracy per section", show_edge=False, header_style="bold")
        table.add_column("section")
        for name in names:
            table.add_column(name, justify="right")
        sections = list(dict.fromkeys(r["section"] for r in rows if r["dataset"] == ds))
        for sec in sections:
            cells = []
            for name in names:
                r = next((r for r in rows if r["dataset"] == ds and r["model"] == name and r["section"] == sec), None)
                cells.append("-" if r is None else f"{_pct(r['score'])} ({r['correct']}/{r['answered']})")
            table.add_row(sec, *cells, end_section=sec == "total" or sec == sections[-1])
        console.print(table)
    # Narrow enough for 80 columns: the OOV policy (one per run) goes in the title, Pearson's r in
    # its own column, and datasets by their file's stem.
    policies = sorted({r["oov"] for r in rows})
    summary = Table(title=f"summary (unknown words: {', '.join(policies)})", show_edge=False, header_style="bold")
    for col in ("model", "dataset", "metric", "score", "pearson", "coverage"):
        summary.add_column(col, justify="left" if col in ("model", "dataset", "metric") else "right")
    for r in rows:
        if r["section"] != "total":
            continue
        pearson = ""
        if r["kind"].startswith("analogy"):
            metric, score = f"acc {r['kind'].split('-')[1]}", _pct(r["score"])
        else:
            metric = "spearman"
            score = "-" if r["score"] is None else f"{r['score']:.3f}"
            pearson = "-" if r.get("pearson") is None else f"{r['pearson']:.3f}"
        coverage = f"{_pct(r['coverage'])} of {r['questions']}"
        summary.add_row(r["model"], _stem(r["dataset"]), metric, score, pearson, coverage)
    console.print(summary)


def register(app: typer.Typer) -> None:
    app.command("evaluate", epilog=EXAMPLES)(evaluate_cmd)
