"""Morphological analyzers for Korean, Japanese and Chinese, each an optional extra.

``ko``: kiwipiepy (``pip install 'embcli[ko]'``), ``ja``: fugashi with the unidic-lite dictionary
(``embcli[ja]``), ``zh``: jieba (``embcli[zh]``). Each splits a line into morphemes (Korean: a noun
and its particle, a verb stem and its endings; Japanese and Chinese: the words of text written
without spaces). ``pos_filter="content"`` keeps only content morphemes (nouns, verbs, adjectives,
adverbs, ...; particles, endings and function words go), ``pos_tags`` writes tokens as ``먹/VV``.

Before the analyzer sees a line it is prepared as ``embcli.morph_text`` says (NFKC sparing Hangul
compatibility jamo). Tokens without a word character (punctuation, emoji) are dropped, as the
unicode tokenizer drops them. Lines longer than ``PIECE_CHARS`` are cut (``morph_text.pieces``)
before analysis: the analyzers slow down sharply on long inputs and MeCab crashes on very long
ones; every piece is analysed, nothing is dropped.
"""

from __future__ import annotations

import importlib
import os
import re
import unicodedata
import warnings
from functools import lru_cache
from typing import Callable, Iterator

from embcli import extras
from embcli.morph_text import PIECE_CHARS, pieces, prepare_lines, prepare_text
from embcli.names import POS_FILTERS  # noqa: F401  (the choices of pos_filter, checked by TokenizerSettings)

LANGUAGES = ("ko", "ja", "zh")

# language -> (module to import, distributions whose versions are recorded, extra)
_PACKAGES = {
    "ko": ("kiwipiepy", ("kiwipiepy", "kiwipiepy_model"), "ko"),
    "ja": ("fugashi", ("fugashi", "unidic-lite"), "ja"),
    "zh": ("jieba", ("jieba",), "zh"),
}
_ANALYZER = {"ko": "kiwipiepy", "ja": "fugashi+unidic-lite", "zh": "jieba"}

_HAS_WORD = re.compile(r"\w").search
_SPACE = re.compile(r"\s+")
_OTHER_SPACE = re.compile(r"[^\S ]").search  # white space that is not a space (what str.split cuts at)

# Content morphemes. Korean (Sejong tags as kiwi writes them): nouns, pronouns, numerals, verbs,
# adjectives, determiners, adverbs, interjections, roots, foreign words, numbers, hanja, symbols
# made of letters (ㅋㅋ) and kiwi's web tokens (URLs, hashtags); particles (J*), endings (E*),
# affixes (X*), copulas (VC*) and auxiliary verbs (VX) are function morphemes.
_KO_CONTENT = ("NN", "NR", "NP", "VV", "VA", "MM", "MAG", "IC", "XR", "SL", "SH", "SN", "SW", "W_")
# Japanese (UniDic's first POS level).
_JA_CONTENT = frozenset(("名詞", "代名詞", "動詞", "形容詞", "形状詞", "副詞", "連体詞", "感動詞"))
# Chinese (jieba's flags, first letter): particles, prepositions, conjunctions, modal particles,
# punctuation, quantifiers and affixes are function words.
_ZH_FUNCTION = frozenset("upcyxwqhk")
# jieba cuts letters of scripts it does not know (é, Cyrillic, Hangul) one by one: a line holding one
# (a character outside ASCII and the CJK blocks) has its runs of such letters joined again (``_rejoined``).
_ZH_OTHER_PATTERN = r"[^\x00-\x7f\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0002fa1f]"
_HAN_PATTERN = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]"


def _ZH_OTHER(text: str):  # noqa: N802 - a compiled pattern's search, compiled when zh first needs it (1.6 ms)
    return _compiled(_ZH_OTHER_PATTERN)(text)


def _HAN(text: str):  # noqa: N802 - as _ZH_OTHER
    return _compiled(_HAN_PATTERN)(text)


@lru_cache(maxsize=None)
def _compiled(pattern: str):
    return re.compile(pattern).search


_FEATURE = {"ko": "Korean tokenizing", "ja": "Japanese tokenizing", "zh": "Chinese tokenizing"}


def require(module: str, extra: str):
    """Import ``module`` or raise the one-line error naming the ``pip install`` that brings it."""
    return extras.require(module, extra, _FEATURE.get(extra))


def check_installed(language: str) -> None:
    """Raise ``MissingExtraError`` unless the analyzer for ``language`` can be imported."""
    module, _, extra = _PACKAGES[language]
    require(module, extra)
    if language == "ja":
        require("unidic_lite", extra)
    if language == "ko":
        require("kiwipiepy_model", extra)  # kiwi's model package: without it Kiwi() cannot load


