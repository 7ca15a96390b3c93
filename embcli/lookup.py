"""Query words resolved against a model: its row, or for FastText a vector from character n-grams.

A query is read as training read text: in its normal form, else through the model's tokenizer
(``"King,"`` finds ``king``), with phrases joined as the model's training joined them. ``embcli.query``
and the other question-answering modules take the ``Term`` objects made here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from embcli.errors import DamagedRowError, EmbError, UnknownWordError, UsageError, damaged_rows
from embcli.folder import ModelFolder
from embcli.subwords import oov_vector


@dataclass
class Term:
    """A query word resolved against a model: its row, or for FastText its n-gram vector."""

    text: str
    word: str
    index: int | None
    vector: np.ndarray = field(repr=False)
    norm: float
    #: True when the model's tokenizer changed the query beyond its normal form (``"King,"`` looked
    #: up as ``king``): a program may say what was looked up.
    retokenized: bool = False
    #: True when a morphological model (ko, ja, zh) has the query as written: it was not analysed.
    written: bool = False

    @property
    def oov(self) -> bool:
        """True when the word is not in the vocabulary (its vector comes from character n-grams)."""
        return self.index is None

    def unit(self) -> np.ndarray:
        """The unit vector (float32), from the stored norm for vocabulary words."""
        return (self.vector / np.float32(self.norm)).astype(np.float32, copy=False)

FASTTEXT_HINT = "a FastText model (emb train --algo fasttext) answers unseen words from their letters"


def lookup(model: ModelFolder, text: str) -> Term:
    """Resolve a query word through the model's tokenizer settings; FastText answers unknown words.

    Raises ``UnknownWordError`` for a word the model cannot give a vector for.
    """
    (found,) = lookup_many(model, [text])
    if isinstance(found, EmbError):
        raise found
    return found


def lookup_many(model: ModelFolder, texts: Sequence[str]) -> list[Term | EmbError]:
    """``lookup`` for many words at once (one pass over the vocabulary); failures are returned.

    A query is read as training read text: first in its normal form (the model's case folding and
    Unicode normalisation); when that is not a vocabulary word, through the model's tokenizer, so
    ``"King,"`` finds ``king``. A model trained with phrases joins the tokens as its training text
    was joined (``"New York"`` finds ``new_york``). A query that is still several words is an error
    that says how to ask for them (``emb similar`` averages words; phrase models join them with ``_``).
    """
    check_words(texts, encoding=False)
    unreadable = [i for i, t in enumerate(texts) if not is_utf8(t)]
    if unreadable:  # each such word fails alone, as an unknown word does; the others are answered
        good = [i for i in range(len(texts)) if i not in set(unreadable)]
        out: list[Term | EmbError] = [_not_utf8(t) for t in texts]
        for i, found in zip(good, lookup_many(model, [texts[i] for i in good])):
            out[i] = found
        return out
    written = _as_written(model, texts)
    words = [w if w is not None else model.normalize(t) for t, w in zip(texts, written)]
    # A query that is a vocabulary word exactly as given (" king" imported from a Parquet file, a word
    # only a case-sensitive model has) is that word, whatever its normal form would find.
    changed = [i for i, (t, w) in enumerate(zip(texts, words)) if w != t and written[i] is None and t]
    if changed:
        for i, row in zip(changed, model.index_many([texts[i] for i in changed])):
            if row is not None:
                words[i] = texts[i]
    rows = model.index_many(words)
    # Misses go through the tokenizer; their tokens (and phrases) are looked up in one more pass.
    misses = [i for i, row in enumerate(rows) if row is None and words[i]]
    split = dict(zip(misses, map(_tokenizer(model), (texts[i] for i in misses)))) if misses else {}
    if split and model.phrases is not None:
        # Phrases are joined as training joined them: "new york" is looked up as new_york.
        split = {i: model.phrases.join(tokens) for i, tokens in split.items()}
    asked = sorted({t for tokens in split.values() for t in ([tokens[0]] if len(tokens) == 1 else ["_".join(tokens)])})
    found = dict(zip(asked, model.index_many(asked))) if asked else {}
    out: list[Term | EmbError] = []
    for i, (text, word, row) in enumerate(zip(texts, words, rows)):
        tokens = split.get(i)
        try:
            retokenized = False
            if tokens and len(tokens) == 1 and tokens[0] != word:
                word, row, retokenized = tokens[0], found[tokens[0]], True
            elif tokens and len(tokens) > 1:
                raise _several_words(model, text, tokens, found["_".join(tokens)] is not None)
            term = _term(model, text, word, row)
            term.retokenized = retokenized
            term.written = written[i] is not None
            out.append(term)
        except EmbError as exc:
            out.append(exc)
    return out


def check_words(texts: Sequence, encoding: bool = True) -> None:
    """Refuse a query word that is not a string (bytes, None, a number), or (``encoding``) not UTF-8."""
    for t in texts:
        if not isinstance(t, str):
            raise UsageError(f"a query word must be a string, not {type(t).__name__} ({t!r:.60})")
        if encoding and not is_utf8(t):
            raise _not_utf8(t)


def is_utf8(text: str) -> bool:
    """False for text holding lone surrogates: the bytes of a command-line argument that are not UTF-8."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _not_utf8(text: str) -> UsageError:
    return UsageError(f"the query word {text!r:.60} is not valid UTF-8: give it in UTF-8 (iconv -t UTF-8)")


