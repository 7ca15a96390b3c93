"""``emb index``: an HNSW index in the model folder for fast single queries, and its measured recall."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from embcli.cli.console import human_bytes, info
from embcli.cli.options import FormatOpt, OutputFormat


class Kind(str, Enum):
    hnsw = "hnsw"


EXAMPLES = """\
Examples:

\b
  emb index wiki                      build the HNSW index (needs pip install 'embcli[index]')
  emb neighbors -m wiki king          answered through the index
  emb neighbors -m wiki king --exact  every row scanned, as without an index
  emb index wiki --remove             remove it
"""

COLUMNS = ["model", "kind", "rows", "size", "recall@10", "sampled", "connectivity", "expansion", "seconds"]


def index_cmd(
    model: Annotated[Optional[str], typer.Argument(help="Model name or model folder [default: the default model].",
                                                   show_default=False)] = None,
    kind: Annotated[Kind, typer.Option("--kind", help="Index kind.")] = Kind.hnsw,
    connectivity: Annotated[int, typer.Option("--connectivity", min=2, help="HNSW: links a node keeps.")] = 16,
    expansion_add: Annotated[
        int, typer.Option("--expansion-add", min=2, help="HNSW: candidates weighed while inserting a row.")
    ] = 256,
    expansion_search: Annotated[
        int, typer.Option("--expansion-search", min=2, help="HNSW: candidates weighed while searching.")
    ] = 128,
    sample: Annotated[int, typer.Option("--sample", min=1, help="Words whose neighbours give recall@10.")] = 1000,
    threads: Annotated[
        int, typer.Option("--threads", min=0, show_default=False, help="Threads building the graph (0: all cores)"
                          " [default: all cores].")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the sampled words.")] = 0,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the model's index instead.")] = False,
    fmt: FormatOpt = OutputFormat.auto,
) -> None:
    """Build an approximate-neighbour (HNSW) index in a model's folder and print its recall@10.

    Cosine `emb neighbors` queries then go through the index (memory-mapped, not loaded): a shortlist
    from the graph, ranked by the exact cosine. --exact on a query scans every row instead. The
    recall@10 against the exact search on sampled words is printed and kept in ann-index/index.json.
    """
    from embcli.api import load
    from embcli.cli.output import Renderer

    m = load(model)
    if remove:
        info(f"removed the index of {m.name}" if m.remove_index() else f"{m.name} has no index: nothing removed")
        return
    info(f"building a {kind.value} index of {m.name} ({len(m):,} x {m.dim})...")

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "recall" and done == total:
            info(f"measured recall@10 on {total:,} words")

    built = m.build_index(kind.value, connectivity=connectivity, expansion_add=expansion_add,
                          expansion_search=expansion_search, sample=sample, seed=seed, threads=threads,
                          on_progress=progress)
    out = Renderer(fmt.value, COLUMNS)
    table = out.fmt == "table"
    out.row({
        "model": m.name, "kind": built["kind"], "rows": built["rows"],
        "size": human_bytes(built["bytes"]) if table else built["bytes"],
        "recall@10": (f"{built['recall_at_10']:.3f}" if table else built["recall_at_10"])
        if built["recall_at_10"] is not None else None,
        "sampled": built["sampled"], "connectivity": built["connectivity"],
        # JSON keeps the two settings apart; a table and TSV show them as add/search.
        "expansion": {"add": built["expansion_add"], "search": built["expansion_search"]}
        if out.fmt in ("json", "jsonl") else f"{built['expansion_add']}/{built['expansion_search']}",
        "seconds": built["seconds"],
    })
    out.close()


def register(app: typer.Typer) -> None:
    app.command("index", epilog=EXAMPLES)(index_cmd)
