"""numba kernels of phrase detection (``embcli.phrasing``): counting words and pairs, joining pairs.

Tokens are word ids (int32); sentences are ranges of an ids array given by offsets. A pair is the
words ``a`` and ``b`` with the connector words between them (none unless connector words are on),
keyed by two int64: ``a << 32 | b`` and the code of the connectors between (0 for none; each
connector is a digit of base ``n_connectors + 1``; a run too long for 62 bits is hashed instead).
Pair counts live in an open-addressing table (``keys1`` -1 marks a free slot), grown by the caller.

``state`` holds the counting state between chunks: live words, live pairs, the next pruning
threshold (gensim's ``min_reduce``), the words seen (gensim's ``corpus_word_count``, connector words
included) and the used slots.
"""

from __future__ import annotations

import math

import numba
import numpy as np

LIVE_WORDS, LIVE_PAIRS, MIN_REDUCE, TOTAL_WORDS, USED = range(5)
STATE_SIZE = 5
# The table is grown (by the caller) before it is more than this full.
MAX_LOAD = 0.6
_HASHED = np.int64(1) << np.int64(62)


def new_table(capacity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empty pair table arrays (keys1, keys2, counts) of ``capacity`` slots (a power of two)."""
    return (np.full(capacity, -1, dtype=np.int64), np.zeros(capacity, dtype=np.int64),
            np.zeros(capacity, dtype=np.int64))


@numba.njit(cache=True, nogil=True, inline="always")
def _slot(keys1, keys2, k1, k2):
    """The slot holding (k1, k2), or the free slot where it would go."""
    mask = len(keys1) - 1
    h = (k1 * np.int64(-7046029254386353131)) ^ (k2 * np.int64(-4658895280553007687))
    h ^= h >> np.int64(29)
    i = h & mask
    while True:
        k = keys1[i]
        if k == -1 or (k == k1 and keys2[i] == k2):
            return i
        i = (i + 1) & mask


@numba.njit(cache=True, nogil=True, inline="always")
def _extend(code, c, base, limit):
    """The connector code with one more connector ``c`` (1-based) appended."""
    if code < limit:
        return code * base + c
    # Too many connectors in a row for exact digits: hash them (flagged by bit 62).
    return ((code * np.int64(1000003) + c) & (_HASHED - 1)) | _HASHED


@numba.njit(cache=True, nogil=True)
def rehash(keys1, keys2, counts, new1, new2, newc):
    """Move every pair of one table into another (empty, larger) one."""
    for i in range(len(keys1)):
        if keys1[i] != -1:
            j = _slot(new1, new2, keys1[i], keys2[i])
            new1[j] = keys1[i]
            new2[j] = keys2[i]
            newc[j] = counts[i]


@numba.njit(cache=True, nogil=True)
def _prune(words, keys1, keys2, counts, state):
    """gensim's ``prune_vocab``: forget the words and pairs seen fewer than ``min_reduce`` times."""
    floor = state[MIN_REDUCE]
    for w in range(len(words)):
        if 0 < words[w] < floor:
            words[w] = 0
            state[LIVE_WORDS] -= 1
    kept = 0
    for i in range(len(keys1)):
        if keys1[i] != -1 and counts[i] >= floor:
            kept += 1
    k1s = np.empty(kept, dtype=np.int64)
    k2s = np.empty(kept, dtype=np.int64)
    cs = np.empty(kept, dtype=np.int64)
    n = 0
    for i in range(len(keys1)):
        if keys1[i] != -1 and counts[i] >= floor:
            k1s[n] = keys1[i]
            k2s[n] = keys2[i]
            cs[n] = counts[i]
            n += 1
        keys1[i] = -1
        keys2[i] = 0
        counts[i] = 0
    for n in range(kept):
        j = _slot(keys1, keys2, k1s[n], k2s[n])
        keys1[j] = k1s[n]
        keys2[j] = k2s[n]
        counts[j] = cs[n]
    state[LIVE_PAIRS] = kept
    state[USED] = kept
    state[MIN_REDUCE] += 1


@numba.njit(cache=True, nogil=True)
def learn(ids, offsets, first, connector, base, words, keys1, keys2, counts, state, max_vocab):
    """Count words and pairs of sentences ``first``.. as gensim's ``Phrases._learn_vocab`` does.

    ``connector[w]`` is 0 for an ordinary word, else its 1-based connector number (below ``base``,
    the number of connector words + 1). After each
    sentence, more than ``max_vocab`` live words and pairs prune the table (gensim's rule). Returns
    the sentence to resume from: the number of sentences when done, earlier when the table must grow.
    """
    limit = (_HASHED - 1) // base
    room = np.int64(len(keys1) * MAX_LOAD)
    for s in range(first, len(offsets) - 1):
        lo, hi = offsets[s], offsets[s + 1]
        if state[USED] + (hi - lo) > room:
            return s
        start = -1
        code = np.int64(0)
        for t in range(lo, hi):
            w = ids[t]
            c = connector[w]
            if c == 0:
                if words[w] == 0:
                    state[LIVE_WORDS] += 1
                words[w] += 1
                if start >= 0:
                    k1 = (np.int64(start) << np.int64(32)) | np.int64(w)
                    j = _slot(keys1, keys2, k1, code)
                    if keys1[j] == -1:
                        keys1[j] = k1
                        keys2[j] = code
                        state[LIVE_PAIRS] += 1
                        state[USED] += 1
                    counts[j] += 1
                start = w
                code = 0
            elif start >= 0:
                code = _extend(code, np.int64(c), base, limit)
            state[TOTAL_WORDS] += 1
        if state[LIVE_WORDS] + state[LIVE_PAIRS] > max_vocab:
            _prune(words, keys1, keys2, counts, state)
    return len(offsets) - 1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _score(a, b, pair, npmi, min_count, len_vocab, total_words):
    """gensim's ``original_scorer`` or ``npmi_scorer``, in the same float operations."""
    if npmi:
        if pair < min_count:
            return -np.inf
        pa = a / float(total_words)
        pb = b / float(total_words)
        pab = pair / float(total_words)
        return math.log(pab / (pa * pb)) / -math.log(pab)
    return float(pair - min_count) / float(a * b) * float(len_vocab)


@numba.njit(cache=True, nogil=True)
def score_slot(words, keys1, keys2, counts, i, npmi, min_count, len_vocab, total_words):
    """The score of the pair in slot ``i``, or -inf for a pair of a forgotten word."""
    a = words[keys1[i] >> np.int64(32)]
    b = words[keys1[i] & np.int64(0xFFFFFFFF)]
    if a <= 0 or b <= 0 or counts[i] <= 0:
        return -np.inf
    return _score(a, b, counts[i], npmi, min_count, len_vocab, total_words)


@numba.njit(cache=True, nogil=True)
def phrase_slots(words, keys1, keys2, counts, npmi, min_count, threshold, len_vocab, total_words):
    """The slots of the pairs that score above ``threshold`` (gensim's ``export_phrases``), and their scores."""
    n = 0
    out = np.empty(len(keys1), dtype=np.int64)
    scores = np.empty(len(keys1), dtype=np.float64)
    for i in range(len(keys1)):
        if keys1[i] != -1:
            s = score_slot(words, keys1, keys2, counts, i, npmi, min_count, len_vocab, total_words)
            if s > threshold:
                out[n] = i
                scores[n] = s
                n += 1
    return out[:n], scores[:n]


@numba.njit(cache=True, nogil=True)
def apply(ids, offsets, connector, base, words, keys1, keys2, counts, phrase_id, npmi, min_count, threshold,
          len_vocab, total_words, next_id, new_at, out_ids, out_offsets):
    """Join the phrases of each sentence as gensim's ``analyze_sentence`` does (greedy, left to right).

    A phrase is emitted as the id ``phrase_id[slot]``, assigned from ``next_id`` at its first
    occurrence (``new_at`` gets the span of ``ids`` it covers there, for the caller to spell it).
    Returns (tokens written, the next free phrase id, phrases new in this chunk).
    """
    limit = (_HASHED - 1) // base
    n = 0
    fresh = 0
    out_offsets[0] = 0
    for s in range(len(offsets) - 1):
        lo, hi = offsets[s], offsets[s + 1]
        start = -1  # position of the candidate's first word, -1 for none
        code = np.int64(0)
        for t in range(lo, hi):
            w = ids[t]
            c = connector[w]
            if c != 0:
                if start >= 0:
                    code = _extend(code, np.int64(c), base, limit)
                else:
                    out_ids[n] = w
                    n += 1
                continue
            if start < 0:
                start = t
                code = 0
                continue
            a = ids[start]
            joined = False
            if words[a] > 0 and words[w] > 0:
                k1 = (np.int64(a) << np.int64(32)) | np.int64(w)
                j = _slot(keys1, keys2, k1, code)
                if keys1[j] != -1 and counts[j] > 0:
                    score = _score(words[a], words[w], counts[j], npmi, min_count, len_vocab, total_words)
                    if score > threshold:
                        if phrase_id[j] < 0:
                            phrase_id[j] = next_id
                            next_id += 1
                            new_at[fresh, 0] = start
                            new_at[fresh, 1] = t + 1
                            fresh += 1
                        out_ids[n] = phrase_id[j]
                        n += 1
                        joined = True
            if joined:
                start = -1
            else:
                for u in range(start, t):
                    out_ids[n] = ids[u]
                    n += 1
                start = t
            code = 0
        if start >= 0:
            for u in range(start, hi):
                out_ids[n] = ids[u]
                n += 1
        out_offsets[s + 1] = n
    return n, next_id, fresh
