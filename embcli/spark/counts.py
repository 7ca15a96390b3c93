"""Word counts in Spark: each partition counts its own words, the counts are summed by key, and
only the words kept (at least ``min_count``) come back to the driver, ordered as the local engine
orders them (most frequent first, ties by word)."""

from __future__ import annotations

from collections import Counter


def _count_partition(sentences):
    counts: Counter = Counter()
    for toks in sentences:
        counts.update(toks)
    return iter(counts.items())


def word_counts(sentences, min_count: int = 1, partitions: int | None = None) -> list[tuple[str, int]]:
    """(word, count) of the words occurring at least ``min_count`` times, most frequent first, ties
    by word (as ``embcli.vocab.count_words``)."""
    summed = sentences.mapPartitions(_count_partition).reduceByKey(lambda a, b: a + b, partitions)
    if min_count > 1:
        summed = summed.filter(lambda kv: kv[1] >= min_count)
    rows = summed.collect()
    rows.sort(key=lambda kv: (-kv[1], kv[0]))
    return rows
