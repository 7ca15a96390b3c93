"""GloVe: co-occurrence counting in bounded memory and an AdaGrad solver, in numba kernels.

It follows Stanford's GloVe (``cooccur``, ``shuffle``, ``glove``): a symmetric window weighted 1/d,
the weighting f(x) = min(1, (x / x_max) ** alpha), AdaGrad with squared-gradient sums starting at 1
(vector gradients clipped to +-100 and scaled by the learning rate, biases stepping without it, as in
Stanford's current glove.c), vectors initialised uniformly in [-0.5, 0.5] / dim, the entries
shuffled, threads updating shared parameters without locks, and word plus context vectors summed in
the saved model. Parameters are float32 (Stanford's are double), which halves the memory traffic of
the solver. The training state keeps the counts of every pair (``carry``), so that a continued model
fits the counts of all the text it has seen.
"""

from __future__ import annotations

import math
import shutil
import time
from collections import Counter
from pathlib import Path

import numpy as np

from embcli.errors import TrainingError
from embcli.training.common import Trained
from embcli.training.glove import carry
from embcli.training.options import ProgressFn, TrainOptions
from embcli.training.prepare import Prepared
from embcli.training.resume import Start, choose_vocabulary, state_arrays

# Entries visited together: a new block order each epoch costs nothing and reads stay sequential.
BLOCK = 4096


