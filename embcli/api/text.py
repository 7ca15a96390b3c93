"""Queries written as text (word arithmetic, vectors as numbers) and query settings, for a program
that reads queries from a user as ``emb`` does."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from embcli import query as _query
from embcli.errors import UsageError
from embcli.lookup import is_utf8

#: The longest query line a program should accept (characters): far beyond any query or vector of
#: numbers, small enough that a runaway line (a file without line breaks) costs little.
MAX_QUERY_LINE = 1 << 20


def check_query_line(line: str) -> None:
    """Raise ``UsageError`` for a query line longer than ``MAX_QUERY_LINE`` (before splitting it), or
    one with U+FFFD, what bytes that are not UTF-8 become when read (no vocabulary word holds it)."""
    if len(line) > MAX_QUERY_LINE:
        raise UsageError(f"a query line of more than {MAX_QUERY_LINE:,} characters: give one query a line")
    if "\ufffd" in line or not is_utf8(line):
        raise UsageError("the line is not valid UTF-8 (or holds U+FFFD): convert the input, e.g. with"
                         " iconv -f LATIN1 -t UTF-8")


def check_query(k: int = 1, restrict: int | None = None, metric: str = "cosine", method: str = "add") -> None:
    """Raise ``UsageError`` for query settings that no query can use: ``k`` or ``restrict`` below 1,
    an unknown ``metric`` or analogy ``method``. Every query checks them too; a program answering a
    stream of queries calls this first to tell a bad setting from a bad query."""
    _query.check_options(k, restrict, metric, method)


def parse_terms(terms: str | Sequence[str], phrases: bool = False) -> tuple[list[str], list[str]]:
    """Word arithmetic as written on a command line: ``"king -man +woman"`` gives
    ``(["king", "woman"], ["man"])`` for ``most_similar``. A word without a sign is added; a lone
    ``+`` or ``-`` signs the word after it (``king - man + woman``). With ``phrases`` (a model trained
    on phrases), an element of a sequence of several words and no sign stays one term: a quoted
    phrase (``"new york"``), which the model joins as it joined its corpus."""
    if isinstance(terms, str):
        parts = terms.split()
    else:
        parts = []
        for term in terms:
            words = term.split()
            if phrases and len(words) > 1 and not any(w[0] in "+-" for w in words):
                parts.append(" ".join(words))
            else:
                parts.extend(words)
    positive: list[str] = []
    negative: list[str] = []
    sign = None
    for part in parts:
        if part in ("+", "-"):
            if sign is not None:
                raise UsageError(f"a sign {sign!r} followed by {part!r}: write each word after one + or -")
            sign = part
            continue
        if sign is None and part[0] in "+-" and len(part) > 1:
            sign, part = part[0], part[1:]
        (negative if sign == "-" else positive).append(part)
        sign = None
    if sign is not None:
        raise UsageError(f"a {sign!r} at the end with no word after it")
    return positive, negative


def parse_vector(text: str) -> tuple[str | None, np.ndarray]:
    """A vector written as text: numbers separated by spaces or commas, a JSON array, a JSON object
    with a ``vector`` field (``emb vector -f jsonl``) or a TSV row whose last field holds the numbers
    (``emb vector``). Returns (the row's ``query`` or None, the float32 vector)."""
    text = text.strip()
    label = None
    if text.startswith("{"):
        import json

        try:
            row = json.loads(text)
            label, values = row.get("query"), row["vector"]
        except (ValueError, KeyError, AttributeError):
            raise UsageError("a JSON line without a \"vector\" list: give numbers, or emb vector's output") from None
    elif text.startswith("["):
        import json

        try:
            values = json.loads(text)
        except ValueError:
            raise UsageError(f"not a JSON list of numbers: {text[:40]!r}") from None
    else:
        if "\t" in text:
            fields = text.split("\t")
            label, text = fields[0], fields[-1]
        values = text.replace(",", " ").split()
    try:
        with np.errstate(over="ignore"):  # too large for float32: infinite, refused just below
            vector = np.array([float(v) for v in values], dtype=np.float32)
    except (TypeError, ValueError):
        raise UsageError(f"not a vector of numbers: {text[:40]!r}") from None
    if vector.size == 0:
        raise UsageError("an empty vector: give the numbers of the vector")
    return label, vector
