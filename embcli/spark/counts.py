"""Word counts in Spark: each partition counts its own words, the counts are summed by key, and
only the words kept (at least ``min_count``) come back to the driver, with where each first appears
so that ties keep the local engine's order (first appearance)."""

from __future__ import annotations

from collections import Counter


def _count_partition(index, sentences):
    counts: Counter = Counter()
    first: dict = {}
    position = 0
    for toks in sentences:
        counts.update(toks)
        for tok in toks:
            if tok not in first:
                first[tok] = position
            position += 1
    for word, count in counts.items():
        yield word, (count, (index, first[word]))


def _merge(a, b):
    return a[0] + b[0], min(a[1], b[1])


def word_counts(sentences, min_count: int = 1, partitions: int | None = None) -> list[tuple[str, int]]:
    """(word, count) of the words occurring at least ``min_count`` times, most frequent first, ties
    in order of first appearance (as ``embcli.vocab.count_words``)."""
    summed = sentences.mapPartitionsWithIndex(_count_partition).reduceByKey(_merge, partitions)
    if min_count > 1:
        summed = summed.filter(lambda kv: kv[1][0] >= min_count)
    rows = summed.collect()
    rows.sort(key=lambda kv: (-kv[1][0], kv[1][1]))
    return [(word, value[0]) for word, value in rows]
