"""Tokenizer settings (saved in each model's metadata) and the tokenizer itself.

``unicode`` mode: NFKC, then case folding, then words as runs of Unicode word characters and
combining marks, keeping inner apostrophes and hyphens (``don't``, ``state-of-the-art``). Curly
apostrophes and Unicode hyphens are mapped to ASCII so ``God’s`` and ``God's`` are one word.
Hangul compatibility jamo (U+3131-U+318E: ``ㅋㅋ``, ``ㅠㅠ``, ``ㅇㅇ``, common in Korean chat and
reviews) are kept as written, where NFKC would turn them into conjoining jamo that display as
fragments or fuse with their neighbours, and a run of them is a token of its own (``최고ㅋㅋ`` is
``최고`` and ``ㅋㅋ``), as Korean analyzers such as kiwipiepy give them. Models written before this
rule have ``keep_jamo`` false in their tokenizer settings and keep the old reading.
``whitespace`` mode: split on white space only, for pre-tokenized text and item sequences; case is
kept unless ``lowercase`` is asked for.
``ko``, ``ja``, ``zh`` modes: a morphological analyzer (an optional extra, see ``embcli.morph``)
splits the line into morphemes, optionally only the content ones (``pos_filter="content"``) and
optionally tagged (``pos_tags``: ``먹/VV``); Latin letters are case-folded unless told otherwise.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Callable, Iterable

from embcli import morph
from embcli._marks import MARKS
from embcli.errors import UsageError
from embcli.names import TOKENIZER_MODES as MODES

# gensim's corpus_file reader drops the words of a line past this many; longer lines are split.
MAX_SENTENCE_TOKENS = 10_000

# A word starts with a word character: a combining mark left after a dropped emoji (the variation
# selector of ❤️, the keycap of #️⃣) is not one. Only the Myanmar marks that the Zawgyi encoding, still
# common on the web, writes before their consonant (ေ, ျ) may start one. (A word character first is
# also what lets ``re`` skip ahead fast: a quarter less time on Korean text than a mark-or-letter.)
_W = r"[\w\u1031\u103b\u107e-\u1084][\w" + MARKS + r"]*"
# Compiled when first used (``word_re``; ``WORD_RE`` for importers): 5 ms, which a query of a model
# with another tokenizer need not spend.
_WORD = _W + r"(?:['\-]" + _W + r")*"
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
# Hangul compatibility jamo (ㅋ, ㅠ, ...): NFKC maps them to conjoining jamo, which ``nfkc`` spares.
_COMPAT_JAMO = re.compile("[\u3131-\u318e]").search
_JAMO_SPLIT = re.compile("([\u3131-\u318e]+)").split


@functools.cache
def word_re() -> re.Pattern:
    """The default tokenizer's word pattern."""
    return re.compile(_WORD)


