"""``emb train``: parse the options, train into the store, report."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from embcli.cli.console import TrainProgress, human_count, info, set_quiet, warn
from embcli.cli.options import (
    ConfOpt,
    CorpusArg,
    Engine,
    EngineOpt,
    LowercaseOpt,
    MasterOpt,
    MinTokenLengthOpt,
    PartitionsOpt,
    PosFilter,
    PosFilterOpt,
    PosTagsOpt,
    QuietOpt,
    TokenizerMode,
    TokenizerOpt,
    VerboseOpt,
    complete_model,
    corpus_inputs,
    spark_args,
)
from embcli.names import ALGORITHMS, ARCHS, LOSSES

Algo = Enum("Algo", {name: name for name in ALGORITHMS}, type=str)
Arch = Enum("Arch", {name: name for name in ARCHS}, type=str)
Loss = Enum("Loss", {name: name for name in LOSSES}, type=str)


EXAMPLES = """\
Examples:

\b
  emb train sample_data/web.txt.xz
  emb train corpus/ 'more/*.txt.gz' --algo fasttext --dim 300 --name big-ft
  emb train reviews.txt.xz --tokenizer ko --name reviews   Korean morphemes (pip install 'embcli[ko]')
  emb train sessions.txt --tokenizer whitespace --window 3 --min-count 2 --name items
  emb train sample_data/web.txt.xz --algo glove --x-max 10 --memory 512M
  emb train more.txt --continue web-word2vec           train further on new text -> web-word2vec-continued
  emb train more.txt --continue web-word2vec --force   ... replacing web-word2vec
  emb train corpus.txt --init glove.6B.100d.txt            start from pretrained vectors
  emb train corpus.txt --phrases 2 --name news        then: emb neighbors "new york" -m news
  emb train 'hdfs:///corpus/*.txt.gz' --engine spark --master yarn --partitions 8 --name lake

