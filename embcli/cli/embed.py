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
        VectorFormat,
        typer.Option("--format", "-f", help="tsv and jsonl: line, text, vector; npy: the matrix; parquet: line, text, vector."),
    ] = VectorFormat.tsv,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Output file [default: stdout].")] = None,
    empty: Annotated[
        Empty, typer.Option("--empty", help="Lines without a known word: a zero vector, or left out.")
    ] = Empty.zero,
    sif_sample: Annotated[
        int, typer.Option("--sif-sample", min=1, help="sif: lines the principal component is computed from (the first N).")
    ] = 100_000,
) -> None:
    """One vector for each input line (a sentence, a document, a session of item ids)."""
    import numpy as np

    from embcli.corpus import Corpus
    from embcli.open import open_model
    from embcli.sentences import Embedder, text_lines
    from embcli.vector_writers import VectorWriter

    m = open_model(model)
    embedder = Embedder(m, pooling.value, sif_sample=sif_sample)
    corpus = Corpus(inputs or ["-"])
    if output is None and fmt.value in ("npy", "parquet") and sys.stdout.isatty():
        raise typer.BadParameter(f"{fmt.value} is binary: write it to a file with -o FILE", param_hint="--format")
    meta = {"model": m.name, "model_path": os.path.realpath(m.path), "dim": m.dim, "pooling": pooling.value}
    counts = {"lines": 0, "empties": 0}

    def run(stream) -> None:
        writer = VectorWriter(fmt.value, stream, m.dim, meta)
        # The text and npy writers are done with a block when they return: its buffer can be reused.
        reuse = fmt.value != "parquet"
        for block, pooled in embedder.stream(text_lines(corpus), reuse=reuse):
            if embedder.component is not None:
                writer.set_meta(sif_component=[float(x) for x in embedder.component])
            numbers = np.arange(pooled.first_line, pooled.first_line + len(block))
            counts["lines"] += len(block)
            missing = pooled.empty
            counts["empties"] += int(missing.sum())
            if empty is Empty.drop and missing.any():
                keep = np.flatnonzero(~missing)
                writer.write(numbers[keep], [block[i] for i in keep.tolist()], pooled.vectors[keep])
            else:
                writer.write(numbers, block, pooled.vectors)
        writer.close()

    def run_into(path: str) -> None:
        with open(path, "wb") as stream:
            run(stream)

    if output is None or output == "-":
        run(sys.stdout.buffer)
    else:
        from embcli.api import write_output
        from embcli.errors import EmbError, OutputError

        try:
            # A regular file is replaced atomically; a FIFO, /dev/stdout or a device is written through.
            write_output(output, run_into)
        except EmbError:
            raise
        except OSError as exc:
            raise OutputError(f"{output}: cannot write ({exc.strerror}): check the free space and permissions") from None
    lines, empties = counts["lines"], counts["empties"]
    if empties:
        what = "left out" if empty is Empty.drop else "zero vectors"
        warn(f"{empties} of {lines} lines have no word in the model's vocabulary ({what})")
    elif output is not None:
        info(f"{lines} lines embedded into {output}")


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
    from embcli.cli.output import Renderer
    from embcli.cli.lines import stdin_lines
    from embcli.cli.query import _Errors
    from embcli.docsearch import open_docs, search_docs
    from embcli.open import open_model

    if docs == "-" and not queries:
        raise typer.BadParameter("queries and documents cannot both come from stdin", param_hint="--docs")
    m = open_model(model)
    collection = open_docs(m, docs, pooling.value if pooling else None)
    embedded_by = collection.meta.get("model_path")
    if embedded_by and os.path.realpath(embedded_by) != os.path.realpath(m.path):
        warn(f"{docs} was embedded with model {collection.meta.get('model', embedded_by)!r}, searched with {m.name!r}")
    if collection.empty:
        warn(f"{collection.empty} of {len(collection)} documents have no word in the model's vocabulary")
    out = Renderer(fmt, ["query", "rank", "line", "score", "text"])
    errors = _Errors()
    if queries and queries != ["-"]:
        batches = [[(None, q) for q in queries]]
    else:
        batches = ([(n, q) for n, q in batch if q.strip()] for batch in stdin_lines())
    for batch in batches:
        if not batch:
            continue
        results = search_docs(m, collection, [q for _, q in batch], k=k)
        for (number, _), res in zip(batch, results):
            if res.error is not None:
                errors.report(number, res.error)
                continue
            for hit in res.hits:
                out.row({"query": res.query, "rank": hit.rank, "line": hit.line, "score": hit.score, "text": hit.text})
            out.flush_block(flush=False)
        out.flush()
    out.close()
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
