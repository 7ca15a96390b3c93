"""Word2Vec on Spark MLlib (``pyspark.ml.feature.Word2Vec``): skip-gram with hierarchical softmax.

emb's options map to MLlib's parameters: dim -> vectorSize, window -> windowSize, min-count ->
minCount (raised to the count of the max-vocab-th word with --max-vocab), epochs -> maxIter, lr ->
stepSize, seed -> seed, --partitions -> numPartitions (MLlib's default, 1, without it), and the
sentence length of the local engine (10,000 tokens) -> maxSentenceLength. MLlib has no negative
sampling, CBOW or subsampling: --arch cbow is refused; --loss, --negative, --ns-exponent, --sample,
--min-lr and --threads do not apply. The vectors and the word counts come back through Parquet.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from embcli.errors import TrainingError, UsageError
from embcli.spark import exchange
from embcli.spark.prepared import SparkPrepared
from embcli.tokenize import MAX_SENTENCE_TOKENS
from embcli.training.common import Trained, select_vocabulary
from embcli.training.options import ProgressFn, TrainOptions

IGNORED = ("loss", "negative", "ns_exponent", "sample", "min_lr", "threads")


def check_options(options: TrainOptions) -> None:
    if options.arch != "skipgram":
        raise UsageError("--engine spark trains skip-gram only (MLlib's Word2Vec): drop --arch cbow")


def mllib_params(options: TrainOptions, partitions: int | None, min_count: int) -> dict:
    return {
        "vectorSize": options.dim,
        "windowSize": options.window,
        "minCount": min_count,
        "maxIter": options.epochs,
        "stepSize": options.lr,
        "seed": options.seed,
        "numPartitions": partitions or 1,
        "maxSentenceLength": MAX_SENTENCE_TOKENS,
    }


def train_mllib_word2vec(
    prepared: SparkPrepared, options: TrainOptions, workdir: Path, on_progress: ProgressFn | None = None
) -> Trained:
    """Fit MLlib's Word2Vec on the prepared sentences; vectors and counts come back through Parquet."""
    from pyspark.ml.feature import Word2Vec
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    check_options(options)
    spark = prepared.spark
    words, counts = select_vocabulary(prepared.counts, options.min_count, options.max_vocab)
    # MLlib keeps every word of at least minCount: with --max-vocab, the count of the last word kept.
    min_count = max(options.min_count, int(counts[-1])) if options.max_vocab is not None else options.min_count
    params = mllib_params(options, prepared.partitions, min_count)
    started = time.perf_counter()
    model = Word2Vec(inputCol="tokens", outputCol="vector", **params).fit(prepared.sentences)
    vectors = model.getVectors().select("word", vector_to_array("vector", "float32").alias("vector"))
    count_df = spark.createDataFrame([(w, int(c)) for w, c in zip(words, counts)], "word string, count long")
    joined = vectors.join(F.broadcast(count_df), "word")
    table = exchange.read_table(exchange.write(joined, Path(workdir) / "vectors.parquet"), ["word", "count", "vector"])
    if table is None or table.num_rows == 0:
        raise TrainingError("MLlib's Word2Vec returned no vectors: lower --min-count")
    got = table.column("word").to_pylist()
    index = {w: i for i, w in enumerate(got)}
    order = [index[w] for w in words if w in index]
    flat = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    matrix = flat.reshape(len(got), options.dim)[order].astype(np.float32)
    kept = [got[i] for i in order]
    kept_counts = np.asarray(table.column("count").to_numpy(), dtype=np.int64)[order]
    spent = time.perf_counter() - started
    if on_progress is not None:
        on_progress("train", options.epochs, options.epochs, {})
    wps = prepared.stats.tokens * options.epochs / spent if spent > 0 else 0.0
    meta = {"mllib": {"class": "pyspark.ml.feature.Word2Vec", "params": params, "model": "skip-gram, hierarchical softmax"}}
    return Trained(kept, np.ascontiguousarray(matrix), kept_counts, wps, meta=meta)
