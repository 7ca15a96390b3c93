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
        # emoji are dropped with their variation selectors and keycaps, which start no word
        ("thanks\u2764\ufe0f love\u2764\ufe0fyou #\ufe0f\u20e3 tag \ufe0f", ["thanks", "love", "you", "tag"]),
        # other marks may start a word: Myanmar in the Zawgyi encoding writes the vowel sign first
        ("ေကာင္းေသာ ေန႔ ျမန္မာ", ["ေကာင္းေသာ", "ေန႔", "ျမန္မာ"]),
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
    # Metadata without keep_jamo predates the jamo rule: it keeps NFKC on compatibility jamo.
    assert TokenizerSettings.from_dict({"mode": "unicode", "future_key": 1}) == TokenizerSettings(keep_jamo=False)
    assert TokenizerSettings.from_dict(None) == TokenizerSettings(keep_jamo=False)
    assert TokenizerSettings.from_dict(TokenizerSettings().as_dict()) == TokenizerSettings()


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


# ------------------------------------------------------------------ Hangul compatibility jamo


def _nsmc_jamo_lines() -> list[str]:
    """The NSMC reviews of sample_data that hold Hangul compatibility jamo (ㅋㅋ, ㅠㅠ; 339 of 3,000)."""
    import lzma
    import re
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "sample_data" / "nsmc-3000.txt.xz"
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh if re.search("[\u3131-\u318e]", line)]


JAMO_LINES = _nsmc_jamo_lines()


def test_compatibility_jamo_stay_as_written_and_stand_alone_on_real_reviews():
    assert len(JAMO_LINES) == 339
    assert default(JAMO_LINES[0])[-4:] == ["시네마", "천국이", "있죠", "ㅎㅎ"]
    assert default("일단 피바디가 똑똑한데 귀여움 ㅋㅋ 내용이 좀 난잡해서") == [
        "일단", "피바디가", "똑똑한데", "귀여움", "ㅋㅋ", "내용이", "좀", "난잡해서"]
    # Written against the word before it: split off, as the Korean analyzers do.
    assert default("너무 멋진 마무리였고 감동적이였다ㅠㅠ") == ["너무", "멋진", "마무리였고", "감동적이였다", "ㅠㅠ"]
    # NFKC still applies around them (full-width Latin, compatibility characters).
    assert default("ＡＢＣ ㅋㅋ ﬁne") == ["abc", "ㅋㅋ", "fine"]
    conjoining = [t for line in JAMO_LINES for t in default(line) if any(0x1100 <= ord(c) < 0x1200 for c in t)]
    assert conjoining == []
    for line in JAMO_LINES:
        runs = [t for t in default(line) if all(0x3131 <= ord(c) <= 0x318E for c in t)]
        assert "".join(runs) == "".join(c for c in line if 0x3131 <= ord(c) <= 0x318E)


def test_compatibility_jamo_tokens_are_the_korean_analyzers():
    pytest.importorskip("kiwipiepy")
    import re
    from collections import Counter

    korean = make_tokenizer(TokenizerSettings(mode="ko"))
    only_jamo = re.compile("^[\u3131-\u318e]+$").match
    for line in JAMO_LINES:
        ours = Counter(t for t in default(line) if only_jamo(t))
        kiwi = Counter(t for t in korean(line) if only_jamo(t))
        assert ours == kiwi, line


def test_models_written_before_the_jamo_rule_keep_their_reading():
    old = TokenizerSettings.from_dict({"mode": "unicode", "lowercase": True, "min_token_length": 1})
    assert old.keep_jamo is False
    assert make_tokenizer(old)("귀여움 ㅋㅋ") == ["귀여움", "\u110f\u110f"]  # conjoining jamo, as they were
    assert normalize_word("ㅋㅋ", old) == "\u110f\u110f"
    new = TokenizerSettings()
    assert new.as_dict()["keep_jamo"] is True and TokenizerSettings.from_dict(new.as_dict()) == new
    assert normalize_word("ㅋㅋ", new) == "ㅋㅋ"
    assert "keep_jamo" not in TokenizerSettings(mode="whitespace").as_dict()
