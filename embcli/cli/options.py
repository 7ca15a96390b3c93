"""Options shared by several commands, defined once as ``Annotated`` aliases."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from embcli.names import ENGINES, METHODS, POS_FILTERS
from embcli.names import TOKENIZER_MODES as MODES

# The choices come from the library: the CLI checks nothing the library does not define.
OutputFormat = Enum("OutputFormat", {name: name for name in ("auto", "table", "tsv", "json", "jsonl")}, type=str)
AnalogyMethod = Enum("AnalogyMethod", {name: name for name in METHODS}, type=str)
TokenizerMode = Enum("TokenizerMode", {name: name for name in MODES}, type=str)
PosFilter = Enum("PosFilter", {name: name for name in POS_FILTERS}, type=str)


FormatOpt = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="auto: a table on a terminal, TSV in a pipe.", show_default=True),
]
def complete_model(incomplete: str) -> list[str]:
    """Shell completion of --model: the names in the store (files and folders are the shell's)."""
    try:
        from embcli.api import models

        return [m.name for m in models() if m.name.startswith(incomplete)]
    except Exception:  # completion must never print a traceback into the shell
        return []


ModelOpt = Annotated[
    Optional[str],
    typer.Option(
        "--model", "-m",
        help="Model name, model folder, or a file in any supported format; the default model when omitted.",
        autocompletion=complete_model,
    ),
]
CorpusArg = Annotated[
    Optional[list[str]],
    typer.Argument(
        help="Text files, folders, globs or - for stdin (read when none is given and stdin is a pipe);"
        " .gz .bz2 .xz .zst are read as they are.",
        show_default=False,
        metavar="[CORPUS]...",
    ),
]


def corpus_inputs(corpus: list[str] | None) -> list[str]:
    """The corpus arguments; none means stdin when it is a pipe or a file, else a usage error."""
    if corpus:
        return corpus
    import sys

    try:
        piped = not sys.stdin.isatty()
    except (AttributeError, ValueError):  # stdin closed
        piped = False
    if piped:
        return ["-"]
    raise typer.BadParameter("no corpus given: name text files, folders or globs, or pipe text into stdin",
                             param_hint="CORPUS")
TokenizerOpt = Annotated[
    TokenizerMode,
    typer.Option(
        "--tokenizer",
        help="unicode: NFKC, case folding, Unicode words; whitespace: split on spaces only (pre-tokenized text,"
        " item ids); ko, ja, zh: Korean (kiwipiepy), Japanese (fugashi) or Chinese (jieba) morphemes,"
        " each an extra: pip install 'embcli[ko]' (or ja, zh, cjk for all three).",
    ),
]
PosFilterOpt = Annotated[
    PosFilter,
    typer.Option(
        "--pos-filter",
        help="ko, ja, zh: all: every morpheme; content: only content morphemes (no particles, endings, function words).",
    ),
]
PosTagsOpt = Annotated[
    bool,
    typer.Option("--pos-tags/--no-pos-tags", help="ko, ja, zh: write tokens with their part of speech (먹/VV)."),
]
LowercaseOpt = Annotated[
    Optional[bool],
    typer.Option(
        "--lowercase/--no-lowercase",
        help="Fold case. Default: yes, except for the whitespace tokenizer.",
        show_default=False,
    ),
]
MinTokenLengthOpt = Annotated[
    int, typer.Option("--min-token-length", min=1, help="Drop tokens shorter than this many characters.")
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress, summary or warnings on stderr (as `emb -q ...`).")
]


# --engine spark and its settings (emb train, emb vocab).
Engine = Enum("Engine", {name: name for name in ENGINES}, type=str)
EngineOpt = Annotated[
    Engine,
    typer.Option(
        help="Where to run: local (this machine, emb's kernels) or spark (Apache Spark: pip install"
        " 'embcli[spark]' and Java 17+; CORPUS may then be any path Spark reads: hdfs://, s3a://, globs).",
        rich_help_panel="Spark engine",
    ),
]
MasterOpt = Annotated[
    Optional[str],
    typer.Option(
        help="Spark master URL: local[*], local[N], spark://HOST:PORT, yarn, k8s://... [default: local[*], or"
        " the master spark-submit set].",
        show_default=False, rich_help_panel="Spark engine",
    ),
]
ConfOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--conf", metavar="KEY=VALUE", help="A Spark property (repeatable), e.g. --conf spark.executor.memory=4g.",
        show_default=False, rich_help_panel="Spark engine",
    ),
]
VocabPartitionsOpt = Annotated[
    Optional[int],
    typer.Option(
        "--partitions", help="Partitions of the counting [default: the input's splits].",
        show_default=False, rich_help_panel="Spark engine",
    ),
]
PartitionsOpt = Annotated[
    Optional[int],
    typer.Option(
        help="Word2Vec: MLlib's numPartitions (more: faster, lower quality) [default: 1]; GloVe and vocab:"
        " partitions of the counting [default: the input's splits].",
        show_default=False, rich_help_panel="Spark engine",
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="Show Spark's own log on stderr (--engine spark).", rich_help_panel="Spark engine"),
]


def spark_args(engine, master, conf, partitions, verbose) -> dict:
    """The API's keyword arguments for the engine options."""
    return {"engine": engine.value, "master": master, "conf": conf, "partitions": partitions,
            "spark_logs": verbose}
