"""``emb neighbors``, ``emb similar``, ``emb analogy``, ``emb similarity``, ``emb doesnt-match``,
``emb vector``: query a model, through the Python API (``embcli.api.Model``).

Words come from the command line, or with none (or ``-``) from stdin, one query a line. The lines
that are ready are answered together (one pass over the matrix for all of them) and their blocks
are flushed as soon as they are written, so a pipe or a person typing gets answers as they go. A
query that fails (an unknown word, a malformed line) is reported on stderr; the others still run and
the exit code is 1 at the end. An empty stdin is no error: a note on stderr says no query was read,
the output is the header alone, and the exit code is 0.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Iterator, Optional

import typer
from typer.core import TyperCommand

from embcli.cli.lines import stdin_lines, vector_lines
from embcli.cli.options import AnalogyMethod as Method
from embcli.cli.options import FormatOpt, ModelOpt, OutputFormat
from embcli.names import METRICS

Metric = Enum("Metric", {name: name for name in METRICS}, type=str)


WordsArg = Annotated[
    Optional[list[str]],
    typer.Argument(help="Query words; none or - reads one query a line from stdin.", show_default=False),
]
RestrictOpt = Annotated[
    Optional[int], typer.Option("--restrict", help="Search only the N most frequent words.", show_default=False)
]


def _queries(words: Optional[list[str]], size: int | None, errors: "_Errors") -> Iterator[list[tuple[int | None, list[str]]]]:
    """Batches of (line number or None, words of one query) from the arguments or stdin.

    ``size`` is the number of words a query takes (None: one query per word on the command line,
    and one word a line on stdin; 0: all the words of the command line, or of a line, make one
    query). Blank lines are skipped; an over-long line is reported to ``errors`` and skipped.
    """
    from embcli.api import check_query_line
    from embcli.errors import EmbError

    if words and words != ["-"]:
        if size is None:
            yield [(None, [w]) for w in words]
        elif size and len(words) != size:
            raise typer.BadParameter(f"expected {size} words, got {len(words)}", param_hint="WORDS")
        else:
            yield [(None, list(words))]
        return
    seen = False
    for batch in stdin_lines():
        out = []
        for number, line in batch:
            try:
                check_query_line(line)
            except EmbError as exc:
                errors.report(number, exc)
                seen = True
                continue
            parts = line.split() if size is not None else [line.strip()]
            if parts and parts[0]:
                out.append((number, parts))
        if out:
            seen = True
            yield out
    if not seen:
        # Not an error (an empty input is a valid stream of no queries), but say so: exit code 0.
        from embcli.cli.console import info

        info("emb: no query read: stdin held no query (give words, or pipe one query a line)")


def _chunks(batches, size: int):
    """The batches cut to at most ``size`` queries: a large ``-k`` answers fewer queries at a time,
    and each part is written before the next is computed, so memory stays bounded."""
    for batch in batches:
        for at in range(0, len(batch), size):
            yield batch[at : at + size]


class _Errors:
    """Per-query errors: one line on stderr each; any of them makes the exit code 1. A hint the
    errors share (how to answer unknown words) is given with the first only."""

    def __init__(self):
        self.count = 0
        self.hints: set[str] = set()

    def report(self, number: int | None, exc: Exception) -> None:
        self.count += 1
        where = f"line {number}: " if number is not None else ""
        message = str(exc)
        hint = getattr(exc, "hint", None)
        if hint:
            if hint in self.hints:
                message = message.removesuffix(hint).rstrip("; ")
            self.hints.add(hint)
        sys.stdout.flush()
        sys.stderr.write(f"emb: error: {where}{message}\n")
        sys.stderr.flush()

    def looked_up(self, number: int | None, terms) -> None:
        """Say which word a query was looked up as when the model's tokenizer changed it."""
        from embcli.cli.console import info

        for term in terms:
            if term is not None and term.retokenized:
                where = f"line {number}: " if number is not None else ""
                sys.stdout.flush()
                info(f"emb: {where}{term.text!r} looked up as {term.word!r}")

    def exit(self) -> None:
        if self.count:
            raise typer.Exit(1)


