"""The tokenizer: Unicode words, NFKC and case folding, whitespace mode, lengths, long lines."""

from __future__ import annotations

import pytest

from embcli.errors import UsageError
from embcli.tokenize import (
    MAX_SENTENCE_TOKENS,
    TokenizerSettings,
    chunks,
    make_tokenizer,
    normalize_word,
)

default = make_tokenizer(TokenizerSettings())


@pytest.mark.parametrize(
    "line, tokens",
    [
        ("In the beginning, God created the heavens.", ["in", "the", "beginning", "god", "created", "the", "heavens"]),
        ("한국어 텍스트를 토큰화합니다. 서울은 크다!", ["한국어", "텍스트를", "토큰화합니다", "서울은", "크다"]),
        ("東京は日本の首都です。カタカナ、ひらがな", ["東京は日本の首都です", "カタカナ", "ひらがな"]),
        ("Café crème à la façon de Zoë", ["café", "crème", "à", "la", "façon", "de", "zoë"]),
        ("Москва — столица России.", ["москва", "столица", "россии"]),
        ("Don't stop: state-of-the-art rock'n'roll", ["don't", "stop", "state-of-the-art", "rock'n'roll"]),
        ("God’s word", ["god's", "word"]),  # curly apostrophe folded to ASCII
        ("well‐known", ["well-known"]),  # U+2010 hyphen folded to ASCII
        ("'quoted' -dash- trailing- 'x", ["quoted", "dash", "trailing", "x"]),
        ("a--b a''b", ["a", "b", "a", "b"]),
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),  # combining vowel signs keep the word whole
        ("Straße STRASSE", ["strasse", "strasse"]),  # case folding, not just lower()
        ("ＡＢＣ１２３ ﬁne", ["abc123", "fine"]),  # NFKC: full-width forms and ligatures
        ("", []),
        ("  ... !!! ", []),
    ],
)
def test_unicode_default(line, tokens):
    assert default(line) == tokens


def test_nfkc_composes_decomposed_accents():
    decomposed = "cafe\u0301"  # e + combining acute
    assert default(decomposed) == ["café"]
    assert default(decomposed) == default("café")


def test_no_lowercase_keeps_case():
    split = make_tokenizer(TokenizerSettings(lowercase=False))
    assert split("Hello World Ünïcode") == ["Hello", "World", "Ünïcode"]


def test_whitespace_mode_keeps_case_and_punctuation():
    split = make_tokenizer(TokenizerSettings(mode="whitespace"))
    assert split("item_1 Item_2\tB-52!  sku:99\u3000end") == ["item_1", "Item_2", "B-52!", "sku:99", "end"]


def test_whitespace_mode_with_lowercase():
    settings = TokenizerSettings(mode="whitespace", lowercase=True)
    assert make_tokenizer(settings)("Item_1 ITEM_2 Straße") == ["item_1", "item_2", "strasse"]


def test_default_lowercase_depends_on_mode():
    assert TokenizerSettings().lowercase is True
    assert TokenizerSettings(mode="whitespace").lowercase is False


@pytest.mark.parametrize("mode", ["unicode", "whitespace"])
def test_min_token_length(mode):
    split = make_tokenizer(TokenizerSettings(mode=mode, min_token_length=3))
    assert split("a an the ants 한국어 한국") == ["the", "ants", "한국어"]


def test_invalid_settings_are_usage_errors():
    with pytest.raises(UsageError, match="unknown tokenizer mode"):
        TokenizerSettings(mode="regex")
    with pytest.raises(UsageError, match="--min-token-length"):
        TokenizerSettings(min_token_length=0)


def test_settings_round_trip_through_metadata():
    settings = TokenizerSettings(mode="whitespace", lowercase=True, min_token_length=2)
    assert TokenizerSettings.from_dict(settings.as_dict()) == settings
    assert TokenizerSettings.from_dict({"mode": "unicode", "future_key": 1}) == TokenizerSettings()
    assert TokenizerSettings.from_dict(None) == TokenizerSettings()


def test_normalize_word_matches_tokenizer():
    settings = TokenizerSettings()
    for word in ["King", "GOD’S", "ＡＢＣ", "Straße", "cafe\u0301"]:
        assert [normalize_word(word, settings)] == make_tokenizer(settings)(word)
    assert normalize_word("King", TokenizerSettings(lowercase=False)) == "King"
    assert normalize_word("Item_1", TokenizerSettings(mode="whitespace")) == "Item_1"


def test_chunks_split_long_token_lists_without_losing_any():
    tokens = [f"t{i}" for i in range(2 * MAX_SENTENCE_TOKENS + 123)]
    pieces = list(chunks(tokens))
    assert [len(p) for p in pieces] == [MAX_SENTENCE_TOKENS, MAX_SENTENCE_TOKENS, 123]
    assert [t for p in pieces for t in p] == tokens
    assert list(chunks([])) == []


def test_ascii_fast_path_finds_the_same_words():
    import random

    from embcli.tokenize import ASCII_WORD_RE, WORD_RE

    rng = random.Random(0)
    alphabet = "abcXYZ019_'- \t.,;!?\"()-''--"
    for _ in range(3000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
        assert ASCII_WORD_RE.findall(line) == WORD_RE.findall(line), line
        assert default(line) == WORD_RE.findall(line.casefold())


def test_line_that_becomes_ascii_after_folding():
    # A curly apostrophe makes the line non-ASCII; after folding it takes the ASCII path.
    assert default("It’s GOD’S") == ["it's", "god's"]
    assert make_tokenizer(TokenizerSettings(lowercase=False))("It’s GOD’S") == ["It's", "GOD'S"]


def test_non_ascii_punctuation_separates_like_before():
    # Curly quotes, dashes, bullets and CJK punctuation become spaces: never part of a word.
    assert default("“Yes,” he said—“go…” • end") == ["yes", "he", "said", "go", "end"]
    assert default("東京、大阪。«ça» naïve—façade") == ["東京", "大阪", "ça", "naïve", "façade"]
    assert default("rock\u2013roll non\u00a0stop") == ["rock", "roll", "non", "stop"]
