"""Count and join a block's tokens in compiled code, for analyzers that give each line as one string.

The corpus pass counts every token and writes every line. Done in Python that is an object, a test
and a dictionary update per token: beside MeCab, which analyses 2-3 million tokens a second, as
much time again as the analysis itself. When an analyzer gives each line's tokens as one string,
separated by single spaces (MeCab's wakati output, jieba's cut joined), ``count_and_join`` hands the
block's text to pyarrow, which counts its tokens in C++, and numpy; the lines written are cut out of
that same text. Python sees each distinct token of the block once, to clean it: ``clean(token)``
returns the token to keep, or "" to drop it (punctuation, emoji). The result equals what the
per-token path makes: the same counts, the same lines.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

# The token that ends each line in the text handed to pyarrow (no token holds a line break).
_LINE_END = "\n "


def count_and_join(
    joined: list[str], clean: Callable[[str], str], max_tokens: int, encoded: bool = False
) -> tuple[str | bytes, int, int, dict[str, int]] | None:
    """The block's (text, tokens, lines, counts) from its lines' space-separated tokens.

    ``text`` holds one line for each line with a token left after ``clean``, each ending in a line
    break (``encoded``: as UTF-8 bytes, which pyarrow makes; for a file, a text then need not be
    decoded to be encoded again); ``tokens`` and ``lines`` count what it holds; ``counts`` maps each
    token kept to its count.
    Returns None when a line keeps more than ``max_tokens`` tokens (the caller cuts such lines), or
    holds a line break.
    """
    import pyarrow as pa

    if not joined:
        return b"" if encoded else "", 0, 0, {}
    # The block as one UTF-8 text in which every token is followed by one space and every line by the
    # token "\n ": the tokens are the bytes up to each space (a space is byte 32 only), so pyarrow gets
    # them as an array over the text's own bytes, with no split and no copy.
    data = " \n ".join([*joined, ""]).encode()  # (ends in " \n " too)
    if len(data) >= 1 << 31:
        return None
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 32)
    offsets = np.empty(ends.shape[0] + 1, np.int32)
    offsets[0] = 0
    np.add(ends, 1, out=offsets[1:], casting="unsafe")
    tokens = pa.StringArray.from_buffers(ends.shape[0], pa.py_buffer(offsets), pa.py_buffer(data))
    distinct = tokens.dictionary_encode()  # distinct tokens in the order they first appear
    spaced = distinct.dictionary.to_pylist()
    ids = distinct.indices.to_numpy(zero_copy_only=False)
    line_end = spaced.index(_LINE_END)  # (every line has one)
    # Each distinct token as it is written: followed by a space, or last on its line by a line break.
    written = [""] * (2 * len(spaced))
    keep_id = np.zeros(len(spaced), bool)
    counts: dict[str, int] = {}
    for i, (token, n) in enumerate(zip(spaced, np.bincount(ids, minlength=len(spaced)).tolist())):
        if i == line_end:
            if n != len(joined):
                return None  # a line break as a token of a line: not from a corpus reader
            continue
        kept = clean(token[:-1]) if len(token) > 1 else ""
        if kept:
            if " " in kept or "\n" in kept:
                return None  # (not from a cleaning of ours) the per-token path joins such tokens as they are
            keep_id[i] = True
            counts[kept] = counts.get(kept, 0) + n
            written[i] = kept + " "
            written[i + len(spaced)] = kept + "\n"
    if not counts:
        return b"" if encoded else "", 0, 0, counts
    keep_id[line_end] = True
    kept_ids = ids[keep_id[ids]]  # the tokens kept and the line ends
    ended = kept_ids == line_end
    # A token before a line end is the last of its line (a line end after a line end, or first, ends
    # a line left with no token, which is not written).
    last = ended[1:] & ~ended[:-1]
    words = (kept_ids[:-1] + last * np.int32(len(spaced)))[~ended[:-1]]  # (the last one is a line end)
    line_ends = np.flatnonzero(words >= len(spaced))
    if int(np.diff(line_ends, prepend=-1).max()) > max_tokens:
        return None
    text = pa.array(written, pa.string()).take(pa.array(words))
    _, text_offsets, text_bytes = text.buffers()
    size = int(np.frombuffer(text_offsets, np.int32)[words.shape[0]])
    text = memoryview(text_bytes)[:size].tobytes()
    return text if encoded else text.decode(), int(words.shape[0]), int(line_ends.shape[0]), counts
