"""The Spark engine's jobs: train into a model folder (through ``embcli.training.run``'s atomic
writers, so the store and the default model change only when the model is whole), count the words
of a corpus, and tokenize one (for comparing with the local engine).
"""

from __future__ import annotations

import shutil
import time
from importlib import import_module
from pathlib import Path

from embcli.errors import TrainingError
from embcli.spark.session import SparkOptions, get_session, spark_job
from embcli.store import ModelStore
from embcli.tokenize import TokenizerSettings
from embcli.training import find_trainer
from embcli.training.common import check_memory
from embcli.training.options import ProgressFn, TrainOptions, TrainResult
from embcli.training.run import finish_model, train_to_folder, train_to_store

ENGINE = "spark"


def _job(spark_options: SparkOptions):
    """The ``job`` for ``train_to_folder`` / ``train_to_store``: prepare and train in Spark."""

    def train_into(folder: Path, inputs: list[str], tokenizer: TokenizerSettings, options: TrainOptions,
                   on_progress: ProgressFn | None) -> TrainResult:
        from embcli.spark.prepared import prepare

        started = time.perf_counter()
        trainer = find_trainer(options, ENGINE)
        check = getattr(_module(trainer), "check_options", None)
        if check is not None:
            check(options)
        spark = get_session(spark_options)
        work = folder / "spark.tmp"
        work.mkdir()
        prepared = None
        try:
            with spark_job(spark, on_progress) as job:
                # MLlib's Word2Vec spreads the sentences over its numPartitions itself; the counting of
                # GloVe runs on the corpus' partitions, --partitions of them when given.
                split = None if options.algo == "word2vec" else spark_options.partitions
                prepared = prepare(spark, inputs, tokenizer, options.min_count, split)
                prepared.partitions = spark_options.partitions
                prepared.job = job
                kept = len(prepared.counts)
                check_memory(options, min(kept, options.max_vocab or kept))
                tokenized = time.perf_counter()
                trained = trainer.fn()(prepared, options, work, on_progress)
        finally:
            if prepared is not None:
                prepared.release()
            shutil.rmtree(work, ignore_errors=True)
        extra = {"engine": engine_meta(spark, spark_options, trainer, options)}
        return finish_model(folder, trainer, options, tokenizer, prepared.stats, trained, started, tokenized, extra)

    return train_into


def engine_meta(spark, spark_options: SparkOptions, trainer, options: TrainOptions) -> dict:
    """What ``meta.json`` says of the engine: its name, Spark's version and master, the options that
    did not apply."""
    module = _module(trainer)
    return {
        "name": ENGINE,
        "spark_version": str(spark.version),
        "master": spark.sparkContext.master,
        "partitions": spark_options.partitions,
        "ignored_options": list(getattr(module, "IGNORED", ())),
    }


def _module(trainer):
    return import_module(trainer.entry.split(":")[0])


def train_spark(
    inputs: list[str],
    tokenizer: TokenizerSettings,
    options: TrainOptions,
    spark_options: SparkOptions,
    *,
    store: ModelStore | None = None,
    name: str | None = None,
    target: Path | None = None,
    force: bool = False,
    make_default: bool = True,
    on_progress: ProgressFn | None = None,
) -> TrainResult:
    """Train on Spark into model ``name`` of ``store`` or into the folder ``target``."""
    job = _job(spark_options)
    if target is not None:
        return train_to_folder(inputs, tokenizer, options, Path(target), force=force, on_progress=on_progress, job=job)
    if store is None or name is None:
        raise TrainingError("train_spark needs a store and a name, or a target folder")
    return train_to_store(store, name, inputs, tokenizer, options, force=force, make_default=make_default,
                          on_progress=on_progress, job=job)


def count_words_spark(
    inputs: list[str], settings: TokenizerSettings, spark_options: SparkOptions, min_count: int = 1,
    top: int | None = None, on_progress: ProgressFn | None = None,
):
    """(word, count) pairs as ``embcli.vocab.count_words`` gives them, counted in Spark; and the
    corpus figures (``CorpusStats``)."""
    from embcli.spark.counts import word_counts
    from embcli.spark.text import tokenized

    spark = get_session(spark_options)
    with spark_job(spark, on_progress):
        rdd, stats, files = tokenized(spark, inputs, settings, spark_options.partitions)
        counts = word_counts(rdd, min_count, spark_options.partitions)
    return (counts[:top] if top else counts), stats.as_corpus_stats(inputs, len(files))


def tokenize_spark(inputs: list[str], settings: TokenizerSettings, spark_options: SparkOptions) -> list[list[str]]:
    """The tokens of every line, in order, tokenized in Spark (as ``emb tokenize`` prints them)."""
    from embcli.spark.text import tokenized

    spark = get_session(spark_options)
    with spark_job(spark):
        rdd, _, _ = tokenized(spark, inputs, settings, None, sentences=False)
        return rdd.collect()
