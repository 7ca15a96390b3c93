"""The numba kernels of Word2Vec: skip-gram and CBOW with negative sampling over a span of word ids.

They follow word2vec.c and gensim (``word2vec_inner.pyx``), not fastText: a line's words are
subsampled first (word w kept with probability (sqrt(f / t) + 1) * t / f, f its share of the
vocabulary's tokens) and the window is then applied to the words kept, shrunk for each centre word
to a random reach of 1..window; in skip-gram each context word's input row predicts the centre
word, in CBOW the mean of the context rows does; the logistic function comes from a table of 1,000
values over [-6, 6] and a score outside that range is not updated at all; a negative that hits the
target is skipped, not redrawn. Negatives follow count^ns_exponent exactly, drawn in constant time
from an alias table (gensim bisects a cumulative table; the distribution is the same).

The random generator, the matrix initialisation and the table of the logistic function's shape are
those of the FastText kernels; threads share the matrices without locks, each in its own call.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from embcli.training.fasttext.kernels import _S40, _UNIT, FAST, _next

_S32 = np.uint64(32)
_MASK32 = np.uint64(0xFFFFFFFF)
# word2vec.c's and gensim's table of the logistic function: EXP_TABLE values over [-MAX_EXP, MAX_EXP].
EXP_TABLE = 1000
MAX_EXP = 6
# The most words of a line after subsampling (gensim's MAX_SENTENCE_LEN); emb's lines are at most this long.
MAX_LINE = 10_000


@njit(cache=True, nogil=True)
def sigmoid_table():
    """word2vec.c's table: exp(x) / (exp(x) + 1) at x = (2 i / 1000 - 1) * 6, read rounding down."""
    out = np.empty(EXP_TABLE, dtype=np.float32)
    for i in range(EXP_TABLE):
        e = np.exp((i / EXP_TABLE * 2.0 - 1.0) * MAX_EXP)
        out[i] = np.float32(e / (e + 1.0))
    return out


