"""Pruning for ``emb compress``: the N most frequent words (``--max-vocab``) and the N most useful
fastText n-gram rows (``--prune-ngrams``).

A fastText model's vocabulary vectors already hold their n-grams (they are composed when the model is
written), so pruning n-gram rows changes only the vectors of words the model never saw. Which rows to
keep is measured, not guessed: each criterion ranks the buckets and keeps the top N, and the one whose
unseen words stay closest to the original model wins:

- ``words``: how many vocabulary words use the bucket (what unseen words built from the same stems
  and affixes will need);
- ``counts``: the same, each word weighted by its corpus count;
- ``norm``: the row's length (rows that move a mean the most).

Unseen words are made from the vocabulary, the way real out-of-vocabulary words arise: inflections,
dropped, doubled and swapped letters of sampled words (seeded), kept only when the model does not
know them. The cosine between each one's pruned and original vector is reported (median and 10th
percentile); a word none of whose n-grams was kept counts as 0.
"""

from __future__ import annotations

import copy

import numpy as np

from embcli.errors import UsageError
from embcli.folder import ModelFolder
from embcli.folder.storage import StoredRows

CRITERIA = ("words", "counts", "norm")
UNSEEN = 1000
SUFFIXES = ("s", "ed", "ing", "er", "ly", "ness", "less", "ish")


def truncated(model: ModelFolder, n: int) -> ModelFolder:
    """``model`` limited to its ``n`` first (most frequent) words: no row is copied."""
    if n < 2:
        raise UsageError(f"--max-vocab {n}: keep at least 2 words")
    if n >= model.vocab_size:
        raise UsageError(f"--max-vocab {n} keeps every word of the {model.vocab_size:,}-word model: give a smaller N")
    vectors = model.vectors
    if isinstance(vectors, StoredRows):
        per_row = {"vectors", "codes", "scales"}
        vectors = StoredRows(vectors.kind, {k: (v[:n] if k in per_row else v) for k, v in vectors.parts.items()},
                             (n, vectors.shape[1]))
    else:
        vectors = vectors[:n]
    data = model._vocab_bytes
    end = int(np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)[n - 1]) + 1
    twin = copy.copy(model)
    for cached in ModelFolder.VOCAB_CACHES:
        twin.__dict__.pop(cached, None)
    counts = model.counts
    twin.__dict__.update(vectors=vectors, norms=np.asarray(model.norms[:n]), vocab_size=n, _vocab_bytes=data[:end],
                         _vocab_map=data[:end],
                         counts=None if counts is None else counts[:n], _index=None, _searches=0)
    return twin


def unseen_words(model: ModelFolder, count: int = UNSEEN, seed: int = 0) -> list[str]:
    """``count`` words the model does not know, made from its own words (seeded)."""
    rng = np.random.default_rng(seed)
    words = [w for w in model.words if len(w) >= 4 and w.isalpha()] or [w for w in model.words if len(w) >= 2]
    if not words:
        return []
    known = model.build_index()
    out: list[str] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < count and tries < 20 * count:
        tries += 1
        w = words[int(rng.integers(len(words)))]
        i = int(rng.integers(1, len(w) - 1)) if len(w) > 2 else 1
        kind = int(rng.integers(4))
        if kind == 0:
            new = w + SUFFIXES[int(rng.integers(len(SUFFIXES)))]
        elif kind == 1:
            new = w[:i] + w[i + 1 :]
        elif kind == 2:
            new = w[:i] + w[i] + w[i:]
        else:
            new = w[: i - 1] + w[i] + w[i - 1] + w[i + 1 :] if i >= 1 else w[::-1]
        if new not in known and new not in seen:
            seen.add(new)
            out.append(new)
    return out


