"""Word2Vec (skip-gram and CBOW, negative sampling) trained by emb's own numba kernels.

The algorithm is word2vec.c's and gensim's (see ``kernels``), so that models compare with gensim's:
input rows start uniform in [-1/dim, 1/dim) as in gensim 4, output rows at 0; words are subsampled with
gensim's formula over the tokens of the vocabulary; the learning rate falls linearly from ``--lr``
to ``--min-lr`` over all the epochs; lines are sentences and no window crosses them.

The tokenized corpus is converted once into a temporary file of int32 word ids (rare words dropped,
a line-end id after every line), shared with the FastText trainer. Each thread reads its own slice
of that file, whole lines at a time, once per epoch, as word2vec.c's threads do, and all update the
shared matrices without locks. With ``--threads 1`` a seed gives the same model every time.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from embcli.training.common import Trained, load_id_kernels, write_ids
from embcli.training.hogwild import stream_threads
from embcli.training.options import ProgressFn, TrainOptions
from embcli.training.prepare import Prepared
from embcli.training.resident import release_compiler_pages
from embcli.training.resume import Start, settle_vocabulary


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """gensim's and word2vec.c's chance of keeping each word: (sqrt(c / T) + 1) * T / c, T = sample * total.

    The total is over the words of the vocabulary only; 1 everywhere without sampling.
    """
    if sample <= 0:
        return np.ones(len(counts), dtype=np.float32)
    threshold = sample * float(counts.sum())
    c = counts.astype(np.float64)
    return np.minimum((np.sqrt(c / threshold) + 1.0) * threshold / c, 1.0).astype(np.float32)


def train_word2vec(
    prepared: Prepared, options: TrainOptions, workdir: Path, on_progress: ProgressFn | None = None,
    start: Start | None = None,
) -> Trained:
    """Train Word2Vec with negative sampling on the tokenized corpus; temporary files go in ``workdir``.

    The tokenized text file is deleted once converted to word ids. With ``start``, the vocabulary
    and the rows of known words come from a saved model (``resume``). The state returned holds the
    output rows and the words left out. ``prepared.counts`` is emptied once the vocabulary is chosen
    (its words are most of the memory held before the matrices).
    """
    opts = options
    started = time.perf_counter()
    words, counts, rare = settle_vocabulary(prepared.counts, opts, start)
    vocab = len(words)
    from embcli.training.fasttext import kernels as ft_kernels
    from embcli.training.word2vec import kernels

    sigmoid = kernels.sigmoid_table()
    table = kernels.alias_table(counts.astype(np.float64) ** opts.ns_exponent)
    keep = keep_probabilities(counts, opts.sample)
    ids_path = Path(workdir) / "corpus.ids"
    rng = np.random.SeedSequence(opts.seed).generate_state(opts.threads, dtype=np.uint64)
    cbow = opts.arch == "cbow"

    def span(buf, a, b, o: TrainOptions, before, total, t):
        return kernels.train_span(buf, a, b, keep, table, sigmoid, vocab, cbow, o.window, o.negative,
                                  o.lr, o.min_lr, before, total, rng, t)

    # Every kernel the training runs is loaded before the corpus is converted and the matrices exist
    # (an empty call loads one and changes nothing), and LLVM's code pages are then given back.
    nothing = np.empty((0, opts.dim), dtype=np.float32)
    load_id_kernels()
    ft_kernels.init_uniform(nothing, 1.0, 0)
    span(np.empty(0, dtype=np.int32), nothing, nothing, opts, 0.0, 1.0, 0)
    release_compiler_pages()
    try:
        n_ids = write_ids(prepared.path, words, ids_path)
        prepared.path.unlink(missing_ok=True)
        wi = np.empty((vocab, opts.dim), dtype=np.float32)
        ft_kernels.init_uniform(wi, 1.0 / opts.dim, opts.seed)
        wo = np.zeros((vocab, opts.dim), dtype=np.float32)
        if start is not None:
            start.fill("input", wi)
            if not start.pretrained:
                start.fill("output", wo)

        def run(o: TrainOptions, progress: ProgressFn | None) -> None:
            total = float(o.epochs * n_ids)

            def step(buf, before, t):
                return span(buf, wi, wo, o, before, total, t)

            stream_threads(ids_path, n_ids, o.threads, o.epochs, total, step, progress, passes=True, line_end=vocab)

        continued = start is not None and not start.pretrained
        if continued:
            weight = start.new_weight(prepared.stats.tokens)
        run(opts, start.train_progress(opts, on_progress) if continued else on_progress)
        if continued:
            start.average("input", wi, weight)
            start.average("output", wo, weight)
            if start.heals():
                run(*start.heal(opts, on_progress))
    finally:
        ids_path.unlink(missing_ok=True)
    spent = time.perf_counter() - started
    wps = prepared.stats.tokens * opts.epochs / spent if spent > 0 else 0.0
    return Trained(words, wi, counts, wps, state={"output": wo, **rare})