def describe(language: str) -> dict:
    """The analyzer's name and its packages' versions, for a model's metadata."""
    from importlib.metadata import PackageNotFoundError, version  # here: a query need not import it

    versions = {}
    for dist in _PACKAGES[language][1]:
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    return {"name": _ANALYZER[language], "versions": versions}


# -------------------------------------------------------------------------------- the analyzers
#
# For each language, ``_pairs_X(tags)`` gives a function from one prepared piece of text to
# (token, is_content) pairs, for query words, and ``_tokens_X(content, tags)`` a function from one
# piece to its tokens, for corpora: the tokens alone, with no pair per token, since on a corpus
# emb's own work per token must stay small beside the analyzer's (see bench/morph_tokenize.py). A token
# is kept when it has a word character: ``isalnum()`` answers for almost all of them, the regular
# expression for the rest (``c++``, ``_``).


def _clean(form: str) -> str:
    """A token never holds white space: the tokenized corpus is split on it."""
    return _SPACE.sub("_", form.strip())


@lru_cache(maxsize=1)
def _kiwi():
    """One Kiwi per process (loading its model takes about a second); forked workers share its pages."""
    kiwipiepy = require("kiwipiepy", "ko")
    require("kiwipiepy_model", "ko")
    # No threads of its own (num_workers=0; kiwi warns that 0 meant "all cores" before its 0.21):
    # the tokenizing pass parallelises with processes.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return kiwipiepy.Kiwi(num_workers=0)


@lru_cache(maxsize=2)
def _tagger(spaced: bool = False):
    fugashi = require("fugashi", "ja")
    require("unidic_lite", "ja")
    return fugashi.Tagger("-Owakati") if spaced else fugashi.Tagger()


# A line MeCab's two taggers must answer alike before the compiled pass is used (``_mecab``).
_PROBE = "東京都に住む　ｶﾞｷﾞ Tokyo c++ 最高😀でした\t한국어 123"


@lru_cache(maxsize=1)
def _mecab():
    """MeCab for the compiled corpus pass (``embcli.wakati``), made as ``_tagger(True)`` is (the
    dictionary fugashi finds, ``-Owakati``); None where it cannot be made or answers otherwise."""
    from embcli import wakati  # (here: a query needs neither it nor ctypes)

    fugashi = require("fugashi", "ja")
    dicdir = fugashi.try_import_unidic()
    args = ["-r", os.path.join(dicdir, "mecabrc"), "-d", dicdir] if dicdir else []
    mecab = wakati.open_mecab([*args, "-Owakati"])
    if mecab is None or mecab.parse(_PROBE).rstrip() != _tagger(True).parse(_PROBE):
        return None
    return mecab


def _jieba():
    jieba = require("jieba", "zh")
    import logging

    jieba.setLogLevel(logging.WARNING)  # jieba logs its dictionary loading on stderr
    jieba.initialize()
    return jieba


def _pairs_ko(tags: bool):
    tokenize = _kiwi().tokenize
    keep = _KO_CONTENT

    def analyze(text: str) -> list[tuple[str, bool]]:
        out = []
        for tok in tokenize(text):
            form, tag = tok.form, tok.tag
            if tag == "Z_CODA" or not (form.isalnum() or _HAS_WORD(form)):
                continue
            if " " in form:
                form = _clean(form)
            out.append((f"{form}/{tag}" if tags else form, tag.startswith(keep)))
        return out

    return analyze


def _tokens_ko(content: bool, tags: bool):
    tokenize = _kiwi().tokenize
    keep = _KO_CONTENT

    def analyze(text: str) -> list[str]:
        out = []
        append = out.append
        for tok in tokenize(text):
            form, tag = tok.form, tok.tag
            # Z_CODA: a final consonant kiwi splits off a syllable (대박이닼 -> 대박 이 다 ᆿ).
            if tag == "Z_CODA" or (content and not tag.startswith(keep)):
                continue
            if not (form.isalnum() or _HAS_WORD(form)):
                continue
            if " " in form:
                form = _clean(form)
            append(f"{form}/{tag}" if tags else form)
        return out

    return analyze


def _word_part(token: str) -> str:
    """``token`` without its symbols and format characters (emoji, their variation selectors and
    joiners), or "" when it holds no word character: MeCab leaves an emoji glued to the Hangul or
    Latin letters before it (최고😀)."""
    if not _HAS_WORD(token):
        return ""
    return "".join(c for c in token if unicodedata.category(c) not in _SYMBOLS and c not in "\ufe0e\ufe0f")


_SYMBOLS = frozenset(("So", "Sk", "Cf"))  # emoji, their skin tones (Sk), joiners (Cf)


def _ja_clean(token: str) -> str:
    """A token of MeCab's as a corpus keeps it: itself, its word part, or "" (see ``_word_part``)."""
    return token if token.isalnum() else _word_part(token)