def _bucket_ids(model: ModelFolder, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from embcli.subword_kernels import ngram_buckets_block

    ft = model.meta["fasttext"]
    return ngram_buckets_block(words, int(ft["minn"]), int(ft["maxn"]), int(model.ngrams.shape[0]))


def ranking(model: ModelFolder, criterion: str) -> np.ndarray:
    """A score per bucket (higher is kept first) by ``criterion``."""
    grams = model.ngrams
    buckets = grams.shape[0]
    if criterion == "norm":
        out = np.empty(buckets, dtype=np.float64)
        for s in range(0, buckets, 1 << 16):
            block = np.asarray(grams[s : s + (1 << 16)], dtype=np.float32)
            out[s : s + len(block)] = np.sqrt(np.einsum("ij,ij->i", block, block))
        return out
    ids, lengths = _bucket_ids(model, model.words)
    weights = None
    if criterion == "counts" and model.counts is not None:
        weights = np.repeat(np.asarray(model.counts, dtype=np.float64), lengths)
    return np.bincount(ids, weights=weights, minlength=buckets).astype(np.float64)


def top_buckets(score: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` best buckets by ``score`` (ties: the lower bucket), sorted by bucket id."""
    order = np.lexsort((np.arange(len(score)), -score))
    return np.sort(order[:n]).astype(np.int64)


def unseen_cosines(model: ModelFolder, words: list[str], kept: np.ndarray) -> np.ndarray:
    """The cosine between each word's vector from the kept n-gram rows and from all of them."""
    if not words:
        return np.zeros(0)
    ids, lengths = _bucket_ids(model, words)
    rows = np.asarray(model.ngrams[ids], dtype=np.float64)
    keep = np.isin(ids, kept)
    owner = np.repeat(np.arange(len(words)), lengths)
    full = np.zeros((len(words), rows.shape[1]))
    part = np.zeros_like(full)
    np.add.at(full, owner, rows)
    np.add.at(part, owner[keep], rows[keep])
    denom = np.linalg.norm(full, axis=1) * np.linalg.norm(part, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(denom > 0, np.einsum("ij,ij->i", full, part) / denom, 0.0)
    return cos


def choose_ngrams(model: ModelFolder, n: int, by: str = "auto", seed: int = 0,
                  unseen: int = UNSEEN) -> tuple[np.ndarray, dict]:
    """The ``n`` n-gram buckets to keep and the report: per criterion tried, the median and 10th
    percentile cosine of ``unseen`` made-up unseen words to the original model; ``by`` the chosen one."""
    grams = model.ngrams
    if grams is None or not model.meta.get("fasttext"):
        raise UsageError(f"--prune-ngrams is for fastText models: model {model.name!r} has no character n-grams")
    buckets = grams.shape[0]
    if n < 1:
        raise UsageError(f"--prune-ngrams {n}: keep at least 1 n-gram row")
    stored = getattr(grams, "stored_rows", buckets)
    if n >= stored:
        raise UsageError(f"--prune-ngrams {n} keeps all {stored:,} n-gram rows of model {model.name!r}: give a smaller N")
    if by != "auto" and by not in CRITERIA:
        raise UsageError(f"unknown --prune-by {by!r}: use auto, {', '.join(CRITERIA)}")
    words = unseen_words(model, unseen, seed)
    present = getattr(grams, "kept", None)
    tried: dict[str, dict] = {}
    best = None
    for criterion in CRITERIA if by == "auto" else (by,):
        score = ranking(model, criterion)
        if present is not None:  # an already pruned model: only its kept buckets can be kept
            mask = np.zeros(buckets, dtype=bool)
            mask[present] = True
            score = np.where(mask, score, -np.inf)
        kept = top_buckets(score, n)
        cos = unseen_cosines(model, words, kept)
        med = float(np.median(cos)) if len(cos) else None
        tried[criterion] = {"median_cosine": None if med is None else round(med, 4),
                            "p10_cosine": round(float(np.percentile(cos, 10)), 4) if len(cos) else None}
        if best is None or (med or 0) > (tried[best[0]]["median_cosine"] or 0):
            best = (criterion, kept)
    report = {"rows_before": int(stored), "rows_after": int(n), "buckets": int(buckets), "by": best[0],
              "unseen_words": len(words), "criteria": tried,
              "unseen_median_cosine": tried[best[0]]["median_cosine"]}
    return best[1], report
