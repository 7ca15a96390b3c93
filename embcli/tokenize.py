"""Tokenizer settings (saved in each model's metadata) and the tokenizer itself.

``unicode`` mode: NFKC, then case folding, then words as runs of Unicode word characters and
combining marks, keeping inner apostrophes and hyphens (``don't``, ``state-of-the-art``). Curly
apostrophes and Unicode hyphens are mapped to ASCII so ``God’s`` and ``God's`` are one word.
``whitespace`` mode: split on white space only, for pre-tokenized text and item sequences; case is
kept unless ``lowercase`` is asked for.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Callable

from embcli._marks import MARKS
from embcli.errors import UsageError
from embcli.names import TOKENIZER_MODES as MODES

# gensim's corpus_file reader drops the words of a line past this many; longer lines are split.
MAX_SENTENCE_TOKENS = 10_000

_W = r"[\w" + MARKS + r"]+"
WORD_RE = re.compile(_W + r"(?:['\-]" + _W + r")*")
# The same pattern for ASCII text (the marks are all non-ASCII): several times faster in ``re``.
ASCII_WORD_RE = re.compile(r"\w+(?:['\-]\w+)*", re.ASCII)
_FOLD_MAP = {"\u2019": "'", "\u02bc": "'", "\u2018": "'", "\u2010": "-", "\u2011": "-"}
# Common non-ASCII punctuation, symbols and spaces (curly quotes, dashes, bullets, CJK punctuation)
# never belong to a word, so they become spaces: the words found are the same, and a line whose only
# non-ASCII characters are such marks takes the much faster ASCII path.
for _lo, _hi in ((0x80, 0xBF), (0x2000, 0x206F), (0x3000, 0x303F), (0xFE30, 0xFE4F), (0xFFFD, 0xFFFD)):
    for _cp in range(_lo, _hi + 1):
        if chr(_cp) not in _FOLD_MAP and unicodedata.category(chr(_cp))[0] in "PSZ":
            _FOLD_MAP[chr(_cp)] = " "
_FOLD = str.maketrans(_FOLD_MAP)


@dataclass(frozen=True)
class TokenizerSettings:
    """How text becomes tokens; ``lowercase=None`` means the mode's default (unicode: yes)."""

    mode: str = "unicode"
    lowercase: bool | None = None
    min_token_length: int = 1

    def __post_init__(self):
        if self.mode not in MODES:
            raise UsageError(f"unknown tokenizer mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.min_token_length < 1:
            raise UsageError("--min-token-length must be at least 1")
        if self.lowercase is None:
            object.__setattr__(self, "lowercase", self.mode == "unicode")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "TokenizerSettings":
        """Settings from a model's metadata; unknown keys (from newer versions) are ignored."""
        data = data or {}
        known = {k: data[k] for k in ("mode", "lowercase", "min_token_length") if k in data}
        return cls(**known)


def make_tokenizer(settings: TokenizerSettings) -> Callable[[str], list[str]]:
    """Return a function from one line of text to its list of tokens."""
    min_len = settings.min_token_length
    if settings.mode == "whitespace":
        if settings.lowercase:

            def split(line: str) -> list[str]:
                return line.casefold().split()

        else:
            split = str.split
    else:
        findall = WORD_RE.findall
        ascii_findall = ASCII_WORD_RE.findall
        normalize = unicodedata.normalize
        lower = settings.lowercase

        def split(line: str) -> list[str]:
            if not line.isascii():
                line = normalize("NFKC", line).translate(_FOLD)
                if not line.isascii():
                    return findall(line.casefold() if lower else line)
            # For ASCII text casefold() is lower() and the ASCII pattern finds the same words.
            return ascii_findall(line.lower() if lower else line)

    if min_len == 1:
        return split

    def split_min(line: str) -> list[str]:
        return [t for t in split(line) if len(t) >= min_len]

    return split_min


def normalize_word(word: str, settings: TokenizerSettings) -> str:
    """Bring a query word into the form the model's tokenizer gave its vocabulary."""
    if settings.mode == "unicode":
        word = unicodedata.normalize("NFKC", word).translate(_FOLD)
    if settings.lowercase:
        word = word.casefold()
    return word.strip()


def chunks(tokens: list[str], size: int = MAX_SENTENCE_TOKENS):
    """Split a token list into pieces of at most ``size`` tokens, keeping every token."""
    for start in range(0, len(tokens), size):
        yield tokens[start : start + size]