\b
With --engine spark, Word2Vec is Spark MLlib's: skip-gram with hierarchical softmax. --dim, --window,
--min-count, --epochs (maxIter), --lr (stepSize), --seed and --partitions (numPartitions) map to
MLlib's parameters, --max-vocab raises minCount to the count of the last word kept; --arch cbow is
refused, and --loss, --negative, --sample, --ns-exponent, --min-lr and --threads do not apply. GloVe
counts co-occurrences in Spark (--memory and --threads do not apply) and fits on this machine.
FastText is local only. A Spark model keeps no training state (it cannot be --continue'd).
"""


def train_cmd(
    ctx: typer.Context,
    corpus: CorpusArg = None,
    algo: Annotated[Algo, typer.Option(help="Training algorithm.")] = Algo.word2vec,
    arch: Annotated[Arch, typer.Option(help="Skip-gram or continuous bag of words.")] = Arch.skipgram,
    loss: Annotated[Loss, typer.Option(help="Negative sampling or hierarchical softmax.")] = Loss.ns,
    dim: Annotated[int, typer.Option(help="Vector dimension.")] = 100,
    window: Annotated[Optional[int], typer.Option(help="Context window [default: 5; glove 10].")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Passes over the corpus [default: 5; glove 15].")] = None,
    min_count: Annotated[int, typer.Option(help="Ignore words rarer than this.")] = 5,
    max_vocab: Annotated[Optional[int], typer.Option(help="Keep at most this many words.")] = None,
    negative: Annotated[int, typer.Option(help="Negative samples per positive one (--loss ns).")] = 5,
    sample: Annotated[
        Optional[float], typer.Option(help="Downsampling threshold [default: 1e-3; fasttext 1e-4].")
    ] = None,
    ns_exponent: Annotated[
        Optional[float],
        typer.Option(help="Negatives drawn by count^this [default: 0.75; fasttext 0.5]."),
    ] = None,
    lr: Annotated[
        Optional[float],
        typer.Option(help="Initial learning rate [default: 0.025; fasttext and glove 0.05]."),
    ] = None,
    min_lr: Annotated[
        float, typer.Option("--min-lr", help="Word2Vec and FastText: the rate at the end, reached linearly.")
    ] = 0.0001,
    minn: Annotated[int, typer.Option(help="FastText: shortest character n-gram.")] = 3,
    maxn: Annotated[int, typer.Option(help="FastText: longest character n-gram.")] = 6,
    buckets: Annotated[int, typer.Option(help="FastText: n-gram hash buckets.")] = 2_000_000,
    memory: Annotated[
        str, typer.Option(help="GloVe: memory for counting co-occurrences, e.g. 512M or 2G (beyond it, counts spill to disk).")
    ] = "2G",
    x_max: Annotated[
        float, typer.Option("--x-max", help="GloVe: counts above this get full weight (10 suits small corpora).")
    ] = 100.0,
    alpha: Annotated[float, typer.Option(help="GloVe: exponent of the weighting (x / x-max) ** alpha.")] = 0.75,
    phrases: Annotated[
        int, typer.Option(help="Phrase passes before training (as emb phrases; 1: new_york, 2: new_york_times).")
    ] = 0,
    phrase_threshold: Annotated[
        Optional[float],
        typer.Option(help="Phrases: join pairs scoring above this [default: 50 (keeps analogy accuracy; emb phrases: gensim's 10); npmi 0.5].",
                     show_default=False),
    ] = None,
    phrase_scoring: Annotated[str, typer.Option(help="Phrases: default or npmi (as emb phrases --scoring).")] = "default",
    connector_words: Annotated[
        str, typer.Option(help="Phrases: none, or english (phrases may hold a, the, of, ...: bank_of_america).")
    ] = "none",
    threads: Annotated[Optional[int], typer.Option(help="Training threads and tokenizing processes [default: all cores].")] = None,
    seed: Annotated[int, typer.Option(help="Random seed; with --threads 1 runs are identical.")] = 1,
    name: Annotated[
        Optional[str], typer.Option("--name", "-n", help="Model name in the store [default: CORPUS-ALGO].")
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write the model folder here instead of the store.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a model of the same name (with --continue: replace MODEL).")
    ] = False,
    continue_from: Annotated[
        Optional[str],
        typer.Option("--continue", metavar="MODEL", help="Train MODEL further on the corpus (its settings kept);"
                     " the result is MODEL-continued, or --name, or MODEL itself with --force. Models trained"
                     " with --loss hs, --engine spark or --no-state keep no training state: --init MODEL starts"
                     " from their vectors instead.",
                     autocompletion=complete_model),
    ] = None,
    init: Annotated[
        Optional[str],
        typer.Option("--init", metavar="MODEL|FILE", help="Start from pretrained vectors (a model or any file"
                     " `emb import` reads); --dim defaults to theirs."),
    ] = None,
    new_weight: Annotated[
        Optional[float],
        typer.Option("--new-weight", metavar="W", help="With --continue (word2vec, FastText): the model's rows end"
                     " as W x their rows trained on the new text + (1 - W) x their saved rows [default: new / (new +"
                     " old / 2), in tokens]; 1 keeps the trained rows, 0 the old words' vectors."),
    ] = None,
    no_state: Annotated[
        bool, typer.Option("--no-state", help="Leave out the training state: a smaller model that cannot be continued.")
    ] = False,
    no_default: Annotated[bool, typer.Option("--no-default", help="Do not make the new model the default.")] = False,
    tokenizer: TokenizerOpt = TokenizerMode.unicode,
    lowercase: LowercaseOpt = None,
    min_token_length: MinTokenLengthOpt = 1,
    pos_filter: PosFilterOpt = PosFilter.all,
    pos_tags: PosTagsOpt = False,
    quiet: QuietOpt = False,
    engine: EngineOpt = Engine.local,
    master: MasterOpt = None,
    conf: ConfOpt = None,
    partitions: PartitionsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Train a Word2Vec, FastText or GloVe model on a corpus into the model store."""
    set_quiet(quiet)
    from embcli.api import train

    settings = dict(
        algo=algo.value, tokenizer=tokenizer.value, lowercase=lowercase, min_token_length=min_token_length,
        pos_filter=pos_filter.value, pos_tags=pos_tags,
        arch=arch.value, loss=loss.value, dim=dim, window=window, epochs=epochs, min_count=min_count,
        max_vocab=max_vocab, negative=negative, sample=sample, ns_exponent=ns_exponent, lr=lr, min_lr=min_lr, minn=minn,
        maxn=maxn, buckets=buckets, threads=threads, seed=seed, memory=memory, x_max=x_max, alpha=alpha,
        phrases=phrases, phrase_threshold=phrase_threshold, phrase_scoring=phrase_scoring,
        connector_words=connector_words,
    )
    # Only the options given are passed: the API's defaults are the same, and with --continue the
    # saved model's settings stand in for those left out.
    # (By the source's name: typer may bring its own copy of click's ParameterSource.)
    given = {k: v for k, v in settings.items() if getattr(ctx.get_parameter_source(k), "name", "DEFAULT") != "DEFAULT"}
    with TrainProgress() as progress:
        model = train(
            corpus_inputs(corpus), name=name, output=output, force=force, make_default=not no_default,
            progress=progress, continue_from=continue_from, init=init, state=not no_state, new_weight=new_weight,
            **given,
            **spark_args(engine, master, conf, partitions, verbose),
        )
        progress.finish(model.trained)
    result = model.trained
    if result.replaced_bytes:
        warn(f"{result.replaced_bytes} invalid UTF-8 bytes in the corpus were replaced by U+FFFD")
    for note in result.warnings:
        warn(note)
    info(
        f"trained {result.algorithm} model {result.name or ''}".rstrip()
        + f": {result.vocab_size:,} words x {result.dim} dims from {human_count(result.tokens)} tokens"
        f" ({result.lines:,} lines) in {result.seconds:.1f} s"
        f" (tokenizing {result.tokenize_seconds:.1f} s, training {result.train_seconds:.1f} s,"
        f" {human_count(result.words_per_second)} words/s)"
    )
    where = f"saved to {result.path}"
    if result.name is not None:
        where += " (now the default model)" if result.default else " (default unchanged)"
    info(where)


def register(app: typer.Typer) -> None:
    app.command("train", epilog=EXAMPLES)(train_cmd)
