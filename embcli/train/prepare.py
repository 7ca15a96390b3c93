"""Tokenize a corpus once into a temporary one-sentence-a-line file, counting words as it goes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from embcli.corpus import Corpus, CorpusStats
from embcli.errors import CorpusError, TrainingError
from embcli.tokenize import MAX_SENTENCE_TOKENS, TokenizerSettings, chunks, make_tokenizer
from embcli.train.options import ProgressFn


@dataclass
class Prepared:
    """A tokenized corpus on disk with its word counts."""

    path: Path
    counts: Counter
    stats: CorpusStats
    sentences: int


def prepare_corpus(
    corpus: Corpus, settings: TokenizerSettings, path: Path, on_progress: ProgressFn | None = None
) -> Prepared:
    """Write the tokens of ``corpus`` to ``path``, one sentence of at most 10,000 tokens a line."""
    tokenize = make_tokenizer(settings)
    counts: Counter = Counter()
    update = counts.update
    sentences = 0
    tokens = 0

    def progress(done: int, total: int | None) -> None:
        if on_progress is not None:
            on_progress("tokenize", done, total, {"lines": corpus.stats.lines, "tokens": tokens})

    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        write = out.write
        for line in corpus.lines(progress):
            toks = tokenize(line)
            if not toks:
                continue
            update(toks)
            tokens += len(toks)
            if len(toks) <= MAX_SENTENCE_TOKENS:
                write(" ".join(toks))
                write("\n")
                sentences += 1
            else:
                for piece in chunks(toks):
                    write(" ".join(piece))
                    write("\n")
                    sentences += 1
    stats = corpus.stats
    stats.tokens = tokens
    if stats.lines == 0:
        raise CorpusError(f"the corpus is empty ({', '.join(corpus.inputs)}): pass a file with text in it")
    if tokens == 0:
        raise CorpusError(
            f"the corpus has no tokens ({stats.lines} lines, no words): check the input"
            " or try --tokenizer whitespace"
        )
    return Prepared(path=path, counts=counts, stats=stats, sentences=sentences)


def check_vocabulary(counts: Counter, min_count: int) -> int:
    """Return how many words occur at least ``min_count`` times; refuse an empty vocabulary."""
    kept = sum(1 for c in counts.values() if c >= min_count)
    if kept == 0:
        word, top = counts.most_common(1)[0]
        raise TrainingError(
            f"no word occurs {min_count} times (the most frequent, {word!r}, occurs {top} times):"
            f" use --min-count {top} or lower"
        )
    return kept
