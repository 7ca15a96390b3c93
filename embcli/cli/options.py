"""Options shared by several commands, defined once as ``Annotated`` aliases."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer


class OutputFormat(str, Enum):
    auto = "auto"
    table = "table"
    tsv = "tsv"
    json = "json"
    jsonl = "jsonl"


class AnalogyMethod(str, Enum):
    add = "add"
    mul = "mul"


class TokenizerMode(str, Enum):
    unicode = "unicode"
    whitespace = "whitespace"
    ko = "ko"
    ja = "ja"
    zh = "zh"


class PosFilter(str, Enum):
    all = "all"
    content = "content"


FormatOpt = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="auto: a table on a terminal, TSV in a pipe.", show_default=True),
]
ModelOpt = Annotated[
    Optional[str],
    typer.Option(
        "--model", "-m",
        help="Model name, model folder, or a file in any supported format; the default model when omitted.",
    ),
]
CorpusArg = Annotated[
    list[str],
    typer.Argument(
        help="Text files, folders, globs or - for stdin; .gz .bz2 .xz .zst are read as they are.",
        show_default=False,
    ),
]
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