def _as_written(model: ModelFolder, texts: Sequence[str]) -> list[str | None]:
    """For a morphological model (ko, ja, zh), each query that is a vocabulary word as written (in
    NFKC, case folded if the model folds case): such a word is looked up as it is, not analysed into
    morphemes (the analyzer reads 는 alone as 늘 + ᆫ). None where it is not, and for other models."""
    settings = model.tokenizer
    if not settings.morphological:
        return [None] * len(texts)
    import unicodedata

    plain = [unicodedata.normalize("NFKC", t).strip() for t in texts]
    if settings.lowercase:
        plain = [p.casefold() for p in plain]
    return [p if p and row is not None else None for p, row in zip(plain, model.index_many(plain))]


def _tokenizer(model: ModelFolder):
    from embcli.tokenize import make_tokenizer

    return make_tokenizer(model.tokenizer)


def _several_words(model: ModelFolder, text: str, tokens: list[str], phrase: bool) -> UnknownWordError:
    joined = "_".join(tokens)
    if phrase:
        hint = f"ask for the phrase as {joined!r}"
    else:
        hint = (f"ask for each word, or for their average with `emb similar {' '.join(tokens)}`"
                " (a model trained on phrases joins them with _)")
    return UnknownWordError(f"{text!r} is {len(tokens)} words for model {model.name!r} ({', '.join(tokens)}): {hint}")


def _term(model: ModelFolder, text: str, word: str, index: int | None) -> Term:
    if not word:
        raise UnknownWordError(f"empty query word {text!r}: give a word")
    if index is not None:
        vector, norm = model.vectors[index], float(model.norms[index])
        if not (np.isfinite(norm) and np.isfinite(vector).all()):
            raise damaged_rows(index, word, model.name)
        return Term(text, word, index, vector, norm)
    shown = repr(text) if word == text else f"{text!r} (as {word!r})"
    ft = model.meta.get("fasttext")
    grams = model.ngrams if ft else None
    if grams is None:
        # A case-sensitive model (imported vectors are matched exactly) may hold the word in another case.
        other = next((w for w in dict.fromkeys((word.lower(), word.capitalize(), word.upper()))
                      if w != word and model.index_of(w) is not None), None)
        case = f" (it has {other!r}: its words are matched case for case)" if other else ""
        hint = FASTTEXT_HINT
        if model.meta.get("algorithm") == "fasttext":
            hint = "this fastText model has no character n-grams (trained with maxn 0 or bucket 0) to answer it from"
        err = UnknownWordError(
            f"unknown word {shown}: not among the {model.vocab_size} words of model {model.name!r}{case}; {hint}"
        )
        err.hint = hint  # the part a program answering many queries need say only once
        raise err
    vector = oov_vector(word, grams, int(ft["minn"]), int(ft["maxn"]))
    if vector is None:
        why = (f"model {model.name!r} kept none of its character n-grams when pruned (emb compress --prune-ngrams)"
               if getattr(grams, "kept", None) is not None else f"too short for any character n-gram of model {model.name!r}")
        raise UnknownWordError(f"unknown word {shown}: {why}")
    return Term(text, word, None, vector, float(np.linalg.norm(np.asarray(vector, dtype=np.float64))))


def lookup_groups(model: ModelFolder, groups: Sequence[Sequence[str]]) -> list[list[Term | EmbError]]:
    """``lookup_many`` over the words of several queries, returned query by query."""
    flat = lookup_many(model, [w for g in groups for w in g])
    out, at = [], 0
    for g in groups:
        out.append(flat[at : at + len(g)])
        at += len(g)
    return out


def terms_of(found: list[Term | EmbError], directed: bool) -> list[Term]:
    """The terms of one query, raising its first error (and, if asked, a zero vector's)."""
    for t in found:
        if isinstance(t, EmbError):
            raise t
        if directed:
            check_direction(t)
    return found  # type: ignore[return-value]


def check_direction(term: Term) -> None:
    if not term.norm > 0:
        raise EmbError(f"word {term.text!r} has a zero vector in model: it has no direction to compare")


def names_damage(fn):
    """Re-raise a search's ``DamagedRowError`` naming the model and the row's word."""

    @functools.wraps(fn)
    def wrapper(model: ModelFolder, *args, **kwargs):
        try:
            return fn(model, *args, **kwargs)
        except DamagedRowError as exc:
            try:
                word = model.word_at(exc.row)
            except EmbError:
                word = None
            raise damaged_rows(exc.row, word, model.name) from None

    return wrapper