def _pairs_ja(tags: bool):
    tagger = _tagger()
    keep = _JA_CONTENT

    def analyze(text: str) -> list[tuple[str, bool]]:
        out = []
        for node in tagger(text):
            form = node.surface
            if not form.isalnum():
                form = _word_part(form)
            if form:
                pos = node.pos.split(",", 1)[0]
                out.append((f"{form}/{pos}" if tags else form, pos in keep))
        return out

    return analyze


def _tokens_ja(content: bool, tags: bool):
    if not (content or tags):
        # MeCab's own space-separated output: no Python object per token. MeCab's surfaces never
        # hold white space.
        parse = _tagger(True).parse

        def plain(text: str) -> list[str]:
            return [g for f in parse(text).split() if (g := f if f.isalnum() else _word_part(f))]

        def plain_joined(texts: list[str]) -> list[str]:
            joined = list(map(parse, texts))
            text = "".join(texts)
            if not text.isprintable() and _OTHER_SPACE(text):  # (such white space is not printable)
                # MeCab leaves white space other than a space (\r, \x0c, \x85) glued to a word before
                # it (한국어\x0c), where str.split cuts it off: such a block is split that way.
                joined = [" ".join(out.split()) for out in joined]
            return joined

        def plain_block(texts: list[str]) -> Iterator[list[str]]:
            # MeCab's outputs and their splits come from C (map); one Python loop, over tokens. Lazily:
            # each line's tokens are counted and written while they are still in the cache.
            return ([g for f in toks if (g := f if f.isalnum() else _word_part(f))]
                    for toks in map(str.split, map(parse, texts)))

        plain.block = plain_block
        plain.joined, plain.clean = plain_joined, _ja_clean
        plain.mecab = _mecab()  # the corpus pass in compiled code, where it can be made
        return plain
    tagger = _tagger()
    keep = _JA_CONTENT

    def analyze(text: str) -> list[str]:
        out = []
        append = out.append
        for node in tagger(text):
            form = node.surface
            if not form.isalnum():
                form = _word_part(form)
                if not form:
                    continue
            pos = node.pos.split(",", 1)[0]
            if content and pos not in keep:
                continue
            append(f"{form}/{pos}" if tags else form)
        return out

    return analyze


def _letters(word: str) -> bool:
    """Whether a piece of jieba's output is letters (or digits) of no Han character."""
    return word.isalnum() and not _HAN(word)