def _note_splits(model, terms) -> None:
    """On stderr: which query words a morphological tokenizer (ko, ja, zh) split, and what was looked up."""
    from embcli.tokenize import TokenizerSettings, query_tokens

    settings = TokenizerSettings.from_dict(model.meta.get("tokenizer"))
    if not settings.morphological:
        return
    from embcli.cli.console import info

    for term in terms:
        if getattr(term, "written", False):
            continue  # a vocabulary word as written: not analysed
        word, tokens = query_tokens(term.text, settings)
        if len(tokens) > 1:
            info(f"emb: {term.text!r} is {len(tokens)} tokens ({' '.join(tokens)}): looked up {word!r}")


def _terms_of(m, number: int | None, words, errors: _Errors) -> list:
    """The terms a query's words were looked up as (all found: the query was answered), each change
    the tokenizer made said on stderr as the other commands say it."""
    terms = [r.term for r in m.query_vectors(list(words)) if r.term is not None]
    errors.looked_up(number, terms)
    _note_splits(m, terms)
    return terms


def _open(model: Optional[str]):
    from embcli.api import load

    return load(model)


def neighbors_cmd(
    words: WordsArg = None,
    k: Annotated[int, typer.Option("-k", "--top", help="Answers per query.")] = 10,
    model: ModelOpt = None,
    metric: Annotated[
        Metric, typer.Option(help="cosine (like gensim's most_similar), euclidean (nearest first) or dot.")
    ] = Metric.cosine,
    restrict: RestrictOpt = None,
    vector: Annotated[
        Optional[str],
        typer.Option(
            "--vector", metavar="FILE|-", show_default=False,
            help="Query by vectors read from a file or stdin (-), one a line: numbers, or emb vector's output.",
        ),
    ] = None,
    exact: Annotated[
        bool, typer.Option("--exact", help="Scan every row even when the model has an HNSW index (emb index).")
    ] = False,
    fmt: FormatOpt = OutputFormat.auto,
) -> None:
    """The k nearest words of each query word (the word itself excluded), or of each vector.

    A model with an HNSW index (emb index) answers cosine queries through it; --exact scans every row.
    """
    from embcli.cli.output import Renderer

    m = _open(model)
    out = Renderer(fmt, ["query", "rank", "word", "score", "oov"])
    errors = _Errors()
    if vector is not None:
        if words:
            raise typer.BadParameter("give query words or --vector, not both", param_hint="--vector")
        _vector_neighbors(m, vector, k, metric.value, restrict, out, errors, exact)
    else:
        for batch in _chunks(_queries(words, None, errors), m.queries_per_batch(k, restrict)):
            results = m.query_neighbors([q[0] for _, q in batch], k=k, metric=metric.value, restrict=restrict,
                                        exact=exact)
            for (number, _), res in zip(batch, results):
                _emit_hits(out, errors, number, res, m)
            out.flush()
    out.close()
    errors.exit()


def _vector_neighbors(m, source: str, k: int, metric: str, restrict, out, errors: _Errors, exact: bool = False) -> None:
    """Neighbours of the vectors of a file or stdin; ``emb vector``'s header line is skipped."""
    from embcli.api import check_query, check_query_line, parse_vector
    from embcli.errors import EmbError

    check_query(k=k, restrict=restrict, metric=metric)
    for batch in vector_lines(source):
        for number, line in batch:
            if not line.strip() or line.startswith("query\t"):
                continue
            try:
                check_query_line(line)
                label, vec = parse_vector(line)
                hits = m.neighbors(vec, k=k, metric=metric, restrict=restrict, exact=exact)
            except EmbError as exc:
                errors.report(number, exc)
                continue
            for hit in hits:
                out.row({"query": label or f"vector:{number}", "rank": hit.rank, "word": hit.word,
                         "score": hit.score, "oov": False})
            out.flush_block(flush=False)
        out.flush()


