"""The numba kernels of FastText: skip-gram and CBOW with negative sampling over a span of word ids.

They follow Facebook fastText's ``FastText::skipgram``, ``FastText::cbow``, ``Model::update`` and
``NegativeSamplingLoss``: the hidden vector is the average of all the input rows of a word (its own
row and its n-gram rows; for CBOW the rows of every context word), each target is scored with
fastText's table of the logistic function over [-8, 8] and 0 or 1 outside it (a wrongly scored
negative is updated in full), the gradient
is added in full to every input row, and the negatives are drawn from a table of count^0.5 and
redrawn when they hit the target. A line is read as fastText's ``Dictionary::getLine`` reads it: up
to and including the end-of-line token, or at most ``max_line + 1`` tokens, each kept with the
probability sqrt(t / f) + t / f before the window is applied.

Threads share the matrices without locks (Hogwild), each in its own call on its own span.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}

# A 64-bit linear congruential generator (Knuth's MMIX constants); the top bits are the output.
_MUL = np.uint64(6364136223846793005)
_INC = np.uint64(1442695040888963407)
_S33 = np.uint64(33)
_S40 = np.uint64(40)
_UNIT = np.float32(1.0 / (1 << 24))
# fastText's Loss: the logistic function from a table of SIGMOID_TABLE + 1 values over
# [-MAX_SIGMOID, MAX_SIGMOID], 0 and 1 outside it.
SIGMOID_TABLE = 512
MAX_SIGMOID = 8


@njit(cache=True, nogil=True)
def sigmoid_table():
    """fastText's table of the logistic function: 513 values over [-8, 8], read rounding down."""
    out = np.empty(SIGMOID_TABLE + 1, dtype=np.float32)
    for i in range(SIGMOID_TABLE + 1):
        x = np.float32(i * 2 * MAX_SIGMOID) / np.float32(SIGMOID_TABLE) - np.float32(MAX_SIGMOID)
        out[i] = np.float32(1.0 / (1.0 + np.exp(-np.float64(x))))
    return out


@njit(cache=True, nogil=True, inline="always")
def _next(state):
    return state * _MUL + _INC


@njit(cache=True, nogil=True, fastmath=FAST)
def _update(wi, wo, rows, nrows, target, negs, sigmoid, neg, lr, hidden, grad, state):
    """One ``Model::update``: hidden = mean of the ``rows`` of ``wi``; score target and negatives.

    Returns the new random state.
    """
    dim = wi.shape[1]
    for d in range(dim):
        hidden[d] = 0.0
        grad[d] = 0.0
    for k in range(nrows):
        r = wi[rows[k]]
        for d in range(dim):
            hidden[d] += r[d]
    scale = np.float32(1.0) / np.float32(nrows)
    for d in range(dim):
        hidden[d] *= scale
    ntable = np.uint64(negs.shape[0])
    for n in range(neg + 1):
        if n == 0:
            t = target
            label = np.float32(1.0)
        else:
            while True:
                state = _next(state)
                t = negs[np.int64((state >> _S33) % ntable)]
                if t != target:
                    break
            label = np.float32(0.0)
        o = wo[t]
        dot = np.float32(0.0)
        for d in range(dim):
            dot += hidden[d] * o[d]
        if dot > MAX_SIGMOID:
            score = np.float32(1.0)
        elif dot >= -MAX_SIGMOID:
            score = sigmoid[np.int64((dot + MAX_SIGMOID) * (SIGMOID_TABLE / MAX_SIGMOID / 2))]
        else:  # below the table, or not a number after a divergence: never an index out of range
            score = np.float32(0.0)
        alpha = lr * (label - score)
        for d in range(dim):
            grad[d] += alpha * o[d]
            o[d] += alpha * hidden[d]
    for k in range(nrows):
        r = wi[rows[k]]
        for d in range(dim):
            r[d] += grad[d]
    return state


