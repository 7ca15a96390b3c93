"""Text as the morphological analyzers get it, and lines cut for them.

Before an analyzer sees a line it is NFKC-normalised (full-width Latin and digits, half-width
katakana), except Hangul compatibility jamo (``ㅋㅋ``, ``ㅠㅠ``), which NFKC would turn into
conjoining jamo that then fuse with their neighbours into syllables, and optionally case-folded.
Lines longer than ``PIECE_CHARS`` are cut (``pieces``: at a space, or after a sentence or a clause,
``SENTENCE_ENDS`` and ``CLAUSE_ENDS``, which the corpus reader also cuts long lines after).
"""

from __future__ import annotations

import re
import unicodedata

# Longest piece of a line handed to an analyzer at once.
PIECE_CHARS = 2000

_COMPAT_JAMO = re.compile(r"[\u3131-\u318e]+")
_NOT_JAMO = re.compile(r"[^\u3131-\u318e]+")
# Full-width ASCII forms (U+FF01-U+FF5E) and the ideographic space, to what NFKC makes of them.
_WIDE_MAP = {chr(c): unicodedata.normalize("NFKC", chr(c)) for c in (*range(0xFF01, 0xFF5F), 0x3000)}
_WIDE_SEARCH = re.compile("[\uff01-\uff5e\u3000]").search


def _nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, faster on Chinese and Japanese text.

    Full-width ASCII forms and the ideographic space (``，``, ``！``, ``　``), which such text is full
    of, are first replaced by what NFKC makes of them (one ASCII character each): the normal form is
    the same (a character replaced by its whole compatibility decomposition leaves NFKD, and so NFKC,
    unchanged), and what is left mostly passes NFKC's quick check instead of its slow full pass.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", _narrow(text))


def _narrow(text: str) -> str:
    """Full-width forms replaced by what NFKC makes of them. Each one present is replaced throughout
    at once: a block of Chinese holds few distinct ones (mostly ``，``), and ``str.translate`` with
    a table took several times longer, looking every character up."""
    found = _WIDE_SEARCH(text)
    while found is not None:
        char = found.group()
        text = text.replace(char, _WIDE_MAP[char])
        found = _WIDE_SEARCH(text, found.start())  # one character for one: what came before is done
    return text


def prepare_text(text: str, lowercase: bool) -> str:
    """NFKC (sparing Hangul compatibility jamo) and optional case folding, as before analysis."""
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        # (Text already in NFKC holds no compatibility jamo: NFKC changes each of them. Most blocks of
        # Japanese are, and the search for jamo took as long as the rest of this.)
        if _COMPAT_JAMO.search(text):
            text = _NOT_JAMO.sub(lambda m: _nfkc(m.group()), text)
        else:
            text = unicodedata.normalize("NFKC", _narrow(text))
    return text.casefold() if lowercase else text


def prepare_lines(lines: list[str], lowercase: bool) -> list[str]:
    """``prepare_text`` of each line, done on the block at once (one call each instead of one a line:
    on a corpus the per-line calls are a visible share of emb's time beside a fast analyzer).
    Neither NFKC nor case folding makes or takes a line break, so the lines come back as they split."""
    if len(lines) < 2:
        return [prepare_text(line, lowercase) for line in lines]
    out = prepare_text("\n".join(lines), lowercase).split("\n")
    if len(out) != len(lines):  # a line holding a line break: not from a corpus reader, done one by one
        return [prepare_text(line, lowercase) for line in lines]
    return out


# Where a piece may end in a line without spaces, best first: after a sentence, then after a clause.
SENTENCE_ENDS = "。！？!?．"
CLAUSE_ENDS = "、，,；;：:）)」』】"
# Both, best first, as text and as the UTF-8 bytes the corpus reader cuts long lines of.
ENDS_TEXT = (tuple(SENTENCE_ENDS), tuple(CLAUSE_ENDS))
ENDS_BYTES = tuple(tuple(c.encode() for c in group) for group in ENDS_TEXT)


def cut_point(text, lo: int, hi: int, spaces: tuple, ends: tuple) -> int:
    """Where a piece of ``text[:hi]`` ends, if it ends after ``lo``: at the last of ``spaces`` in
    ``text[lo:hi]`` (which then starts the next piece); else just after the last end of a sentence
    there, then of a clause (``ends``: ``ENDS_TEXT`` or ``ENDS_BYTES``), leaving at least one
    character (or byte) before ``hi`` for the next piece. -1 when there is none. For ``str`` and
    ``bytes`` alike."""
    cut = max(text.rfind(space, lo, hi) for space in spaces)
    if cut > 0:
        return cut
    for group in ends:
        cut = max((at + len(end) for end in group if (at := text.rfind(end, lo, hi - 1)) >= 0), default=-1)
        if cut > 0:
            return cut
    return -1


def pieces(text: str, limit: int = PIECE_CHARS) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters: at the last space in the second half
    of the piece when there is one, else just after the last end of a sentence, then of a clause
    (Japanese and Chinese are written without spaces), and only else inside a word (``cut_point``)."""
    if len(text) <= limit:
        return [text]
    out = []
    while len(text) > limit:
        cut = cut_point(text, limit // 2, limit, (" ",), ENDS_TEXT)
        if cut <= 0:
            cut = limit
        out.append(text[:cut])
        text = text[cut:]
    out.append(text)
    return out