@njit(cache=True, nogil=True)
def alias_table(weights):
    """Walker's alias table of ``weights``: slot i keeps i with probability lo32 / 2^32, else gives hi32.

    Packed as uint64 (alias << 32 | threshold), so that a draw reads one slot.
    """
    n = weights.shape[0]
    p = weights.astype(np.float64) * (n / weights.sum())
    alias = np.arange(n).astype(np.uint64)
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    ns = 0
    nl = 0
    for i in range(n):
        if p[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        g = large[nl - 1]
        alias[s] = np.uint64(g)
        p[g] -= 1.0 - p[s]
        if p[g] < 1.0:
            nl -= 1
            small[ns] = g
            ns += 1
    out = np.empty(n, dtype=np.uint64)
    top = 4294967295.0
    for i in range(n):
        q = p[i]
        th = top if q >= 1.0 else min(np.floor(q * 4294967296.0), top)
        out[i] = (alias[i] << _S32) | np.uint64(th)
    # Slots left in either stack after rounding keep themselves.
    for j in range(ns):
        out[small[j]] = (np.uint64(small[j]) << _S32) | np.uint64(top)
    for j in range(nl):
        out[large[j]] = (np.uint64(large[j]) << _S32) | np.uint64(top)
    return out


@njit(cache=True, nogil=True, inline="always")
def _draw(table, state):
    """One negative from the alias table; returns (word, new state)."""
    state = _next(state)
    top = state >> _S32
    slot = (top * np.uint64(table.shape[0])) >> _S32
    entry = table[np.int64(slot)]
    # The low 32 bits of the state are weak in a power-of-two LCG: take the coin from a second step.
    state = _next(state)
    if (state >> _S32) <= (entry & _MASK32):
        return np.int64(slot), state
    return np.int64(entry >> _S32), state


@njit(cache=True, nogil=True, inline="always")
def _score(dot, sigmoid):
    """The table's logistic value, or -1 when ``dot`` is outside (-6, 6) or not a number."""
    if dot > -MAX_EXP and dot < MAX_EXP:
        return sigmoid[np.int64((dot + MAX_EXP) * (EXP_TABLE / MAX_EXP / 2))]
    return np.float32(-1.0)


@njit(cache=True, nogil=True, fastmath=FAST)
def _pair(wi, wo, x, target, table, sigmoid, neg, lr, work, state):
    """gensim's ``fast_sentence_sg_neg`` / the end of its CBOW: ``x`` predicts ``target``.

    ``work`` receives the gradient of ``x``; returns the new random state.
    """
    dim = wi.shape[1]
    for d in range(dim):
        work[d] = 0.0
    for n in range(neg + 1):
        if n == 0:
            t = np.int64(target)
            label = np.float32(1.0)
        else:
            t, state = _draw(table, state)
            if t == target:
                continue
            label = np.float32(0.0)
        o = wo[t]
        dot = np.float32(0.0)
        for d in range(dim):
            dot += x[d] * o[d]
        f = _score(dot, sigmoid)
        if f < 0:
            continue
        g = (label - f) * lr
        for d in range(dim):
            work[d] += g * o[d]
            o[d] += g * x[d]
    return state


@njit(cache=True, nogil=True, fastmath=FAST)
def train_span(ids, wi, wo, keep, table, sigmoid, eos, cbow, ws, neg, lr0, lr_min, done_before, total,
               rng, slot):
    """Train on whole lines of the word ids ``ids`` (``eos`` ends a line); return the ids consumed.

    Stops after the last line end in ``ids`` (or at its end when there is none). ``keep[w]``: the
    probability of keeping word w. The learning rate falls linearly from ``lr0`` to ``lr_min`` over
    ``total`` ids, of which ``done_before`` were consumed before this call (by every thread).
    ``rng[slot]`` holds this thread's random state, read at the start and written back at the end.
    """
    dim = wi.shape[1]
    n = ids.shape[0]
    end = n
    while end > 0 and ids[end - 1] != eos:
        end -= 1
    if end == 0:
        end = n
    work = np.empty(dim, dtype=np.float32)
    hidden = np.empty(dim, dtype=np.float32)
    line = np.empty(MAX_LINE, dtype=np.int32)
    state = rng[slot]
    span = np.float32(lr0 - lr_min)
    p = 0
    while p < end:
        nl = 0
        start = p
        while p < end:
            w = ids[p]
            p += 1
            if w == eos:
                break
            state = _next(state)
            if np.float32(state >> _S40) * _UNIT < keep[w]:
                line[nl] = w
                nl += 1
                if nl == MAX_LINE:
                    break
        progress = min((done_before + p) / total, 1.0)
        lr = max(np.float32(lr0) - span * np.float32(progress), np.float32(lr_min))
        if start == p:
            continue
        for i in range(nl):
            state = _next(state)
            reach = ws - np.int64((state >> _S32) % np.uint64(ws))
            lo = max(0, i - reach)
            hi = min(nl, i + reach + 1)
            if cbow:
                for d in range(dim):
                    hidden[d] = 0.0
                for c in range(lo, hi):
                    if c != i:
                        x = wi[line[c]]
                        for d in range(dim):
                            hidden[d] += x[d]
                count = hi - lo - 1
                if count == 0:
                    continue
                inv = np.float32(1.0) / np.float32(count)
                for d in range(dim):
                    hidden[d] *= inv
                state = _pair(wi, wo, hidden, line[i], table, sigmoid, neg, lr, work, state)
                for c in range(lo, hi):
                    if c != i:
                        x = wi[line[c]]
                        for d in range(dim):
                            x[d] += work[d]
            else:
                for c in range(lo, hi):
                    if c == i:
                        continue
                    x = wi[line[c]]
                    state = _pair(wi, wo, x, line[i], table, sigmoid, neg, lr, work, state)
                    for d in range(dim):
                        x[d] += work[d]
    rng[slot] = state
    return end