@njit(cache=True, nogil=True, fastmath=FAST)
def train_span(
    ids, wi, wo, sub_off, sub_rows, keep, negs, sigmoid, most, eos, cbow, ws, neg, max_line,
    lr0, lr_min, done_before, total, rng, slot,
):
    """Train on the word ids ``ids`` (vocabulary ids and ``eos`` at line ends); return tokens read.

    ``sub_off``/``sub_rows``: the input rows of word i are ``sub_rows[sub_off[i]:sub_off[i + 1]]``
    (its own row first, then its n-gram rows), at most ``most`` of them. ``keep[i]``: the probability
    of keeping word i. ``sigmoid``: ``sigmoid_table()``, made once by the caller.
    The end-of-line token is a word of the line, as in fastText. The learning rate falls linearly from ``lr0`` to ``lr_min`` over ``total``
    tokens, of which ``done_before`` were read before this call (by every thread). ``rng[slot]``
    holds this thread's random state, read at the start and written back at the end.
    """
    dim = wi.shape[1]
    hidden = np.empty(dim, dtype=np.float32)
    grad = np.empty(dim, dtype=np.float32)
    line = np.empty(max_line + 2, dtype=np.int32)
    bow = np.empty(2 * ws * most, dtype=np.int32)
    state = rng[slot]
    n = ids.shape[0]
    p = 0
    read = 0
    span = np.float32(lr0 - lr_min)
    while p < n:
        nl = 0
        count = 0
        while p < n:
            w = ids[p]
            p += 1
            count += 1
            state = _next(state)
            if np.float32(state >> _S40) * _UNIT < keep[w]:
                line[nl] = w
                nl += 1
            if w == eos or count > max_line:
                break
        read += count
        progress = min((done_before + read) / total, 1.0)
        lr = np.float32(lr0) - span * np.float32(progress)
        for w in range(nl):
            state = _next(state)
            boundary = 1 + np.int64((state >> _S33) % np.uint64(ws))
            lo = max(0, w - boundary)
            hi = min(nl, w + boundary + 1)
            if cbow:
                nb = 0
                for c in range(lo, hi):
                    if c == w:
                        continue
                    word = line[c]
                    for k in range(sub_off[word], sub_off[word + 1]):
                        bow[nb] = sub_rows[k]
                        nb += 1
                if nb > 0:
                    state = _update(wi, wo, bow, nb, line[w], negs, sigmoid, neg, lr, hidden, grad, state)
            else:
                word = line[w]
                rows = sub_rows[sub_off[word] : sub_off[word + 1]]
                for c in range(lo, hi):
                    if c == w:
                        continue
                    state = _update(wi, wo, rows, rows.shape[0], line[c], negs, sigmoid, neg, lr, hidden, grad, state)
    rng[slot] = state
    return read


@njit(cache=True, nogil=True)
def word_vectors(wi, sub_off, sub_rows, vocab, out):
    """fastText's word vectors: the mean of each word's input rows (its own and its n-grams')."""
    dim = wi.shape[1]
    for i in range(vocab):
        a = sub_off[i]
        b = sub_off[i + 1]
        for d in range(dim):
            out[i, d] = 0.0
        for k in range(a, b):
            r = wi[sub_rows[k]]
            for d in range(dim):
                out[i, d] += r[d]
        scale = np.float32(1.0) / np.float32(b - a)
        for d in range(dim):
            out[i, d] *= scale


@njit(cache=True, nogil=True)
def negative_table(weights, size):
    """fastText's table of negatives: word i fills ceil(weights[i] * size / sum) slots."""
    z = weights.sum()
    total = 0
    for i in range(weights.shape[0]):
        total += np.int64(np.ceil(weights[i] * size / z))
    out = np.empty(total, dtype=np.int32)
    k = 0
    for i in range(weights.shape[0]):
        m = np.int64(np.ceil(weights[i] * size / z))
        for j in range(m):
            out[k] = i
            k += 1
    return out


@njit(cache=True, nogil=True)
def init_uniform(m, bound, seed):
    """Fill ``m`` with uniform values in [-bound, bound) from a seeded generator."""
    state = np.uint64(seed) * _MUL + _INC
    flat = m.reshape(-1)
    b = np.float32(bound)
    for i in range(flat.shape[0]):
        state = _next(state)
        flat[i] = (np.float32(state >> _S40) * _UNIT * np.float32(2.0) - np.float32(1.0)) * b