def _rejoined(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """jieba's (word, flag) pairs with adjacent letter pieces joined where one of the two holds a
    letter of a script jieba cuts one by one (``caf`` + ``é``, ``아`` + ``이``); ASCII and kana pieces
    stay as jieba cut them. Adjacent in its output means adjacent in the text, as jieba gives white
    space as a piece of its own. A joined word is flagged ``eng``, jieba's flag for a Latin word."""
    out: list[tuple[str, str]] = []
    for word, flag in pairs:
        prev = out[-1][0] if out else ""
        if prev and _letters(word) and _letters(prev) and (_ZH_OTHER(word) or _ZH_OTHER(prev)):
            out[-1] = (prev + word, "eng")
        else:
            out.append((word, flag))
    return out


def _zh_cut(jieba):
    """jieba's plain cut, with letters of other scripts kept together as words (``_rejoined``)."""
    cut = jieba.lcut

    def words(text: str) -> list[str]:
        found = cut(text)
        return [w for w, _ in _rejoined([(w, "") for w in found])] if _ZH_OTHER(text) else found

    return words


def _zh_pairs(posseg):
    """jieba's cut with flags (``posseg``), letters of other scripts kept together (``_rejoined``)."""

    def pairs(text: str) -> list[tuple[str, str]]:
        found = [(p.word, p.flag) for p in posseg.cut(text)]
        return _rejoined(found) if _ZH_OTHER(text) else found

    return pairs


def _pairs_zh(tags: bool):
    jieba = _jieba()
    posseg = importlib.import_module("jieba.posseg")
    function = _ZH_FUNCTION
    if tags:
        cut_tagged = _zh_pairs(posseg)

        def tagged(text: str) -> list[tuple[str, bool]]:
            return [
                (f"{word}/{flag}", flag[:1] not in function)
                for word, flag in cut_tagged(text)
                if word.isalnum() or _HAS_WORD(word)
            ]

        return tagged
    # Cut as the corpus was (plain cut); the words' flags come from the dictionary.
    cut, flags = _zh_cut(jieba), posseg.dt.word_tag_tab

    def analyze(text: str) -> list[tuple[str, bool]]:
        words = [w for w in cut(text) if w.isalnum() or _HAS_WORD(w)]
        return [(w, flags.get(w, "n")[:1] not in function) for w in words]

    return analyze


def _zh_clean(word: str) -> str:
    """A word of jieba's as a corpus keeps it: itself when it has a word character, else ""."""
    return word if word.isalnum() or _HAS_WORD(word) else ""


def _tokens_zh(content: bool, tags: bool):
    jieba = _jieba()
    # jieba's words never hold white space (it cuts at it), so no _clean here.
    if not (content or tags):
        cut = _zh_cut(jieba)

        def plain(text: str) -> list[str]:
            return [w for w in cut(text) if w.isalnum() or _HAS_WORD(w)]

        def plain_block(texts: list[str]) -> Iterator[list[str]]:
            return ([w for w in toks if w.isalnum() or _HAS_WORD(w)] for toks in map(cut, texts))

        def plain_joined(texts: list[str]) -> list[str]:
            return list(map(" ".join, map(cut, texts)))  # white space jieba cuts out is dropped as a token

        plain.block = plain_block
        plain.joined, plain.clean = plain_joined, _zh_clean
        return plain
    posseg = importlib.import_module("jieba.posseg")
    function = _ZH_FUNCTION

    cut_tagged = _zh_pairs(posseg)

    def analyze(text: str) -> list[str]:
        out = []
        append = out.append
        for word, flag in cut_tagged(text):
            if content and flag[:1] in function:
                continue
            if word.isalnum() or _HAS_WORD(word):
                append(f"{word}/{flag}" if tags else word)
        return out

    return analyze


_TOKENS = {"ko": _tokens_ko, "ja": _tokens_ja, "zh": _tokens_zh}
_PAIRS = {"ko": _pairs_ko, "ja": _pairs_ja, "zh": _pairs_zh}


def make_splitter(language: str, pos_filter: str, tags: bool, lowercase: bool) -> Callable[[str], list[str]]:
    """A function from one line of text to its tokens (the corpus tokenizer of ``language``)."""
    analyze = _TOKENS[language](pos_filter == "content", tags)
    limit = PIECE_CHARS

    def split(line: str) -> list[str]:
        text = prepare_text(line, lowercase)
        if len(text) <= limit:
            return analyze(text)
        return [t for piece in pieces(text, limit) for t in analyze(piece)]

    analyze_block = getattr(analyze, "block", None)

    def split_block(lines: list[str]) -> Iterator[list[str]]:
        """The tokens of each line of a block, line by line (an iterator)."""
        texts = prepare_lines(lines, lowercase)
        if not texts or max(map(len, texts)) <= limit:
            return analyze_block(texts) if analyze_block is not None else map(analyze, texts)
        return (analyze(text) if len(text) <= limit else [t for piece in pieces(text, limit) for t in analyze(piece)]
                for text in texts)

    # The corpus pass tokenizes blocks of lines (see embcli.tokenize.block_tokenizer).
    split.block = split_block
    analyze_joined = getattr(analyze, "joined", None)
    if analyze_joined is not None:

        def joined_block(lines: list[str]) -> list[str] | None:
            """Each line's tokens as one string, space-separated and not yet cleaned (``analyze.clean``);
            None when a line is too long for one call of the analyzer."""
            texts = prepare_lines(lines, lowercase)
            if texts and max(map(len, texts)) > limit:
                return None
            return analyze_joined(texts)

        # (lines -> joined tokens or None, token -> token kept or ""): see embcli.token_counts.
        split.joined = (joined_block, analyze.clean)
    if getattr(analyze, "mecab", None) is not None:
        from embcli.wakati import BlockCounter

        # The corpus pass's counting tokenizer (see embcli.wakati): one table for the process's blocks.
        split.counter = BlockCounter(analyze.mecab, analyze.clean, lambda lines: prepare_lines(lines, lowercase))
    return split


@lru_cache(maxsize=8)
def _query_analyzer(language: str, tags: bool):
    # Queries see every morpheme with its content flag, whatever the model's filter.
    return _PAIRS[language](tags)


def analyze_query(word: str, language: str, tags: bool, lowercase: bool) -> tuple[str, list[str]]:
    """The vocabulary word a query stands for, and every token the analyzer made of it.

    One token: that token. Several: the first content morpheme (``임베딩은`` is ``임베딩 은``:
    the noun, without its particle), or the first token when none is a content morpheme. A query
    written as the model writes tagged tokens (``먹/VV``) is taken as it is.
    """
    text = prepare_text(word, False).strip()
    if tags and "/" in text and " " not in text:
        form, tag = text.rsplit("/", 1)
        text = f"{form.casefold() if lowercase else form}/{tag}"
        return text, [text]
    if lowercase:
        text = text.casefold()
    if not text:
        return text, []
    pairs = [p for piece in pieces(text) for p in _query_analyzer(language, tags)(piece)]
    if not pairs:
        return text, []
    tokens = [t for t, _ in pairs]
    if len(pairs) == 1:
        return tokens[0], tokens
    content = [t for t, c in pairs if c]
    return (content[0] if content else tokens[0]), tokens
