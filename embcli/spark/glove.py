"""GloVe with its co-occurrence counting in Spark, and the AdaGrad fit (which grows only with the
vocabulary) on the driver, as the local engine fits.

The counting is the local counter's (``embcli.training.glove.cooccur``): words outside the
vocabulary dropped first, then a symmetric window of ``--window`` words weighted 1/d that stops at
sentence ends (sentences of at most 10,000 tokens, as the local engine cuts them). Each partition
counts blocks of sentences with numpy and sends the sums on in buckets of keys (bytes, not rows), each
bucket sums its part with numpy, and the sums
come back through Parquet into the entry files the local solver reads: (a, b, x) and (b, a, x) for
a != b, (a, a, 2x) on the diagonal.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from embcli.spark import exchange
from embcli.spark.prepared import SparkPrepared
from embcli.training.common import Trained, select_vocabulary
from embcli.training.options import ProgressFn, TrainOptions

# Tokens counted together in a partition (their pairs are summed before they leave it).
BLOCK_TOKENS = 1 << 18
# Entries of one Parquet row (three arrays) of the summed counts.
ROW_ENTRIES = 1 << 16
IGNORED = ("memory", "threads")


def block_pairs(sentences: list[np.ndarray], window: int, vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """Keys a * vocab + b (a <= b) and their summed 1/d weights for the sentences' id arrays."""
    sentences = [s for s in sentences if len(s) > 1]
    if not sentences:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    flat = np.concatenate(sentences).astype(np.int64)
    line = np.repeat(np.arange(len(sentences)), [len(s) for s in sentences])
    keys, weights = [], []
    for d in range(1, min(window, len(flat) - 1) + 1):
        same = line[d:] == line[:-d]
        if not same.any():
            continue
        w1 = flat[:-d][same]
        w2 = flat[d:][same]
        keys.append(np.minimum(w1, w2) * vocab + np.maximum(w1, w2))
        weights.append(np.full(len(w1), 1.0 / d))
    if not keys:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    unique, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    return unique, np.bincount(inverse, weights=np.concatenate(weights), minlength=len(unique))


def _counter(index_bc, window: int, vocab: int, buckets: int):
    """The function of a partition of sentences: its pairs summed a block at a time, sent on as
    (bucket, (keys, weights)) with the bucket of a key ``key % buckets``."""

    def run(sentences):
        index = index_bc.value
        block: list[np.ndarray] = []
        size = 0

        def flush():
            keys, xs = block_pairs(block, window, vocab)
            where = keys % buckets
            for bucket in range(buckets):
                mine = where == bucket
                if mine.any():
                    yield bucket, (keys[mine].tobytes(), xs[mine].tobytes())

        for toks in sentences:
            ids = [index[t] for t in toks if t in index]
            if len(ids) > 1:
                block.append(np.array(ids, dtype=np.int64))
                size += len(ids)
            if size >= BLOCK_TOKENS:
                yield from flush()
                block, size = [], 0
        if block:
            yield from flush()

    return run


def _summer(vocab: int):
    """The function of a bucket: sum its keys' weights; rows of (a, b, x) as little-endian int32, int32
    and float64 bytes, at most ROW_ENTRIES entries a row."""

    def run(items):
        keys = [np.frombuffer(k, dtype=np.int64) for _, (k, _x) in items]
        if not keys:
            return
        xs = [np.frombuffer(x, dtype=np.float64) for _, (_k, x) in items]
        unique, inverse = np.unique(np.concatenate(keys), return_inverse=True)
        sums = np.bincount(inverse, weights=np.concatenate(xs), minlength=len(unique))
        a, b = np.divmod(unique, vocab)
        for s in range(0, len(unique), ROW_ENTRIES):
            yield (a[s : s + ROW_ENTRIES].astype("<i4").tobytes(), b[s : s + ROW_ENTRIES].astype("<i4").tobytes(),
                   sums[s : s + ROW_ENTRIES].astype("<f8").tobytes())

    return lambda items: run(list(items))


def count_spark(prepared: SparkPrepared, words: list[str], window: int, folder: Path):
    """Count co-occurrences of ``words`` in Spark into entry files in ``folder``: ``Cooccurrences``."""
    from embcli.training.glove.cooccur import Cooccurrences, EntryWriter

    spark = prepared.spark
    sc = spark.sparkContext
    vocab = len(words)
    buckets = max(prepared.partitions or 0, sc.defaultParallelism, 2)
    index_bc = sc.broadcast({w: i for i, w in enumerate(words)})
    try:
        summed = (
            prepared.rdd.mapPartitions(_counter(index_bc, window, vocab, buckets))
            .partitionBy(buckets, lambda bucket: bucket)
            .mapPartitions(_summer(vocab))
        )
        table = spark.createDataFrame(summed, "a binary, b binary, x binary")
        out = exchange.write(table, Path(folder) / "cooccur.parquet")
    finally:
        index_bc.unpersist()
    folder = Path(folder)
    writer = EntryWriter(folder)
    try:
        for batch in exchange.batches(out, ["a", "b", "x"]):
            for ra, rb, rx in zip(*(batch.column(i).to_pylist() for i in range(3))):
                a = np.frombuffer(ra, dtype="<i4").astype(np.int64)
                b = np.frombuffer(rb, dtype="<i4").astype(np.int64)
                x = np.frombuffer(rx, dtype="<f8")
                writer.add(a, b, np.where(a == b, 2.0 * x, x))
    finally:
        writer.close()
    return Cooccurrences(writer.pairs_path, writer.x_path, writer.n, 0, 0, 0)


def train_spark_glove(
    prepared: SparkPrepared, options: TrainOptions, workdir: Path, on_progress: ProgressFn | None = None
) -> Trained:
    """Count in Spark, fit on the driver; the entry files and the Parquet stay in ``workdir``."""
    from embcli.training.glove import fit_counted

    started = time.perf_counter()
    words, counts = select_vocabulary(prepared.counts, options.min_count, options.max_vocab)
    co = count_spark(prepared, words, options.window, Path(workdir))
    prepared.release()
    with prepared.local():
        return fit_counted(co, words, counts, options, on_progress, prepared.stats.tokens, started,
                           info={"counted_by": "spark"}, keep_cooccurrences=False)
