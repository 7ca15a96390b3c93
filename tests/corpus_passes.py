"""The corpus pass of one block, as the tests of the compiled tokenizing paths call it."""

from __future__ import annotations

from collections import Counter

from embcli.training.prepare import _block_counts, _tokenize_lines, flush_counts


def token_loop(split):
    """``split`` without its compiled forms (``joined``, ``counter``): the loop over each token."""

    def loop(line):
        return split(line)

    loop.block = split.block
    return loop


def counted_pass(lines, tokenize, encoded=False):
    """The corpus pass's (text, tokens, lines) of one block, and its counts (those the tokenizer keeps
    itself added: ``flush_counts``)."""
    counts = Counter()
    done = _tokenize_lines(lines, tokenize, counts.update, encoded=encoded)
    flush_counts(tokenize, counts)
    return done, counts


def vocab_counts(lines, tokenize):
    """``emb vocab``'s counts of one block (those the tokenizer keeps itself added)."""
    counts = _block_counts(lines, tokenize, None)
    flush_counts(tokenize, counts)
    return counts
