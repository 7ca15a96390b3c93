"""Word counts of a corpus, as training would see them."""

from __future__ import annotations

from collections import Counter

from embcli.corpus import Corpus
from embcli.tokenize import TokenizerSettings, make_tokenizer


def count_words(
    corpus: Corpus, settings: TokenizerSettings, min_count: int = 1, top: int | None = None
) -> list[tuple[str, int]]:
    """(word, count) pairs, most frequent first (ties by word, as training chooses its vocabulary)."""
    split = make_tokenizer(settings)
    counts: Counter = Counter()
    update = counts.update
    for line in corpus.lines():
        update(split(line))
    return ranked(counts, min_count, top)


def ranked(counts: Counter, min_count: int = 1, top: int | None = None) -> list[tuple[str, int]]:
    """(word, count) pairs of ``counts``, most frequent first, ties by word: the words and the order
    that ``--max-vocab`` keeps (``embcli.training.common.select_vocabulary``)."""
    import heapq

    kept = ((w, c) for w, c in counts.items() if c >= min_count)
    order = lambda wc: (-wc[1], wc[0])  # noqa: E731
    return heapq.nsmallest(top, kept, key=order) if top else sorted(kept, key=order)
