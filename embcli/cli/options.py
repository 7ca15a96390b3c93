"""Options shared by several commands, defined once as ``Annotated`` aliases."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from embcli.names import METHODS, POS_FILTERS
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
