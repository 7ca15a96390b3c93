"""``emb tokenize``, ``emb vocab`` and ``emb phrases``: look at a corpus the way training will see it."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from embcli.cli.console import info, set_quiet, warn
from embcli.cli.options import (
    ConfOpt,
    Engine,
    EngineOpt,
    MasterOpt,
    VocabPartitionsOpt,
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
    QuietOpt,
    TokenizerMode,
    TokenizerOpt,
)


ThreadsOpt = Annotated[
    Optional[int],
    typer.Option(min=1, help="Processes the ko, ja and zh analyzers run in [default: all cores]; other tokenizers use one."),
]


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
    threads: ThreadsOpt = None,
) -> None:
    """Print each input line tokenized, tokens separated by one space."""
    from embcli.api.corpora import tokenized_text
    from embcli.corpus import Corpus

    source = Corpus(corpus_inputs(corpus))
    settings = _settings(tokenizer, lowercase, min_token_length, pos_filter, pos_tags)
    write = sys.stdout.write
    interactive = sys.stdout.isatty() or "-" in source.files
    # Interactive: each line as soon as it is read, so one process; else blocks in worker processes.
    for text in tokenized_text(source, settings, 1 if interactive else threads):
        write(text)
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
    threads: ThreadsOpt = None,
    engine: EngineOpt = Engine.local,
    master: MasterOpt = None,
    conf: ConfOpt = None,
    partitions: VocabPartitionsOpt = None,
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
            progress=progress if engine == Engine.spark else None, threads=threads,
            **spark_args(engine, master, conf, partitions, verbose),
        )
    out = Renderer(fmt, ["word", "count"])
    out.rows({"word": w, "count": c} for w, c in counts)
    out.close()
    if stats.replaced_bytes:
        warn(f"{stats.replaced_bytes} invalid UTF-8 bytes were replaced by U+FFFD")


Scoring = Enum("Scoring", {name: name for name in ("default", "npmi")}, type=str)
Connectors = Enum("Connectors", {name: name for name in ("none", "english")}, type=str)

TOKENIZE_EXAMPLES = """\
Examples:

\b
  emb tokenize notes.txt.gz | head                     one tokenized line per input line
  echo "Don't stop-the-music!" | emb tokenize -         don't stop-the-music
  echo "인생 최고의 영화" | emb tokenize - --tokenizer ko   (pip install 'embcli[ko]')
"""

VOCAB_EXAMPLES = """\
Examples:

\b
  emb vocab sample_data/web.txt.xz --top 20            word<TAB>count, most frequent first
  emb vocab corpus/ --min-count 5 -f json > vocab.json
"""

PHRASES_EXAMPLES = """\
Examples:

\b
  emb phrases sample_data/web.txt.xz | head            new_york, and new_york_times after 2 passes
  emb phrases corpus/ --passes 1 --threshold 20 -o corpus.phrases.txt
  emb phrases corpus.txt --scoring npmi --threshold 0.5 --connector-words english   bank_of_america
"""


def phrases_cmd(
    corpus: CorpusArg = None,
    min_count: Annotated[int, typer.Option(help="Ignore words and pairs seen fewer times.")] = 5,
    threshold: Annotated[
        Optional[float],
        typer.Option(help="Join pairs scoring above this [default: 10; npmi 0.5]; default scoring needs > 0, npmi (-1, 1].",
                     show_default=False),
    ] = None,
    scoring: Annotated[
        Scoring, typer.Option(help="default: Mikolov et al.'s (gensim's default); npmi: normalized PMI in [-1, 1].")
    ] = Scoring.default,
    passes: Annotated[int, typer.Option(help="Passes; each joins pairs of the last one's tokens (2: new_york_times).")] = 2,
    connector_words: Annotated[
        Connectors,
        typer.Option(help="english: phrases may hold gensim's English connector words (a, the, of, ...): bank_of_america."),
    ] = Connectors.none,
    max_vocab: Annotated[
        Optional[int],
        typer.Option(help="Bound on words and pairs counted; past it the rarest are forgotten (gensim's max_vocab_size)"
                     " [default: 40,000,000].", show_default=False),
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write to this file (- for stdout) [default: stdout].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")] = False,
    threads: Annotated[Optional[int], typer.Option(help="Tokenizing processes [default: all cores].")] = None,
    tokenizer: TokenizerOpt = TokenizerMode.unicode,
    lowercase: LowercaseOpt = None,
    min_token_length: MinTokenLengthOpt = 1,
    pos_filter: PosFilterOpt = PosFilter.all,
    pos_tags: PosTagsOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Print the corpus tokenized, one sentence a line, with its phrases joined by _ (new_york), as
    gensim's Phrases finds them."""
    set_quiet(quiet)
    from embcli.api import phrases

    if output is not None and str(output) == "-":  # stdout, as for emb embed (not a file named -)
        output = None
    result = phrases(
        corpus_inputs(corpus), output, stream=None if output is not None else sys.stdout, passes=passes,
        min_count=min_count, threshold=threshold, scoring=scoring.value, connector_words=connector_words.value,
        max_vocab=max_vocab, force=force, tokenizer=tokenizer.value, lowercase=lowercase,
        min_token_length=min_token_length, pos_filter=pos_filter.value, pos_tags=pos_tags, threads=threads,
    )
    sys.stdout.flush()
    if result.replaced_bytes:
        warn(f"{result.replaced_bytes} invalid UTF-8 bytes were replaced by U+FFFD")
    found = ", ".join(f"{n:,}" for n in result.found)
    info(f"phrases found by pass: {found}; {result.tokens_in:,} tokens became {result.tokens_out:,}"
         f" ({result.lines:,} lines) in {result.seconds:.1f} s")


def register(app: typer.Typer) -> None:
    app.command("tokenize", epilog=TOKENIZE_EXAMPLES)(tokenize_cmd)
    app.command("vocab", epilog=VOCAB_EXAMPLES)(vocab_cmd)
    app.command("phrases", epilog=PHRASES_EXAMPLES)(phrases_cmd)
