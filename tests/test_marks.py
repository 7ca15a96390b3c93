"""The tokenizer's table of combining marks matches the running Python's Unicode database."""

from __future__ import annotations

import importlib.util
import re
import unicodedata

import pytest

from embcli import _marks
from embcli.tokenize import TokenizerSettings, make_tokenizer
from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "gen_marks.py"
FIX = f"run `python {SCRIPT.relative_to(ROOT)}` and commit embcli/_marks.py"


@pytest.fixture(scope="module")
def gen_marks():
    spec = importlib.util.spec_from_file_location("gen_marks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _code_points(table: str) -> set[int]:
    points: set[int] = set()
    for m in re.finditer(r"(.)(?:-(.))?", table, re.S):
        first, last = m.group(1), m.group(2) or m.group(1)
        points.update(range(ord(first), ord(last) + 1))
    return points


def test_the_committed_table_is_what_this_python_generates(gen_marks):
    source = gen_marks.marks_source()  # the module text the script would write
    fresh: dict = {}
    exec(source, fresh)
    if fresh["MARKS"] != _marks.MARKS:
        added = sorted(_code_points(fresh["MARKS"]) - _code_points(_marks.MARKS))
        removed = sorted(_code_points(_marks.MARKS) - _code_points(fresh["MARKS"]))
        pytest.fail(
            f"embcli/_marks.py (Unicode {_marks.UNICODE_VERSION}) differs from this Python's unicodedata"
            f" (Unicode {unicodedata.unidata_version}): {len(added)} marks missing (first {[hex(c) for c in added[:5]]}),"
            f" {len(removed)} no longer marks (first {[hex(c) for c in removed[:5]]}): {FIX}"
        )
    assert fresh["UNICODE_VERSION"] == _marks.UNICODE_VERSION == unicodedata.unidata_version, FIX
    assert (ROOT / "embcli" / "_marks.py").read_text(encoding="utf-8") == source, (
        f"embcli/_marks.py was edited by hand: {FIX}"
    )


def test_the_table_holds_exactly_the_marks_that_word_characters_miss():
    points = _code_points(_marks.MARKS)
    assert len(points) > 2000
    for cp in points:
        ch = chr(cp)
        # Marks that ``\w`` matches already (some Mc signs are alphabetic) stay out of the table.
        assert unicodedata.category(ch) in ("Mn", "Mc", "Me") and not re.match(r"\w", ch), hex(cp)


def test_words_with_vowel_signs_stay_whole():
    split = make_tokenizer(TokenizerSettings())
    # Devanagari (virama and vowel signs), Thai (above-base vowels, tone marks), a Latin word with a
    # combining acute that NFKC cannot fold into one character.
    assert split("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]
    assert split("สวัสดี ชาวโลก") == ["สวัสดี", "ชาวโลก"]
    assert split("q\u0301uit") == ["q\u0301uit"]