def __getattr__(name: str):
    if name == "WORD_RE":
        return word_re()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class TokenizerSettings:
    """How text becomes tokens; ``lowercase=None`` means the mode's default (yes but for whitespace).

    ``pos_filter`` and ``pos_tags`` apply to the morphological modes (ko, ja, zh) only.
    """

    mode: str = "unicode"
    lowercase: bool | None = None
    min_token_length: int = 1
    pos_filter: str = "all"
    pos_tags: bool = False
    # unicode mode: Hangul compatibility jamo kept and split off (False: NFKC like the rest, as emb 0.1 did).
    keep_jamo: bool = True

    def __post_init__(self):
        if self.mode not in MODES:
            raise UsageError(f"unknown tokenizer mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.min_token_length < 1:
            raise UsageError("--min-token-length must be at least 1")
        if self.pos_filter not in morph.POS_FILTERS:
            raise UsageError(f"unknown --pos-filter {self.pos_filter!r}: use one of {', '.join(morph.POS_FILTERS)}")
        if not self.morphological and (self.pos_filter != "all" or self.pos_tags):
            raise UsageError("--pos-filter and --pos-tags need a morphological tokenizer: --tokenizer ko, ja or zh")
        if self.lowercase is None:
            object.__setattr__(self, "lowercase", self.mode != "whitespace")

    @property
    def morphological(self) -> bool:
        """Whether a morphological analyzer (an optional extra) does the splitting."""
        return self.mode in morph.LANGUAGES

    def check_installed(self) -> None:
        """Raise the one-line error naming the ``pip install`` when the analyzer is missing."""
        if self.morphological:
            morph.check_installed(self.mode)

    def as_dict(self) -> dict:
        """The settings for a model's metadata; morphological modes add the analyzer and its versions."""
        data = asdict(self)
        if self.morphological:
            data["analyzer"] = morph.describe(self.mode)
        else:
            del data["pos_filter"], data["pos_tags"]
        if self.mode != "unicode":
            del data["keep_jamo"]
        return data

    @classmethod
    def from_dict(cls, data: dict | None) -> "TokenizerSettings":
        """Settings from a model's metadata; unknown keys (from newer versions) are ignored."""
        data = data or {}
        keys = ("mode", "lowercase", "min_token_length", "pos_filter", "pos_tags", "keep_jamo")
        known = {k: data[k] for k in keys if k in data}
        if known.get("mode", "unicode") == "unicode":
            # Settings written before the jamo rule existed read text as they did then.
            known.setdefault("keep_jamo", False)
        return cls(**known)


def make_tokenizer(settings: TokenizerSettings) -> Callable[[str], list[str]]:
    """Return a function from one line of text to its list of tokens."""
    min_len = settings.min_token_length
    if settings.morphological:
        split = morph.make_splitter(settings.mode, settings.pos_filter, settings.pos_tags, settings.lowercase)
    elif settings.mode == "whitespace":
        if settings.lowercase:

            def split(line: str) -> list[str]:
                return line.casefold().split()

        else:
            split = str.split
    else:
        findall = word_re().findall
        ascii_findall = ASCII_WORD_RE.findall
        normalize = nfkc if settings.keep_jamo else unicodedata.normalize
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
    if settings.morphological and settings.pos_tags:
        return _tagged_min_length(split, min_len)

    def split_min(line: str) -> list[str]:
        return [t for t in split(line) if len(t) >= min_len]

    block = getattr(split, "block", None)
    if block is not None:
        split_min.block = lambda lines: ([t for t in toks if len(t) >= min_len] for toks in block(lines))
    joined = getattr(split, "joined", None)
    if joined is not None:
        lines_joined, clean = joined
        clean_min = lambda token: kept if len(kept := clean(token)) >= min_len else ""  # noqa: E731
        split_min.joined = (lines_joined, clean_min)
        counter = getattr(split, "counter", None)
        if counter is not None:
            split_min.counter = counter.with_clean(clean_min)
    return split_min


def _tagged_min_length(split, min_len: int):
    """``split`` keeping the tokens whose form, before its ``/TAG``, has ``min_len`` characters or more."""

    def split_min(line: str) -> list[str]:
        return [t for t in split(line) if t.rfind("/") >= min_len]

    block = split.block
    split_min.block = lambda lines: ([t for t in toks if t.rfind("/") >= min_len] for toks in block(lines))
    return split_min


def block_tokenizer(tokenize: Callable[[str], list[str]]) -> Callable[[list[str]], Iterable[list[str]]]:
    """From a tokenizer of ``make_tokenizer``, a function from a block of lines to an iterable of their
    token lists, in order: the tokenizer's own block form where it has one (the morphological modes
    prepare a block's text at once), else the tokenizer mapped over the lines. Both give the same
    tokens."""
    block = getattr(tokenize, "block", None)
    if block is not None:
        return block
    return lambda lines: map(tokenize, lines)


def nfkc(form: str, text: str) -> str:
    """``unicodedata.normalize(form, text)`` sparing Hangul compatibility jamo, whose runs come out
    with a space on each side (a token of their own)."""
    if _COMPAT_JAMO(text) is None:
        return unicodedata.normalize(form, text)
    return "".join(
        f" {piece} " if i % 2 else unicodedata.normalize(form, piece) for i, piece in enumerate(_JAMO_SPLIT(text))
    )


def normalize_word(word: str, settings: TokenizerSettings) -> str:
    """Bring a query word into the form the model's tokenizer gave its vocabulary.

    Morphological modes: the word goes through the analyzer, and a word it splits stands for its
    first content morpheme (``임베딩은`` for ``임베딩``; ``query_tokens`` tells what it was split into).
    """
    if settings.morphological:
        return query_tokens(word, settings)[0]
    if settings.mode == "unicode":
        word = (nfkc if settings.keep_jamo else unicodedata.normalize)("NFKC", word).translate(_FOLD)
    if settings.lowercase:
        word = word.casefold()
    return word.strip()


def query_tokens(word: str, settings: TokenizerSettings) -> tuple[str, list[str]]:
    """For morphological modes: the word looked up for a query, and all the tokens it became."""
    if not settings.morphological:
        found = normalize_word(word, settings)
        return found, [found]
    return morph.analyze_query(word, settings.mode, settings.pos_tags, settings.lowercase)


def chunks(tokens: list[str], size: int = MAX_SENTENCE_TOKENS):
    """Split a token list into pieces of at most ``size`` tokens, keeping every token."""
    for start in range(0, len(tokens), size):
        yield tokens[start : start + size]
