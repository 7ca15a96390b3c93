"""The numba kernels of GloVe: co-occurrence counting, run merging, shuffling and AdaGrad epochs.

They are few on purpose: each one is compiled once and cached on disk (``cache=True``), so only the
first run on a machine pays for compilation. Float arguments are cast to float32 inside the training
kernel so that its loops stay in single precision and vectorize.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

EMPTY = -1
# Stanford's glove clips each gradient component of the vectors to this range (its -grad-clip).
GRAD_CLIP = 100.0
LINE_BREAK = -1
# Multiplicative hashing (Fibonacci) of the packed pair key; the top 32 bits pick the slot.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(32)
# Not "nnan"/"ninf": the solver checks for non-finite values and must keep seeing them.
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}


@njit(cache=True, nogil=True, inline="always")
def _find_slot(keys, key, cap):
    """The slot holding ``key``, or the empty slot where it goes (linear probing)."""
    slot = np.int64(((np.uint64(key) * _GOLDEN) >> _SHIFT) * cap >> _SHIFT)
    while keys[slot] != key and keys[slot] != EMPTY:
        slot += 1
        if slot == keys.shape[0]:
            slot = 0
    return slot


@njit(cache=True, nogil=True)
def count_pairs(ids, pos, line_start, window, vocab, dense, dense_off, dense_len, keys, vals, used, limit):
    """Count the 1/d-weighted pairs of ``ids`` from ``pos`` on; stop before the hash table overflows.

    ``ids`` holds vocabulary ids with ``LINE_BREAK`` between lines (a window never crosses a line).
    A pair (a, b) is counted once with a <= b; pairs of frequent words go to the dense triangle
    (row a holds columns a .. a + dense_len[a] - 1 from dense_off[a]), the others to an
    open-addressing table of int64 keys a * vocab + b. Returns (next position, line start, entries
    used); the next position is ``len(ids)`` when the chunk is done, less when the table is full.
    """
    n = ids.shape[0]
    cap = np.uint64(keys.shape[0])
    rows = dense_len.shape[0]
    p = pos
    while p < n:
        w2 = ids[p]
        if w2 == LINE_BREAK:
            p += 1
            line_start = p
            continue
        if used + window > limit:
            return p, line_start, used
        first = p - window
        if first < line_start:
            first = line_start
        for q in range(first, p):
            w1 = ids[q]
            weight = 1.0 / (p - q)
            a = w1
            b = w2
            if a > b:
                a = w2
                b = w1
            if a < rows and b - a < dense_len[a]:
                dense[dense_off[a] + b - a] += weight
                continue
            key = np.int64(a) * vocab + b
            slot = _find_slot(keys, key, cap)
            if keys[slot] == key:
                vals[slot] += weight
            else:
                keys[slot] = key
                vals[slot] = weight
                used += 1
        p += 1
    return p, line_start, used


@njit(cache=True, nogil=True)
def rehash(keys, vals, n, new_keys, new_vals):
    """Insert the first ``n`` (key, value) pairs of a compacted table into an empty larger one."""
    cap = np.uint64(new_keys.shape[0])
    for i in range(n):
        slot = _find_slot(new_keys, keys[i], cap)
        new_keys[slot] = keys[i]
        new_vals[slot] = vals[i]


@njit(cache=True, nogil=True)
def compact_table(keys, vals):
    """Move the used slots of the table to its front, in slot order; return how many there are."""
    out = 0
    for slot in range(keys.shape[0]):
        if keys[slot] != EMPTY:
            keys[out] = keys[slot]
            vals[out] = vals[slot]
            out += 1
    return out


@njit(cache=True, nogil=True)
def merge_runs(ka, va, kb, vb, ko, vo):
    """Merge two runs sorted by key into (ko, vo), adding the values of equal keys; return the length."""
    i = 0
    j = 0
    o = 0
    na = ka.shape[0]
    nb = kb.shape[0]
    while i < na and j < nb:
        if ka[i] < kb[j]:
            ko[o] = ka[i]
            vo[o] = va[i]
            i += 1
        elif kb[j] < ka[i]:
            ko[o] = kb[j]
            vo[o] = vb[j]
            j += 1
        else:
            ko[o] = ka[i]
            vo[o] = va[i] + vb[j]
            i += 1
            j += 1
        o += 1
    while i < na:
        ko[o] = ka[i]
        vo[o] = va[i]
        i += 1
        o += 1
    while j < nb:
        ko[o] = kb[j]
        vo[o] = vb[j]
        j += 1
        o += 1
    return o


@njit(cache=True, nogil=True)
def shuffle_entries(pairs, xs, seed):
    """Shuffle the entries (rows of ``pairs`` with their ``xs``) in place, Fisher-Yates, seeded."""
    np.random.seed(seed)
    for k in range(xs.shape[0] - 1, 0, -1):
        r = np.random.randint(0, k + 1)
        a = pairs[k, 0]
        b = pairs[k, 1]
        pairs[k, 0] = pairs[r, 0]
        pairs[k, 1] = pairs[r, 1]
        pairs[r, 0] = a
        pairs[r, 1] = b
        x = xs[k]
        xs[k] = xs[r]
        xs[r] = x


@njit(cache=True, parallel=True, fastmath=FAST)
def train_epoch(pairs, xs, params, vocab, dim, x_max, alpha, lr, order, block, shards, costs, updates):
    """One AdaGrad pass over the entries, ``shards`` slices in parallel (Hogwild).

    The entries, shuffled once, are visited in blocks of ``block`` in the block order ``order`` (a
    permutation drawn anew each epoch), so every epoch sees a different sequence at no cost.

    ``params`` rows 0..vocab-1 are word rows and vocab..2*vocab-1 context rows; a row holds the
    vector in columns 0..dim-1, the bias in column dim, then from column ``half`` the squared
    gradient sums of the same layout, less their starting value 1: squared steps are tiny next to 1,
    and float32 keeps them only when they are summed from 0. An entry (a, b, x) fits word row a to
    context row b; X[b, a] is an entry of its own, elsewhere in the shuffled order. The step is that
    of Stanford's current glove.c: vector gradients clipped to +-GRAD_CLIP and scaled by ``lr``,
    biases stepping without it. Threads share ``params`` without locks as Stanford's glove does.
    Per-shard cost and update counts land in ``costs`` and ``updates``.
    """
    half = params.shape[1] // 2
    n = xs.shape[0]
    xm = np.float32(x_max)
    al = np.float32(alpha)
    eta = np.float32(lr)
    one = np.float32(1.0)
    clip = np.float32(GRAD_CLIP)
    nblocks = order.shape[0]
    for s in prange(shards):
        cost = 0.0
        done = 0
        for o in range(nblocks * s // shards, nblocks * (s + 1) // shards):
            lo = order[o] * block
            hi = min(lo + block, n)
            for k in range(lo, hi):
                x = xs[k]
                logx = np.float32(np.log(x))
                weight = np.float32(1.0)
                if x < xm:
                    weight = np.float32((x / xm) ** al)
                w = params[pairs[k, 0]]
                c = params[vocab + pairs[k, 1]]
                # Separate views with indices from range() let LLVM drop the negative-index
                # wrap-around and vectorize these loops.
                gw = w[half:]
                gc = c[half:]
                diff = np.float32(0.0)
                for d in range(dim):
                    diff += w[d] * c[d]
                diff += w[dim] + c[dim] - logx
                if not np.isfinite(diff):
                    continue
                fdiff = weight * diff
                cost += 0.5 * fdiff * diff
                done += 1
                for d in range(dim):
                    t1 = min(max(fdiff * c[d], -clip), clip) * eta
                    t2 = min(max(fdiff * w[d], -clip), clip) * eta
                    w[d] -= t1 / np.sqrt(one + gw[d])
                    c[d] -= t2 / np.sqrt(one + gc[d])
                    gw[d] += t1 * t1
                    gc[d] += t2 * t2
                # The biases take whole AdaGrad steps, without eta, as Stanford's current glove.c
                # does. Their sums are written through the rows, not the gw/gc views: numba's
                # parallel lowering silently dropped those two stores (see the test
                # test_one_epoch_follows_stanfords_update).
                w[dim] -= fdiff / np.sqrt(one + gw[dim])
                c[dim] -= fdiff / np.sqrt(one + gc[dim])
                w[half + dim] += fdiff * fdiff
                c[half + dim] += fdiff * fdiff
        costs[s] = cost
        updates[s] = done
