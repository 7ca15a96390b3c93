"""The corpus tokenized in Spark, kept (memory, then disk) for the passes of training, with its counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from embcli.corpus import CorpusStats
from embcli.errors import CorpusError, TrainingError
from embcli.spark.counts import word_counts
from embcli.spark.text import tokenized
from embcli.tokenize import TokenizerSettings


@dataclass
class SparkPrepared:
    """What a Spark trainer gets: the sentences (a DataFrame of ``tokens``, persisted), the counts of
    the words of at least ``min_count``, the corpus figures and the requested partitions."""

    spark: object
    sentences: object
    counts: Counter
    stats: CorpusStats
    partitions: int | None
    rdd: object = None
    job: object = None

    def local(self):
        """A section of the driver's own work (no Spark call): Ctrl-C stops it at once."""
        from contextlib import nullcontext

        return self.job.local() if self.job is not None else nullcontext()

    def release(self) -> None:
        try:
            self.rdd.unpersist()
        except Exception:  # the context is gone (Ctrl-C, a failure): nothing is held any more
            pass


def prepare(spark, inputs: list[str], settings: TokenizerSettings, min_count: int, partitions: int | None) -> SparkPrepared:
    """Tokenize ``inputs`` in Spark, persist the sentences and count the words (one pass over the text)."""
    from pyspark import StorageLevel

    rdd, stats, files = tokenized(spark, inputs, settings, partitions)
    rdd = rdd.persist(StorageLevel.MEMORY_AND_DISK)
    counts = Counter(dict(word_counts(rdd, min_count, partitions)))
    corpus = stats.as_corpus_stats(inputs, len(files))
    sentences = spark.createDataFrame(rdd.map(lambda toks: (toks,)), "tokens array<string>")
    prepared = SparkPrepared(spark, sentences, counts, corpus, partitions, rdd)
    if corpus.lines == 0:
        rdd.unpersist()
        raise CorpusError(f"the corpus is empty ({', '.join(inputs)}): pass a file with text in it")
    if corpus.tokens == 0:
        rdd.unpersist()
        raise CorpusError(
            f"the corpus has no tokens ({corpus.lines:,} line{'' if corpus.lines == 1 else 's'}, no words):"
            " check the input or try --tokenizer whitespace"
        )
    if not counts:
        rdd.unpersist()
        raise TrainingError(f"no word occurs {min_count} times: use a lower --min-count")
    return prepared
