"""``emb tokenize`` and ``emb vocab``: look at a corpus the way training will see it."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from embcli.cli.console import warn
from embcli.cli.options import (
    ConfOpt,
    Engine,
    EngineOpt,
    MasterOpt,
    PartitionsOpt,
    VerboseOpt,
    corpus_inputs,
    spark_args,
    CorpusArg,
    FormatOpt,
    LowercaseOpt,
    MinTokenLengthOpt,
    OutputFormat,
    PosFilter,
    PosFilterOpt,
    PosTagsOpt,
    TokenizerMode,
    TokenizerOpt,
)


def _settings(tokenizer, lowercase, min_token_length, pos_filter=PosFilter.all, pos_tags=False):
    from embcli.tokenize import TokenizerSettings

    settings = TokenizerSettings(
        mode=tokenizer.value, lowercase=lowercase, min_token_length=min_token_length,
        pos_filter=pos_filter.value, pos_tags=pos_tags,
    )
    settings.check_installed()
    return settings


def tokenize_cmd(
    corpus: CorpusArg = None,
    tokenizer: TokenizerOpt = TokenizerMode.unicode,
    lowercase: LowercaseOpt = None,
    min_token_length: MinTokenLengthOpt = 1,
    pos_filter: PosFilterOpt = PosFilter.all,
    pos_tags: PosTagsOpt = False,
) -> None:
    """Print each input line tokenized, tokens separated by one space."""
    from embcli.corpus import Corpus
    from embcli.tokenize import make_tokenizer

    source = Corpus(corpus_inputs(corpus))
    split = make_tokenizer(_settings(tokenizer, lowercase, min_token_length, pos_filter, pos_tags))
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
    pos_filter: PosFilterOpt = PosFilter.all,
    pos_tags: PosTagsOpt = False,
    engine: EngineOpt = Engine.local,
    master: MasterOpt = None,
    conf: ConfOpt = None,
    partitions: PartitionsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Count the words of a corpus: word and count, most frequent first."""
    from embcli.api import count_words
    from embcli.cli.console import TrainProgress
    from embcli.cli.output import Renderer

    with TrainProgress() as progress:
        counts, stats = count_words(
            corpus_inputs(corpus), min_count=min_count, top=top, tokenizer=tokenizer.value, lowercase=lowercase,
            min_token_length=min_token_length, pos_filter=pos_filter.value, pos_tags=pos_tags,
            progress=progress if engine == Engine.spark else None,
            **spark_args(engine, master, conf, partitions, verbose),
        )
    out = Renderer(fmt, ["word", "count"])
    out.rows({"word": w, "count": c} for w, c in counts)
    out.close()
    if stats.replaced_bytes:
        warn(f"{stats.replaced_bytes} invalid UTF-8 bytes were replaced by U+FFFD")


def register(app: typer.Typer) -> None:
    app.command("tokenize")(tokenize_cmd)
    app.command("vocab")(vocab_cmd)