def _emit_hits(out, errors: _Errors, number: int | None, res, model) -> None:
    if res.error is not None:
        errors.report(number, res.error)
        return
    _note_splits(model, res.terms)
    errors.looked_up(number, res.terms)
    oov = res.oov
    for hit in res.hits:
        out.row({"query": res.query, "rank": hit.rank, "word": hit.word, "score": hit.score, "oov": oov})
    out.flush_block(flush=False)


def analogy_cmd(
    words: WordsArg = None,
    k: Annotated[int, typer.Option("-k", "--top", help="Answers per query.")] = 5,
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

    m = _open(model)
    out = Renderer(fmt, ["query", "rank", "word", "score", "oov"])
    errors = _Errors()
    for batch in _chunks(_queries(words, 3, errors), m.queries_per_batch(k, restrict)):
        results = m.query_analogies([q for _, q in batch], k=k, method=method.value, restrict=restrict)
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

    m = _open(model)
    out = Renderer(fmt, ["word1", "word2", "score", "oov"])
    errors = _Errors()
    for batch in _queries(words, 2, errors):
        for (number, _), res in zip(batch, m.query_similarities([q for _, q in batch])):
            if res.error is not None:
                errors.report(number, res.error)
                continue
            _note_splits(m, res.terms)
            errors.looked_up(number, res.terms)
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

    m = _open(model)
    out = Renderer(fmt, ["query", "word", "oov", "vector"])
    errors = _Errors()
    as_list = out.fmt in ("json", "jsonl")
    for batch in _queries(words, None, errors):
        for (number, _), res in zip(batch, m.query_vectors([q[0] for _, q in batch], normalize=normalize)):
            if res.error is not None:
                errors.report(number, res.error)
                continue
            _note_splits(m, [res.term])
            errors.looked_up(number, [res.term])
            values = res.vector.tolist()
            # 9 significant digits give every float32 back exactly.
            cell = values if as_list else " ".join(f"{v:.9g}" for v in values)
            out.row({"query": res.query, "word": res.term.word, "oov": res.oov, "vector": cell})
            out.flush_block(flush=False)
        out.flush()
    out.close()
    errors.exit()


class ArithmeticCommand(TyperCommand):
    """A command whose words may start with - or +: ``emb similar king -man +woman``.

    Before click parses, every argument that is not exactly one of the command's own options (or an
    option's value) is moved after ``--``, so ``-man`` is a word, never ``-m an``. Options keep working
    anywhere on the line (``-k 5``, ``--top=5``, ``-m MODEL``); glued short forms (``-k5``) are words.
    """

    def parse_args(self, ctx, args):
        takes_value = {}
        for param in self.get_params(ctx):
            for name in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
                if name.startswith("-"):
                    takes_value[name] = not getattr(param, "is_flag", False) and not getattr(param, "count", False)
        options, words = [], []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                words.extend(args[i + 1 :])
                break
            name = arg.split("=", 1)[0] if arg.startswith("--") else arg
            if name in takes_value:
                options.append(arg)
                if takes_value[name] and "=" not in arg and i + 1 == len(args):
                    raise typer.BadParameter("requires an argument", ctx=ctx, param_hint=f"'{name}'")
                if takes_value[name] and "=" not in arg and i + 1 < len(args):
                    options.append(args[i + 1])
                    i += 1
            else:
                words.append(arg)
            i += 1
        return super().parse_args(ctx, [*options, "--", *words] if words else options)


def similar_cmd(
    words: Annotated[
        Optional[list[str]],
        typer.Argument(
            help="Words to add (king, +woman) and subtract (-man); none or - reads one query a line from stdin.",
            show_default=False,
        ),
    ] = None,
    k: Annotated[int, typer.Option("-k", "--top", help="Answers per query.")] = 10,
    model: ModelOpt = None,
    restrict: RestrictOpt = None,
    fmt: FormatOpt = OutputFormat.auto,
) -> None:
    """The words nearest to a sum of words: king -man +woman (gensim's most_similar).

    Words without a sign or with + are added, words with - subtracted, each at unit length; the
    answers are the words nearest (cosine) to their mean, the query words excluded.
    """
    from embcli.api import check_query, parse_terms
    from embcli.cli.output import Renderer
    from embcli.errors import EmbError

    check_query(k=k, restrict=restrict)
    m = _open(model)
    out = Renderer(fmt, ["query", "rank", "word", "score", "oov"])
    errors = _Errors()
    for batch in _queries(words, 0, errors):
        for number, terms in batch:
            query = " ".join(terms)
            try:
                # A quoted phrase on the command line is one term for a model trained on phrases.
                positive, negative = parse_terms(terms, phrases=number is None and "phrases" in m.meta)
                hits = m.most_similar(positive, negative, k=k, restrict=restrict)
            except EmbError as exc:
                errors.report(number, exc)
                continue
            terms = _terms_of(m, number, positive + negative, errors)
            oov = any(t.oov for t in terms)  # FastText built a vector for one
            for hit in hits:
                out.row({"query": query, "rank": hit.rank, "word": hit.word, "score": hit.score, "oov": oov})
            out.flush_block(flush=False)
        out.flush()
    out.close()
    errors.exit()


def doesnt_match_cmd(
    words: Annotated[
        Optional[list[str]],
        typer.Argument(help="Two or more words; none or - reads one group of words a line from stdin.", show_default=False),
    ] = None,
    model: ModelOpt = None,
    fmt: FormatOpt = OutputFormat.auto,
) -> None:
    """The word that does not go with the others (gensim's doesnt_match).

    Each word is taken at unit length; the answer is the one least similar (cosine) to their mean.
    """
    from embcli.cli.output import Renderer
    from embcli.errors import EmbError

    if words and words != ["-"] and len(words) < 2:  # a usage error, as similarity's and analogy's counts
        raise typer.BadParameter(f"expected 2 or more words, got {len(words)}", param_hint="WORDS")
    m = _open(model)
    out = Renderer(fmt, ["query", "word", "score"])
    errors = _Errors()
    for batch in _queries(words, 0, errors):
        for number, group in batch:
            try:
                score, word = m.rank_by_centrality(group)[-1]
            except EmbError as exc:
                errors.report(number, exc)
                continue
            _terms_of(m, number, group, errors)
            out.row({"query": " ".join(group), "word": word, "score": score})
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
  emb neighbors king --exact              scan every row, even with an HNSW index (emb index)
  cut -f1 words.tsv | emb neighbors       one word a line from stdin, TSV out
  emb vector king | emb neighbors --vector -      by a vector (numbers, or emb vector's output)
""",
    "similar": """\
Examples:

\b
  emb similar king -man +woman            king - man + woman: queen
  emb similar paris -france +italy -k 3
  printf 'king -man +woman\\nwalked -walk +swim\\n' | emb similar
""",
    "doesnt-match": """\
Examples:

\b
  emb doesnt-match breakfast cereal dinner lunch
  printf 'king queen bread\\nred green table\\n' | emb doesnt-match
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
  emb vector king                          query, word, oov and the raw vector (values separated by spaces)
  emb vector king queen --normalize -f jsonl
""",
}


def register(app: typer.Typer) -> None:
    app.command("neighbors", epilog=EXAMPLES["neighbors"])(neighbors_cmd)
    app.command("similar", cls=ArithmeticCommand, epilog=EXAMPLES["similar"])(similar_cmd)
    app.command("analogy", epilog=EXAMPLES["analogy"])(analogy_cmd)
    app.command("similarity", epilog=EXAMPLES["similarity"])(similarity_cmd)
    app.command("doesnt-match", epilog=EXAMPLES["doesnt-match"])(doesnt_match_cmd)
    app.command("vector", epilog=EXAMPLES["vector"])(vector_cmd)
