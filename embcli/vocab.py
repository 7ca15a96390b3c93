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
    from operator import itemgetter

    # Two stable sorts with C-level keys: by word, then by count (highest first) keeps ties by word.
    kept = sorted((w, c) for w, c in counts.items() if c >= min_count)
    kept.sort(key=itemgetter(1), reverse=True)
    return kept[:top] if top else kept
