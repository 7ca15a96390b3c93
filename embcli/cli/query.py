"""``emb neighbors``, ``emb analogy``, ``emb similarity``, ``emb vector``: query a model.

Words come from the command line, or with none (or ``-``) from stdin, one query a line. The lines
that are ready are answered together (one pass over the matrix for all of them) and their blocks
are flushed as soon as they are written, so a pipe or a person typing gets answers as they go. A
query that fails (an unknown word, a malformed line) is reported on stderr; the others still run and
the exit code is 1 at the end.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Annotated, Iterator, Optional

import typer

from embcli.cli.options import AnalogyMethod as Method
from embcli.cli.options import FormatOpt, ModelOpt, OutputFormat

# Queries answered together at most: bounds the latency of the first answers of a long stream.
MAX_BATCH = 1024


class Metric(str, Enum):
    cosine = "cosine"
    euclidean = "euclidean"
    dot = "dot"


WordsArg = Annotated[
    Optional[list[str]],
    typer.Argument(help="Query words; none or - reads one query a line from stdin.", show_default=False),
]
RestrictOpt = Annotated[
    Optional[int], typer.Option("--restrict", min=1, help="Search only the N most frequent words.", show_default=False)
]


def _stdin_lines() -> Iterator[list[tuple[int, str]]]:
    """Batches of (line number, text) from stdin: the lines already there, without waiting for more."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd is None:
        # Not a real file (an in-memory stream): nothing can block, so read in fixed batches.
        batch: list[tuple[int, str]] = []
        for number, line in enumerate(sys.stdin, 1):
            batch.append((number, line.rstrip("\r\n")))
            if len(batch) >= MAX_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    import select

    if sys.stdin.isatty() and sys.stderr.isatty():
        from embcli.cli.console import info

        info("reading queries from stdin, one a line (Ctrl-D to end)")
    pending = b""
    number = 0
    eof = False
    while not eof:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            eof = True
        pending += chunk
        # Take whatever else is ready now, without blocking, up to a batch of lines.
        while not eof and pending.count(b"\n") < MAX_BATCH and select.select([fd], [], [], 0)[0]:
            more = os.read(fd, 1 << 16)
            if not more:
                eof = True
            pending += more
        lines = pending.split(b"\n")
        pending = b"" if eof else lines.pop()
        batch = []
        for raw in lines:
            number += 1
            batch.append((number, raw.decode("utf-8", "replace").rstrip("\r")))
            if len(batch) >= MAX_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def _queries(words: Optional[list[str]], size: int | None) -> Iterator[list[tuple[int | None, list[str]]]]:
    """Batches of (line number or None, words of one query) from the arguments or stdin.

    ``size`` is the number of words a query takes (None: one query per word on the command line,
    and one word a line on stdin). Blank lines are skipped.
    """
    if words and words != ["-"]:
        if size is None:
            yield [(None, [w]) for w in words]
        elif len(words) != size:
            raise typer.BadParameter(f"expected {size} words, got {len(words)}", param_hint="WORDS")
        else:
            yield [(None, list(words))]
        return
    for batch in _stdin_lines():
        out = []
        for number, line in batch:
            parts = line.split() if size is not None else [line.strip()]
            if parts and parts[0]:
                out.append((number, parts))
        if out:
            yield out


class _Errors:
    """Per-query errors: one line on stderr each; any of them makes the exit code 1."""

    def __init__(self):
        self.count = 0

    def report(self, number: int | None, exc: Exception) -> None:
        self.count += 1
        where = f"line {number}: " if number is not None else ""
        sys.stdout.flush()
        sys.stderr.write(f"emb: error: {where}{exc}\n")
        sys.stderr.flush()

    def exit(self) -> None:
        if self.count:
            raise typer.Exit(1)


def _note_splits(model, terms) -> None:
    """On stderr: which query words a morphological tokenizer split, and what was looked up."""
    settings = model.tokenizer
    if not settings.morphological:
        return
    from embcli.cli.console import info
    from embcli.tokenize import query_tokens

    for term in terms:
        word, tokens = query_tokens(term.text, settings)
        if len(tokens) > 1:
            info(f"emb: {term.text!r} is {len(tokens)} tokens ({' '.join(tokens)}): looked up {word!r}")


def _open(model: Optional[str]):
    from embcli.model import open_model

    return open_model(model)


def neighbors_cmd(
    words: WordsArg = None,
    k: Annotated[int, typer.Option("-k", "--top", min=1, help="Answers per query.")] = 10,
    model: ModelOpt = None,
    metric: Annotated[
        Metric, typer.Option(help="cosine (like gensim's most_similar), euclidean (nearest first) or dot.")
    ] = Metric.cosine,
    restrict: RestrictOpt = None,
    fmt: FormatOpt = OutputFormat.auto,
) -> None:
    """The k nearest words of each query word (the word itself excluded)."""
    from embcli.cli.output import Renderer
    from embcli.query import neighbors

    m = _open(model)
    out = Renderer(fmt, ["query", "rank", "word", "score", "oov"])
    errors = _Errors()
    for batch in _queries(words, None):
        results = neighbors(m, [q[0] for _, q in batch], k=k, metric=metric.value, restrict=restrict)
        for (number, _), res in zip(batch, results):
            _emit_hits(out, errors, number, res, m)
        out.flush()
    out.close()
    errors.exit()


