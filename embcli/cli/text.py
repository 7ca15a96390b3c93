"""``emb tokenize`` and ``emb vocab``: look at a corpus the way training will see it."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from embcli.cli.console import warn
from embcli.cli.options import (
    corpus_inputs,
    CorpusArg,
    FormatOpt,
    LowercaseOpt,
    MinTokenLengthOpt,
    OutputFormat,
    TokenizerMode,
    TokenizerOpt,
)


def _settings(tokenizer, lowercase, min_token_length):
    from embcli.tokenize import TokenizerSettings

    return TokenizerSettings(mode=tokenizer.value, lowercase=lowercase, min_token_length=min_token_length)


def tokenize_cmd(
    corpus: CorpusArg = None,
    tokenizer: TokenizerOpt = TokenizerMode.unicode,
    lowercase: LowercaseOpt = None,
    min_token_length: MinTokenLengthOpt = 1,
) -> None:
    """Print each input line tokenized, tokens separated by one space."""
    from embcli.corpus import Corpus
    from embcli.tokenize import make_tokenizer

    source = Corpus(corpus_inputs(corpus))
    split = make_tokenizer(_settings(tokenizer, lowercase, min_token_length))
    write = sys.stdout.write
    interactive = sys.stdout.isatty() or "-" in source.files
    for line in source.lines():
        write(" ".join(split(line)))
        write("\n")
        if interactive:
            sys.stdout.flush()
    sys.stdout.flush()
    if source.stats.replaced_bytes:
        warn(f"{source.stats.replaced_bytes} invalid UTF-8 bytes were replaced by U+FFFD")


def vocab_cmd(
    corpus: CorpusArg = None,
    min_count: Annotated[int, typer.Option(min=1, help="Only words occurring at least this often.")] = 1,
    top: Annotated[Optional[int], typer.Option(min=1, help="Only the N most frequent words.")] = None,
    fmt: FormatOpt = OutputFormat.auto,
    tokenizer: TokenizerOpt = TokenizerMode.unicode,
    lowercase: LowercaseOpt = None,
    min_token_length: MinTokenLengthOpt = 1,
) -> None:
    """Count the words of a corpus: word and count, most frequent first."""
    from embcli.cli.output import Renderer
    from embcli.corpus import Corpus
    from embcli.vocab import count_words

    source = Corpus(corpus_inputs(corpus))
    counts = count_words(source, _settings(tokenizer, lowercase, min_token_length), min_count=min_count, top=top)
    out = Renderer(fmt, ["word", "count"])
    out.rows({"word": w, "count": c} for w, c in counts)
    out.close()
    if source.stats.replaced_bytes:
        warn(f"{source.stats.replaced_bytes} invalid UTF-8 bytes were replaced by U+FFFD")


def register(app: typer.Typer) -> None:
    app.command("tokenize")(tokenize_cmd)
    app.command("vocab")(vocab_cmd)