def init_params(vocab: int, dim: int, seed: int) -> np.ndarray:
    """Word and context rows with vector, bias and their AdaGrad sums side by side (see ``train_epoch``).

    The AdaGrad sums start at 1 as Stanford's do, but are stored less that 1, hence zeros.
    """
    half = -(-(dim + 1) // 16) * 16
    rng = np.random.default_rng(seed)
    params = np.zeros((2 * vocab, 2 * half), dtype=np.float32)
    params[:, : dim + 1] = (rng.random((2 * vocab, dim + 1), dtype=np.float32) - 0.5) / dim
    return params


def start_params(params: np.ndarray, dim: int, start: Start) -> None:
    """Overwrite the fresh rows of ``params`` with those ``start`` knows.

    Continued: the saved word and context rows, biases and AdaGrad sums (its words' then its
    contexts'); pretrained: word and context rows each half the pretrained vector (they are summed).
    """
    vocab = params.shape[0] // 2
    half = params.shape[1] // 2
    words, contexts = params[:vocab], params[vocab:]
    if start.pretrained:
        start.fill("input", words[:, :dim], scale=0.5)
        start.fill("input", contexts[:, :dim], scale=0.5)
        return
    saved = len(start.saved_words)
    start.fill("input", words[:, :dim])
    start.fill("output", contexts[:, :dim])
    for part, offset in ((words, 0), (contexts, saved)):
        start.fill("biases", part[:, dim], offset=offset)
        start.fill("gradsq", part[:, half : half + dim + 1], offset=offset)


def state_of(params: np.ndarray, dim: int) -> dict:
    """The training state of ``params`` (see ``embcli.folder.layout.STATE_FILES``)."""
    vocab = params.shape[0] // 2
    half = params.shape[1] // 2
    return {"input": params[:vocab, :dim], "output": params[vocab:, :dim], "biases": params[:, dim],
            "gradsq": params[:, half : half + dim + 1]}


def fit(pairs, xs, params, vocab: int, options: TrainOptions, on_progress: ProgressFn | None, tokens: int) -> list[float]:
    """Run the AdaGrad epochs over shuffled entries; return the cost of each epoch.

    The entries are shuffled once; each epoch then visits blocks of them in a new random order.
    """
    import numba

    from embcli.training.glove.kernels import train_epoch

    shards = options.threads
    blocks = -(-xs.shape[0] // BLOCK)
    rng = np.random.default_rng(options.seed)
    costs = np.zeros(shards, dtype=np.float64)
    updates = np.zeros(shards, dtype=np.int64)
    history: list[float] = []
    started = time.perf_counter()
    before = numba.get_num_threads()
    numba.set_num_threads(min(options.threads, numba.config.NUMBA_NUM_THREADS))
    try:
        if on_progress is not None:
            on_progress("train", 0, options.epochs, {"words_per_s": 0.0})
        for epoch in range(options.epochs):
            order = rng.permutation(blocks)
            train_epoch(
                pairs, xs, params, vocab, options.dim, options.x_max, options.alpha, options.lr, order, BLOCK,
                shards, costs, updates,
            )
            cost = float(costs.sum()) / max(int(updates.sum()), 1)
            if not math.isfinite(cost) or int(updates.sum()) == 0:
                raise TrainingError(
                    f"GloVe diverged in epoch {epoch + 1} (cost {cost}): lower --lr (now {options.lr:g})"
                )
            history.append(cost)
            if on_progress is not None:
                spent = time.perf_counter() - started
                on_progress(
                    "train",
                    epoch + 1,
                    options.epochs,
                    {"cost": cost, "words_per_s": tokens * (epoch + 1) / spent if spent > 0 else 0.0},
                )
    finally:
        numba.set_num_threads(before)
    return history


def train_glove(
    prepared: Prepared, options: TrainOptions, folder: Path, on_progress: ProgressFn | None = None,
    start: Start | None = None,
) -> Trained:
    """Count co-occurrences of the tokenized corpus and fit GloVe vectors; temporary files go in ``folder``.

    The tokenized corpus file is deleted once counted. Everything this function writes is removed
    before it returns or raises. With ``start`` (``resume``) the vocabulary and the parameters of
    known words come from a saved model: AdaGrad goes on from its sums over the new text's
    co-occurrences, to which the saved model's counts of the same pairs are added (``carry``).
    """
    from embcli.training.glove.cooccur import count_cooccurrences

    started = time.perf_counter()
    words, counts, left_out = choose_vocabulary(prepared.counts, options, start)
    work = Path(folder) / "glove.tmp"
    work.mkdir()
    try:
        co = count_cooccurrences(
            prepared.path, words, prepared.counts.keys(), options.window, options.memory, work, prepared.stats.tokens
        )
        prepared.path.unlink(missing_ok=True)
        return fit_counted(co, words, counts, options, on_progress, prepared.stats.tokens, started,
                           start=start, left_out=left_out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def carry_saved(pairs, xs, start: Start | None):
    """``--continue`` of a model that kept its co-occurrences: add their counts to the new text's
    entries (``carry``), noted in ``start.carried``; the saved pairs, or None."""
    if start is None or start.pretrained or "cooc_pairs" not in start.arrays:
        return None
    saved = carry.saved_entries(start.arrays["cooc_pairs"], start.arrays["cooc_x"], start.source)
    matched = carry.add_saved(pairs, xs, saved)
    start.carried = {"saved_pairs": saved.pairs, "new_entries_with_saved_counts": matched,
                     "saved_pairs_in_new_text": int(saved.used.sum())}
    return saved


def fit_counted(
    co, words: list[str], counts: np.ndarray, options: TrainOptions, on_progress: ProgressFn | None, tokens: int,
    started: float, info: dict | None = None, start: Start | None = None, left_out: Counter | None = None,
    keep_cooccurrences: bool = True,
) -> Trained:
    """Fit GloVe vectors to counted co-occurrences (``cooccur.Cooccurrences``, whoever counted them);
    ``start`` and ``left_out`` as ``resume.choose_vocabulary`` gives them. The state returned holds
    the co-occurrences (``carry``) unless ``keep_cooccurrences`` is false."""
    from embcli.training.glove.kernels import shuffle_entries

    counted = time.perf_counter()
    if co.entries == 0:
        raise TrainingError(
            "no two vocabulary words share a line, so there is nothing to fit:"
            " use a corpus with several words a line, or a lower --min-count"
        )
    pairs, xs = co.open()
    saved = carry_saved(pairs, xs, start)
    shuffle_entries(pairs, xs, options.seed)
    params = init_params(len(words), options.dim, options.seed)
    if start is not None:
        start_params(params, options.dim, start)
    costs = fit(pairs, xs, params, len(words), options, on_progress, tokens)
    cooccurrences = carry.state_entries(pairs, xs, saved) if keep_cooccurrences else {}
    del pairs, xs, saved
    vocab = len(words)
    vectors = params[:vocab, : options.dim] + params[vocab:, : options.dim]
    spent = time.perf_counter() - started
    info = {
        "entries": co.entries,
        "spilled_runs": co.runs,
        "dense_entries": co.dense_entries,
        "table_slots": co.table_slots,
        "count_seconds": round(counted - started, 3),
        **(info or {}),
        "costs": [round(c, 6) for c in costs],
    }
    wps = tokens * options.epochs / spent if spent > 0 else 0.0
    state = {**state_of(params, options.dim), **state_arrays(left_out if left_out is not None else Counter()),
             **cooccurrences}
    return Trained(words, np.ascontiguousarray(vectors, dtype=np.float32), counts, wps, meta={"glove": info},
                   state=state)