def _emit_hits(out, errors: _Errors, number: int | None, res, model) -> None:
    if res.error is not None:
        errors.report(number, res.error)
        return
    _note_splits(model, res.terms)
    oov = res.oov
    for hit in res.hits:
        out.row({"query": res.query, "rank": hit.rank, "word": hit.word, "score": hit.score, "oov": oov})
    out.flush_block(flush=False)


def analogy_cmd(
    words: WordsArg = None,
    k: Annotated[int, typer.Option("-k", "--top", min=1, help="Answers per query.")] = 5,
    model: ModelOpt = None,
    method: Annotated[
        Method, typer.Option(help="add: 3CosAdd (gensim's most_similar); mul: 3CosMul (most_similar_cosmul).")
    ] = Method.add,
    restrict: RestrictOpt = None,
    fmt: FormatOpt = OutputFormat.auto,
) -> None:
    """Solve A - B + C: "B is to A as C is to ?".

    The order is A B C and the answer is near A - B + C: `emb analogy king man woman` asks for
    king - man + woman (man is to king as woman is to ?), which is queen on a model that knows it.
    The three query words are never answers. From stdin: three words a line.
    """
    from embcli.cli.output import Renderer
    from embcli.query import analogy

    m = _open(model)
    out = Renderer(fmt, ["query", "rank", "word", "score", "oov"])
    errors = _Errors()
    for batch in _queries(words, 3):
        results = analogy(m, [q for _, q in batch], k=k, method=method.value, restrict=restrict)
        for (number, _), res in zip(batch, results):
            _emit_hits(out, errors, number, res, m)
        out.flush()
    out.close()
    errors.exit()


def similarity_cmd(
    words: Annotated[
        Optional[list[str]],
        typer.Argument(help="Two words; none or - reads two words a line from stdin.", show_default=False),
    ] = None,
    model: ModelOpt = None,
    fmt: FormatOpt = OutputFormat.auto,
) -> None:
    """The cosine similarity of two words (like gensim's similarity)."""
    from embcli.cli.output import Renderer
    from embcli.query import similarity

    m = _open(model)
    out = Renderer(fmt, ["word1", "word2", "score", "oov"])
    errors = _Errors()
    for batch in _queries(words, 2):
        for (number, _), res in zip(batch, similarity(m, [q for _, q in batch])):
            if res.error is not None:
                errors.report(number, res.error)
                continue
            _note_splits(m, res.terms)
            out.row({"word1": res.query[0], "word2": res.query[1], "score": res.score, "oov": res.oov})
            out.flush_block(flush=False)
        out.flush()
    out.close()
    errors.exit()


def vector_cmd(
    words: WordsArg = None,
    model: ModelOpt = None,
    normalize: Annotated[bool, typer.Option("--normalize", help="The unit vector instead of the raw one.")] = False,
    fmt: FormatOpt = OutputFormat.auto,
) -> None:
    """The vector of each word, as stored (FastText: from character n-grams for unseen words)."""
    from embcli.cli.output import Renderer
    from embcli.query import vectors

    m = _open(model)
    out = Renderer(fmt, ["query", "word", "oov", "vector"])
    errors = _Errors()
    as_list = out.fmt in ("json", "jsonl")
    for batch in _queries(words, None):
        for (number, _), res in zip(batch, vectors(m, [q[0] for _, q in batch], normalize=normalize)):
            if res.error is not None:
                errors.report(number, res.error)
                continue
            _note_splits(m, [res.term])
            values = res.vector.tolist()
            # 9 significant digits give every float32 back exactly.
            cell = values if as_list else " ".join(f"{v:.9g}" for v in values)
            out.row({"query": res.query, "word": res.term.word, "oov": res.oov, "vector": cell})
            out.flush_block(flush=False)
        out.flush()
    out.close()
    errors.exit()


EXAMPLES = {
    "neighbors": """\
Examples:

\b
  emb neighbors king                      the 10 nearest words
  emb neighbors king queen -k 5 -f json   several words, JSON
  emb neighbors king --restrict 50000     only among the 50,000 most frequent words
  cut -f1 words.tsv | emb neighbors       one word a line from stdin, TSV out
""",
    "analogy": """\
Examples:

\b
  emb analogy king man woman              king - man + woman: queen
  emb analogy paris france italy --method mul
  printf 'king man woman\\nparis france italy\\n' | emb analogy
""",
    "similarity": """\
Examples:

\b
  emb similarity king queen
  printf 'king queen\\ncat dog\\n' | emb similarity -f jsonl
""",
    "vector": """\
Examples:

\b
  emb vector king                          the raw vector, values separated by spaces
  emb vector king queen --normalize -f jsonl
""",
}


def register(app: typer.Typer) -> None:
    app.command("neighbors", epilog=EXAMPLES["neighbors"])(neighbors_cmd)
    app.command("analogy", epilog=EXAMPLES["analogy"])(analogy_cmd)
    app.command("similarity", epilog=EXAMPLES["similarity"])(similarity_cmd)
    app.command("vector", epilog=EXAMPLES["vector"])(vector_cmd)
