"""Word counts of a corpus, as training would see them."""

from __future__ import annotations

from collections import Counter

from embcli.corpus import Corpus
from embcli.tokenize import TokenizerSettings, make_tokenizer


def count_words(
    corpus: Corpus, settings: TokenizerSettings, min_count: int = 1, top: int | None = None
) -> list[tuple[str, int]]:
    """(word, count) pairs, most frequent first (ties in order of first appearance)."""
    split = make_tokenizer(settings)
    counts: Counter = Counter()
    update = counts.update
    for line in corpus.lines():
        update(split(line))
    return ranked(counts, min_count, top)


def ranked(counts: Counter, min_count: int = 1, top: int | None = None) -> list[tuple[str, int]]:
    """(word, count) pairs of ``counts``, most frequent first (ties in the counter's order)."""
    items = counts.most_common(top) if top else counts.most_common()
    return [(w, c) for w, c in items if c >= min_count]
