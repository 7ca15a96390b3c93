"""``emb embed`` (one vector a line of text) and ``emb search`` (rank a collection's lines by a query)."""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from embcli.cli.console import info, warn
from embcli.cli.options import FormatOpt, ModelOpt, OutputFormat


class Pooling(str, Enum):
    mean = "mean"
    sif = "sif"
    fasttext = "fasttext"


class VectorFormat(str, Enum):
    tsv = "tsv"
    jsonl = "jsonl"
    npy = "npy"
    parquet = "parquet"


class Empty(str, Enum):
    zero = "zero"
    drop = "drop"


POOLING_HELP = (
    "mean: the mean of the words' unit vectors; sif: smooth inverse frequency weights and the first"
    " principal component removed (needs word counts); fasttext: what fastText's print-sentence-vectors"
    " prints (fastText models)."
)


def embed_cmd(
    inputs: Annotated[
        Optional[list[str]],
        typer.Argument(help="Text files, one item a line; none or - reads stdin.", show_default=False),
    ] = None,
    model: ModelOpt = None,
    pooling: Annotated[Pooling, typer.Option("--pooling", "-p", help=POOLING_HELP)] = Pooling.mean,
    fmt: Annotated[
        Optional[VectorFormat],
        typer.Option("--format", "-f", help="tsv and jsonl: line, text, vector; npy: the matrix; parquet: line, text, vector [default: from -o's suffix, else tsv]."),
    ] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Output file [default: stdout].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")] = False,
    empty: Annotated[
        Empty, typer.Option("--empty", help="Lines without a known word: a zero vector, or left out.")
    ] = Empty.zero,
    sif_sample: Annotated[
        int, typer.Option("--sif-sample", min=10, help="sif: lines the principal component is computed from (the"
                          " first N; at least 10 of them with a known word).")
    ] = 100_000,
) -> None:
    """One vector for each input line (a sentence, a document, a session of item ids)."""
    from embcli.api import load

    m = load(model)
    if output is None and fmt is not None and fmt.value in ("npy", "parquet") and sys.stdout.isatty():
        raise typer.BadParameter(f"{fmt.value} is binary: write it to a file with -o FILE", param_hint="--format")
    target = sys.stdout.buffer if output is None or output == "-" else output
    done = m.embed_file(inputs or ["-"], target, pooling=pooling.value, format=fmt and fmt.value, empty=empty.value,
                        sif_sample=sif_sample, force=force)
    if done.empty:
        what = "left out" if empty is Empty.drop else "zero vectors"
        warn(f"{done.empty} of {done.lines} lines have no word in the model's vocabulary ({what})")
    elif output is not None:
        info(f"{done.lines} lines embedded into {output}")


def search_cmd(
    queries: Annotated[
        Optional[list[str]],
        typer.Argument(help="Query lines (each a sentence, or a session of items); none or - reads stdin.", show_default=False),
    ] = None,
    docs: Annotated[
        str, typer.Option("--docs", "-d", help="The collection: a text file (one document a line) or a Parquet from emb embed.")
    ] = ...,
    k: Annotated[int, typer.Option("-k", "--top", min=1, help="Answers per query.")] = 10,
    model: ModelOpt = None,
    pooling: Annotated[
        Optional[Pooling], typer.Option("--pooling", "-p", help="For a text collection [default: mean]; a Parquet's own otherwise.")
    ] = None,
    fmt: FormatOpt = OutputFormat.auto,
) -> None:
    """The documents nearest to each query by cosine, with their line number and text."""
    from embcli.api import check_query_line, load
    from embcli.cli.lines import stdin_lines
    from embcli.cli.output import Renderer
    from embcli.cli.query import _Errors
    from embcli.errors import EmbError

    if docs == "-" and not queries:
        raise typer.BadParameter("queries and documents cannot both come from stdin", param_hint="--docs")
    m = load(model)
    collection = m.open_docs(docs, pooling.value if pooling else None)
    embedded_by = collection.meta.get("model_path")
    if embedded_by and os.path.realpath(embedded_by) != os.path.realpath(m.path):
        warn(f"{docs} was embedded with model {collection.meta.get('model', embedded_by)!r}, searched with {m.name!r}")
    if collection.empty:
        warn(f"{collection.empty} of {len(collection)} documents have no word in the model's vocabulary")
    out = Renderer(fmt, ["query", "rank", "line", "score", "text"])
    errors = _Errors()
    read = bool(queries and queries != ["-"])
    if read:
        batches = [[(None, q) for q in queries]]
    else:
        batches = ([(n, q) for n, q in batch if q.strip()] for batch in stdin_lines())
    for batch in batches:
        read = read or bool(batch)
        checked = []
        for number, query in batch:
            try:
                check_query_line(query)  # not UTF-8: refused, not searched for as U+FFFD
                checked.append((number, query))
            except EmbError as exc:
                errors.report(number, exc)
        batch = checked
        if not batch:
            continue
        results = m.query_docs([q for _, q in batch], collection, k=k)
        for (number, _), res in zip(batch, results):
            if res.error is not None:
                errors.report(number, res.error)
                continue
            for hit in res.hits:
                out.row({"query": res.query, "rank": hit.rank, "line": hit.line, "score": hit.score, "text": hit.text})
            out.flush_block(flush=False)
        out.flush()
    out.close()
    if not read:
        # Not an error (an empty input is a valid stream of no queries), but say so, as the other
        # query commands do: exit code 0.
        info("emb: no query read: stdin held no query (give queries, or pipe one query a line)")
    errors.exit()


EXAMPLES = {
    "embed": """\
Examples:

\b
  emb embed sentences.txt > vectors.tsv              mean of unit word vectors, TSV
  emb embed docs.txt -p sif -f parquet -o docs.parquet
  emb embed -m cc.en.300.bin -p fasttext -f npy -o v.npy < lines.txt
  emb embed sessions.txt -m items --empty drop -f jsonl
""",
    "search": """\
Examples:

\b
  emb search "the lord is my shepherd" --docs verses.txt -k 5
  emb search --docs docs.parquet < queries.txt         one query a line
  emb search "i12 i55 i90" --docs items.txt -m items   a session against the items
""",
}


def register(app: typer.Typer) -> None:
    app.command("embed", epilog=EXAMPLES["embed"])(embed_cmd)
    app.command("search", epilog=EXAMPLES["search"])(search_cmd)
